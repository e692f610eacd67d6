"""Zarr-backed NWB (``.nwb.zarr`` folders and zip stores written by hdmf-zarr), read through an
HDF5 mirror so that the whole model (tree, index, panels, ``info``, checks) works unchanged.

Why a mirror rather than an h5py-like adapter: the model walks files with HDF5's own
``H5Ovisit`` and attribute calls (that is what makes the index fast) and checks
``isinstance(obj, h5py.Dataset)`` in ~200 places; an adapter would have to imitate all of it.
Instead the store is transcribed once into an HDF5 file in the user cache folder
(``<cache>/zarr/``), rebuilt only when the store changes (its files' sizes and mtimes):

- groups, arrays and attributes as they are (hdmf-zarr's own keys dropped);
- ``zarr_link`` entries as soft links (``source`` ``"."``) or external links;
- object references (attributes ``{"zarr_dtype": "object", "value": {"path": ...}}`` and
  reference arrays, which hdmf-zarr pickles) as HDF5 object references — the pickles are read
  by a restricted unpickler that only builds numpy arrays and reference records, never runs
  code from the file;
- scalar datasets (stored as one-element arrays, ``zarr_dtype: scalar``) as HDF5 scalars;
- ``/specifications`` JSON as the same strings pynwb writes into HDF5.

Cost: one uncompressed copy of the store's data, decoded and rewritten chunk by chunk: a
182 MB Blosc store of 384 channels × 10 s int16 took 1.07 s to mirror and open, 0.03 s to reopen.
Mirrors beyond ``NDVIEWER_ZARR_CACHE_MB`` (20 GB) are evicted least recently opened first. ``zarr`` is the optional extra ``ndviewer[zarr]``: numcodecs is
a large compiled package most users (HDF5 NWB) never need, so the error says how to add it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pickle
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ndviewer.core import cache
from ndviewer.core.errors import FileOpenError

MIRROR_FORMAT = "zarr-mirror-1"
_HIDDEN_ATTRS = {"zarr_link", "_ARRAY_DIMENSIONS", "zarr_dtype", ".specloc"}
_STRING_DTYPE = h5py.string_dtype()
_REF_DTYPE = h5py.ref_dtype
_COPY_BYTES = 64 << 20
DEFAULT_MIRROR_LIMIT = (
    20 << 30
)  # NDVIEWER_ZARR_CACHE_MB  # decoded bytes per copy step of a large array


def is_zarr(location: object) -> bool:
    """A Zarr store: a folder with ``.zgroup``/``zarr.json``, or a zip holding ``.zgroup``."""
    if not isinstance(location, (str, os.PathLike)):
        return False
    path = Path(location)
    if path.is_dir():
        return (path / ".zgroup").exists() or (path / "zarr.json").exists()
    if (
        path.is_file()
        and path.suffix.lower() in (".zip", ".zarr")
        or str(path).endswith(".nwb.zarr.zip")
    ):
        try:
            with zipfile.ZipFile(path) as archive:
                return ".zgroup" in archive.namelist()
        except (OSError, zipfile.BadZipFile):
            return False
    return False


def _version_of(path: Path) -> str:
    """What changes when the store does: every file's name, size and mtime (hashed)."""
    digest = hashlib.sha1()
    if path.is_file():
        stat = path.stat()
        digest.update(f"{stat.st_size}|{stat.st_mtime_ns}".encode())
        return digest.hexdigest()
    for folder, folders, files in os.walk(path):
        folders.sort()
        for name in sorted(files):
            stat = os.stat(os.path.join(folder, name))
            digest.update(f"{folder}/{name}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def mirror_path(path: Path) -> Path:
    key = hashlib.sha1(os.fsencode(str(path.resolve()))).hexdigest()[:24]
    return cache.cache_dir() / "zarr" / f"{key}.h5"


def open_zarr_h5(location: str | os.PathLike) -> h5py.File:
    """The HDF5 mirror of a Zarr NWB store, built (or rebuilt after a change) on demand."""
    path = Path(location)
    try:
        import zarr  # noqa: F401
    except ImportError:
        raise FileOpenError(
            f"Cannot open {path}: it is a Zarr store, and reading Zarr needs the optional "
            "'zarr' package (pip install 'ndviewer[zarr]')."
        ) from None
    mirror = mirror_path(path)
    version = f"{MIRROR_FORMAT}|{_version_of(path)}"
    h5 = _open_mirror(mirror, version)
    if h5 is None:
        _evict_mirrors(mirror.parent, keep=mirror)
        try:
            _build_mirror(path, mirror, version)
        except (OSError, ValueError, KeyError, TypeError, pickle.UnpicklingError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise FileOpenError(
                f"Cannot open {path}: the Zarr store is unreadable ({reason})."
            ) from None
        h5 = _open_mirror(mirror, version)
        if h5 is None:
            raise FileOpenError(f"Cannot open {path}: its HDF5 mirror could not be written.")
    h5._ndviewer_zarr = path
    h5._ndviewer_zarr_version = version
    return h5


def mirror_limit_bytes() -> int:
    value = os.environ.get("NDVIEWER_ZARR_CACHE_MB")
    try:
        return int(float(value) * (1 << 20)) if value else DEFAULT_MIRROR_LIMIT
    except ValueError:
        return DEFAULT_MIRROR_LIMIT


def _evict_mirrors(folder: Path, keep: Path) -> None:
    """Delete the least recently opened mirrors beyond the limit (any can be rebuilt)."""
    try:
        mirrors = sorted(
            (p.stat().st_mtime, p.stat().st_size, p) for p in folder.glob("*.h5") if p != keep
        )
    except OSError:
        return
    total = sum(size for _, size, _ in mirrors)
    for _, size, path in mirrors:
        if total <= mirror_limit_bytes():
            break
        try:
            path.unlink()
            total -= size
        except OSError:
            continue


def _open_mirror(mirror: Path, version: str) -> h5py.File | None:
    try:
        h5 = h5py.File(mirror, "r", locking=False)
    except OSError:
        return None
    if h5.attrs.get("ndviewer_zarr_mirror") != version:
        h5.close()
        return None
    try:
        os.utime(mirror)  # its last use, for the eviction
    except OSError:
        pass
    return h5


def _open_group(path: Path):
    import zarr

    if path.is_file():
        store_class = getattr(zarr, "ZipStore", None) or zarr.storage.ZipStore
        store = store_class(str(path), mode="r")
        return zarr.open_group(store, mode="r"), store
    return zarr.open_group(str(path), mode="r"), None


def _build_mirror(path: Path, mirror: Path, version: str) -> None:
    with _safe_pickles():
        _transcribe(path, mirror, version)


def _transcribe(path: Path, mirror: Path, version: str) -> None:
    group, store = _open_group(path)
    mirror.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=mirror.parent, suffix=".h5.tmp")
    os.close(fd)
    try:
        with h5py.File(tmp, "w", libver="latest") as h5:
            pending_refs: list[tuple[Any, str, Any]] = []
            _copy_group(group, h5, pending_refs)
            _resolve_references(h5, pending_refs)
            if "specifications" in h5:
                h5.attrs[".specloc"] = h5["specifications"].ref
            h5.attrs["ndviewer_zarr_mirror"] = version
        os.replace(tmp, mirror)
    finally:
        if store is not None:
            store.close()
        if os.path.exists(tmp):
            os.unlink(tmp)


# -- groups, links and attributes -------------------------------------------------------------
def _copy_group(source, target: h5py.Group, pending: list) -> None:
    attrs = source.attrs.asdict()
    _copy_attrs(attrs, target, pending)
    for link in attrs.get("zarr_link", []) or []:
        name, link_path, link_source = link.get("name"), link.get("path", "/"), link.get("source")
        if not name or name in target:
            continue
        if link_source in (None, ".", ""):
            target[name] = h5py.SoftLink(link_path)
        else:
            target[name] = h5py.ExternalLink(str(link_source), link_path)
    for name, child in sorted(source.groups()):
        _copy_group(child, target.create_group(name), pending)
    for name, array in sorted(source.arrays()):
        _copy_array(array, target, name, pending)


def _is_reference(value: Any) -> bool:
    return isinstance(value, dict) and value.get("zarr_dtype") == "object" and "value" in value


def _copy_attrs(attrs: dict, target, pending: list) -> None:
    for key, value in attrs.items():
        if key in _HIDDEN_ATTRS:
            continue
        if _is_reference(value):
            pending.append(lambda t=target, k=key, r=value["value"]: _set_reference(t, k, r))
            continue
        try:
            target.attrs[key] = _attr_value(value)
        except (TypeError, ValueError):
            target.attrs[key] = json.dumps(value)


def _attr_value(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        if value and all(isinstance(v, str) for v in value):
            return np.array(value, dtype=_STRING_DTYPE)
        return np.asarray(value)
    if value is None:
        return h5py.Empty("f")
    return value


def _resolve_references(h5: h5py.File, pending: list) -> None:
    """Write what points at objects (attributes, reference arrays), now that all exist."""
    for write in pending:
        write()


def _set_reference(target, key: str, record: Any) -> None:
    ref_path = (record or {}).get("path")
    if ref_path and ref_path in target.file:
        target.attrs[key] = target.file[ref_path].ref
    else:
        target.attrs[key] = str(ref_path)


# -- arrays -----------------------------------------------------------------------------------
def _copy_array(array, target: h5py.Group, name: str, pending: list) -> None:
    attrs = array.attrs.asdict()
    kind = attrs.get("zarr_dtype")
    scalar = kind == "scalar" and array.shape in ((1,), ())
    if array.dtype.names:
        dataset = _copy_compound(array, target, name, pending)
    elif array.dtype == object:
        values = _read_objects(array)
        if scalar:
            values = values.reshape(-1)[:1]
        if kind == "object" or _holds_references(values):
            dataset = target.create_dataset(name, shape=values.shape, dtype=_REF_DTYPE)

            def write_refs(dataset=dataset, values=values) -> None:
                refs = [_reference(dataset.file, v) for v in values.reshape(-1)]
                dataset[...] = np.array(refs, dtype=_REF_DTYPE).reshape(values.shape)

            pending.append(write_refs)
        else:
            strings = np.array([_text(v) for v in values.reshape(-1)], dtype=_STRING_DTYPE)
            strings = strings.reshape(values.shape)
            dataset = target.create_dataset(name, data=strings[0] if scalar else strings)
    elif scalar:
        dataset = target.create_dataset(name, data=array[...].reshape(-1)[0])
    else:
        dataset = _copy_numbers(array, target, name)
    _copy_attrs(attrs, dataset, pending)


def _copy_compound(array, target: h5py.Group, name: str, pending: list) -> h5py.Dataset:
    """Rows of fields (e.g. TimeSeriesReferenceVectorData: idx_start, count, a reference)."""
    values = array[...]
    fields = []
    for field in array.dtype.names:
        dtype = array.dtype.fields[field][0]
        if dtype.kind == "O":
            sample = values[field].reshape(-1)[:1]
            is_ref = bool(sample.size) and isinstance(sample[0], dict)
            fields.append((field, _REF_DTYPE if is_ref else _STRING_DTYPE))
        else:
            fields.append((field, dtype))
    dataset = target.create_dataset(name, shape=values.shape, dtype=np.dtype(fields))

    def write_rows() -> None:  # after every object exists (the rows may point at any)
        out = np.empty(values.shape, dtype=np.dtype(fields))
        for field, dtype in fields:
            column = values[field]
            if dtype is _REF_DTYPE:
                out[field] = [_reference(dataset.file, v) for v in column.reshape(-1)]
            elif dtype is _STRING_DTYPE:
                out[field] = [_text(v) for v in column.reshape(-1)]
            else:
                out[field] = column
        dataset[...] = out

    pending.append(write_rows)
    return dataset


def _copy_numbers(array, target: h5py.Group, name: str) -> h5py.Dataset:
    shape, chunks = tuple(array.shape), tuple(array.chunks)
    if not shape or 0 in shape:
        return target.create_dataset(name, data=array[...])
    dataset = target.create_dataset(
        name, shape=shape, dtype=array.dtype, chunks=tuple(max(1, c) for c in chunks)
    )
    row_bytes = max(1, array.dtype.itemsize * int(np.prod(shape[1:], dtype=np.int64)))
    step = max(chunks[0], (_COPY_BYTES // row_bytes) // chunks[0] * chunks[0])
    for start in range(0, shape[0], step):
        stop = min(shape[0], start + step)
        dataset[start:stop] = array[start:stop]
    return dataset


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _holds_references(values: np.ndarray) -> bool:
    flat = values.reshape(-1)
    return bool(flat.size) and isinstance(flat[0], dict) and "path" in flat[0]


def _reference(h5: h5py.File, record: Any):
    path = record.get("path") if isinstance(record, dict) else None
    if path and path in h5:
        return h5[path].ref
    return h5py.Reference()  # a null reference: the target is outside this store


class _Reference(dict):
    """What hdmf-zarr pickles as ``hdmf_zarr.utils.ZarrReference`` (a dict of path, source…)."""


class _SafeUnpickler(pickle.Unpickler):
    """Builds numpy object arrays and reference records, and nothing else."""

    _ALLOWED = {
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        if module.startswith("hdmf_zarr") and name == "ZarrReference":
            return _Reference
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a Zarr store")


def _read_objects(array) -> np.ndarray:
    return np.asarray(array[...], dtype=object)


@contextlib.contextmanager
def _safe_pickles() -> Iterator[None]:
    """While the mirror is built, zarr's ``pickle`` codec is ours: fill values and chunks of
    pickled arrays go through the restricted unpickler (numcodecs refuses to unpickle at all
    by default, so hdmf-zarr's reference arrays would be unreadable)."""
    import numcodecs
    from numcodecs import registry

    class SafePickle(numcodecs.Pickle):
        def decode(self, buf, out=None):
            data = bytes(memoryview(buf).cast("B")) if not isinstance(buf, bytes) else buf
            decoded = _SafeUnpickler(io.BytesIO(data)).load()
            if out is not None:
                np.copyto(out, decoded)
                return out
            return decoded

    previous = registry.codec_registry.get("pickle")
    registry.codec_registry["pickle"] = SafePickle
    try:
        yield
    finally:
        if previous is not None:
            registry.codec_registry["pickle"] = previous
