"""The datasets under a DynamicTable, read for chosen rows only.

A column's values sit in a VectorData dataset; a ragged column also has a VectorIndex of
exclusive end offsets (often uint8/uint16) per index level. :class:`VectorReader` reads slices
of such a dataset decoded to display values (strings, object references as target paths, enum
labels, compound records as tuples), and takes scattered positions or many ranges in few HDF5
reads; :func:`index_bounds` turns rows into the [start, end) of their ragged cells. The table
layer (:mod:`ndviewer.core.nwb.tables`) builds columns and tables on these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import h5py
import numpy as np

from ndviewer.core.errors import NdviewerError
from ndviewer.core.model.values import decode_text

#: A gap of up to this many elements between two wanted ranges is read rather than skipped:
#: one HDF5 read of a few extra values is cheaper than a second read call.
_MERGE_GAP = 4096


def as_rows(rows: Sequence[int] | np.ndarray | slice | None, n_rows: int, what: str) -> np.ndarray:
    """Normalise a row selection to an int64 array, refusing rows the table does not have."""
    if rows is None:
        return np.arange(n_rows, dtype=np.int64)
    if isinstance(rows, slice):
        return np.arange(*rows.indices(n_rows), dtype=np.int64)
    array = np.asarray(rows, dtype=np.int64).reshape(-1)
    if array.size and (array.min() < 0 or array.max() >= n_rows):
        bad = int(array.min() if array.min() < 0 else array.max())
        raise NdviewerError(f"Row {bad} does not exist in {what}, which has {n_rows} rows.")
    return array


def _spans(starts: np.ndarray, ends: np.ndarray, gap: int = _MERGE_GAP) -> list[tuple[int, int]]:
    """Merge [start, end) ranges whose gaps are small into as few read spans as possible."""
    order = np.argsort(starts, kind="stable")
    spans: list[tuple[int, int]] = []
    for s, e in zip(starts[order].tolist(), ends[order].tolist(), strict=True):
        if e <= s:
            continue
        if spans and s - spans[-1][1] <= gap:
            spans[-1] = (spans[-1][0], max(spans[-1][1], e))
        else:
            spans.append((s, e))
    return spans


class VectorReader:
    """Reads slices of one dataset along its first axis, decoded to display values.

    Strings become ``str``, object references become target paths (read as raw addresses so
    that each distinct target is looked up once), enum codes become their labels and compound
    records become tuples with those same decodings.
    """

    def __init__(self, dataset: h5py.Dataset, labels: np.ndarray | None = None) -> None:
        self.dataset = dataset
        self.labels = labels
        dtype = dataset.dtype
        self.is_string = h5py.check_string_dtype(dtype) is not None
        self.is_reference = h5py.check_ref_dtype(dtype) is not None
        self.hdf5_enum = h5py.check_enum_dtype(dtype) if dtype.kind != "b" else None
        self.is_compound = dtype.names is not None
        self._plain_numbers = (
            dtype.kind in "biuf" and labels is None and not self.hdf5_enum and dataset.ndim == 1
        )
        string = h5py.check_string_dtype(dtype)
        self._plain_text = (
            string is not None and string.length is None and labels is None and dataset.ndim == 1
        )
        self._paths: dict[int, str] = {}

    def __len__(self) -> int:
        return 0 if self.dataset.shape is None or not self.dataset.shape else self.dataset.shape[0]

    def read(self, lo: int, hi: int) -> np.ndarray:
        """Decoded values of elements [lo, hi)."""
        hi = min(hi, len(self))
        lo = min(lo, hi)
        if self.is_reference:
            return self._read_references(lo, hi)
        if self.is_string:
            return self.dataset.asstr(errors="replace")[lo:hi]
        raw = self.dataset[lo:hi]
        if self.is_compound:
            return self._decode_compound(raw)
        if self.labels is not None:
            return self._decode_enum(raw)
        if self.hdf5_enum:
            names = {code: name for name, code in self.hdf5_enum.items()}
            out = np.empty(raw.shape, dtype=object)
            for position, code in np.ndenumerate(raw):
                out[position] = names.get(int(code), str(code))
            return out
        return raw

    def take(self, positions: np.ndarray) -> np.ndarray:
        """Decoded values at ``positions`` (any order, repeats allowed), with few reads."""
        if positions.size == 0:
            return self.read(0, 0)
        uniq, inverse = np.unique(positions, return_inverse=True)
        spans = _spans(uniq, uniq + 1)
        if len(spans) > 8 and self._plain_numbers:
            # scattered points: one HDF5 point selection instead of a read per span
            return _read_points(self.dataset, uniq)[inverse]
        if len(spans) > 8 and self._plain_text:
            # the same for text (a sorted view's rows: 128 strings 29 -> ~1 ms)
            raw = _read_vlen_fixed(self.dataset, 0, 0, uniq)
            if raw is not None:
                text = np.array([v.decode("utf-8", "replace") for v in raw.tolist()], dtype=object)
                return text[inverse]
        parts = [self.read(lo, hi) for lo, hi in spans]
        values = parts[0] if len(parts) == 1 else np.concatenate(parts)
        # Where each wanted position sits inside the concatenated spans.
        span_starts = np.array([lo for lo, _ in spans], dtype=np.int64)
        span_offsets = np.cumsum([0] + [hi - lo for lo, hi in spans[:-1]])
        which = np.searchsorted(span_starts, uniq, side="right") - 1
        located = uniq - span_starts[which] + span_offsets[which]
        return values[located[inverse]]

    def read_ranges(self, starts: np.ndarray, ends: np.ndarray) -> list[np.ndarray]:
        """One decoded array per [start, end) range, reading merged spans once each."""
        starts = np.asarray(starts, dtype=np.int64)
        ends = np.asarray(ends, dtype=np.int64)
        out: list[np.ndarray] = [self.read(0, 0)] * len(starts)
        if not len(starts):
            return out
        spans = _spans(starts, ends)
        span_of = (
            np.searchsorted(np.array([s for s, _ in spans], dtype=np.int64), starts, side="right")
            - 1
        )
        cache: dict[int, np.ndarray] = {}
        for i, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            if e <= s:
                continue
            k = int(span_of[i])
            if k not in cache:
                cache[k] = self.read(*spans[k])
            base = spans[k][0]
            out[i] = cache[k][s - base : e - base]
        return out

    # -- decoders ----------------------------------------------------------------------------
    def _path_of(self, address: int, position: int) -> str:
        path = self._paths.get(address)
        if path is None:
            ref = self.dataset[position]
            path = reference_path(self.dataset.file, ref)
            self._paths[address] = path
        return path

    def _read_references(self, lo: int, hi: int) -> np.ndarray:
        out = np.empty(hi - lo, dtype=object)
        if hi <= lo:
            return out
        try:
            addresses = _read_reference_addresses(self.dataset, lo, hi)
        except (TypeError, ValueError, OSError):  # new-style references: decode one by one
            for i, ref in enumerate(self.dataset[lo:hi]):
                out[i] = reference_path(self.dataset.file, ref)
            return out
        for i, address in enumerate(addresses.tolist()):
            out[i] = "" if address == 0 else self._path_of(address, lo + i)
        return out

    def _decode_compound(self, raw: np.ndarray) -> np.ndarray:
        dtype = raw.dtype
        decoders = []
        for name in dtype.names:
            field_dtype = dtype.fields[name][0]
            if h5py.check_ref_dtype(field_dtype) is not None:
                decoders.append(lambda v: reference_path(self.dataset.file, v))
            elif h5py.check_string_dtype(field_dtype) is not None or field_dtype.kind == "S":
                decoders.append(lambda v: decode_text(v) if isinstance(v, bytes) else v)
            else:
                decoders.append(None)
        out = np.empty(raw.shape[0], dtype=object)
        for i, record in enumerate(raw.tolist()):
            out[i] = tuple(
                value if decode is None else decode(value)
                for value, decode in zip(record, decoders, strict=True)
            )
        return out

    def _decode_enum(self, raw: np.ndarray) -> np.ndarray:
        codes = np.asarray(raw, dtype=np.int64)
        out = np.empty(codes.shape, dtype=object)
        valid = (codes >= 0) & (codes < len(self.labels))
        out[valid] = self.labels[codes[valid]]
        out[~valid] = None
        return out


def reference_path(h5file: h5py.File, ref: Any) -> str:
    """Target path of an object reference; '' for a null or dangling one."""
    if not ref:
        return ""
    try:
        name = h5file[ref].name
    except (KeyError, ValueError, OSError):
        return ""
    return name or ""


def _read_points(dataset: h5py.Dataset, positions: np.ndarray) -> np.ndarray:
    """Values of a 1-D dataset at sorted unique ``positions`` in one HDF5 read."""
    out = np.empty(positions.size, dtype=dataset.dtype)
    file_space = dataset.id.get_space()
    file_space.select_elements(positions.astype(np.uint64).reshape(-1, 1))
    memory_space = h5py.h5s.create_simple((positions.size,))
    dataset.id.read(memory_space, file_space, out)
    return out


def _read_reference_addresses(dataset: h5py.Dataset, lo: int, hi: int) -> np.ndarray:
    """The raw object addresses of references [lo, hi): hashable, unlike ``h5py.Reference``."""
    file_type = dataset.id.get_type()
    if file_type.get_size() != 8 or dataset.ndim != 1:
        raise TypeError("not an old-style 1-D object reference dataset")
    out = np.empty(hi - lo, dtype=np.uint64)
    file_space = dataset.id.get_space()
    file_space.select_hyperslab((lo,), (hi - lo,))
    memory_space = h5py.h5s.create_simple((hi - lo,))
    dataset.id.read(memory_space, file_space, out, mtype=file_type)
    return out


#: First width tried for fixed-width text reads; a block with a string this long is re-read wider.
_TEXT_WIDTH = 32
#: Beyond this width a block of text is read as Python strings instead (long free text).
_TEXT_MAX_WIDTH = 4096


def read_text_bytes(dataset: h5py.Dataset, lo: int, hi: int) -> np.ndarray:
    """Strings [lo, hi) of a 1-D string dataset as one fixed-width bytes array, as stored
    (UTF-8 or ASCII), the width that of the longest.

    No Python object per string: four times faster than ``asstr()`` and a quarter of a
    unicode array's memory. Byte order of UTF-8 is code point order, so these sort as the
    text does. Variable-length strings are read as C strings by HDF5 itself (see
    :func:`_read_vlen_fixed`); fixed-length ones as they are.
    """
    hi = min(hi, 0 if not dataset.shape else dataset.shape[0])
    n = max(0, hi - lo)
    if not n:
        return np.zeros(0, dtype="S1")
    string = h5py.check_string_dtype(dataset.dtype)
    if string is not None and string.length is None:  # variable-length strings
        out = _read_vlen_fixed(dataset, lo, hi)
        if out is not None:
            return out
    else:
        out = _read_fixed(dataset, lo, hi)
        if out is not None:
            return out
    values = dataset.asstr(errors="replace")[lo:hi]
    return np.array([v.encode("utf-8") for v in values] or [b""], dtype=bytes)[:n]


def _fixed_type(width: int, cset: int) -> h5py.h5t.TypeID:
    memory_type = h5py.h5t.C_S1.copy()
    memory_type.set_size(width)
    memory_type.set_strpad(h5py.h5t.STR_NULLPAD)
    memory_type.set_cset(cset)
    return memory_type


def _read_fixed(dataset: h5py.Dataset, lo: int, hi: int) -> np.ndarray | None:
    """Fixed-length strings [lo, hi) converted by HDF5 to NUL-padded ones; None when this
    HDF5 has no conversion path (the caller reads Python strings)."""
    n = hi - lo
    width = _TEXT_WIDTH
    while width <= _TEXT_MAX_WIDTH:
        try:
            memory_type = _fixed_type(width, dataset.id.get_type().get_cset())
            out = np.zeros(n, dtype=f"S{width}")
            file_space = dataset.id.get_space()
            file_space.select_hyperslab((lo,), (n,))
            dataset.id.read(h5py.h5s.create_simple((n,)), file_space, out, mtype=memory_type)
        except (TypeError, ValueError, RuntimeError, OSError, AttributeError):
            return None
        fitted = _fitted(out, width)
        if fitted is not None:
            return fitted
        width *= 4
    return None


def _fitted(out: np.ndarray, width: int) -> np.ndarray | None:
    """``out`` narrowed to its longest string, or None when a string may have been cut at
    ``width`` (the caller reads again, wider)."""
    longest = int(np.strings.str_len(out).max())
    return out.astype(f"S{max(1, longest)}") if longest < width else None


class _Hdf5:
    """``H5Dread`` and ``H5Treclaim`` of the HDF5 library h5py runs on, called directly.

    Why: h5py reads variable-length strings into a buffer of C strings and converts that;
    when the memory type is not Python objects, the C strings of that buffer are never
    freed (~30 MB per 10^6 strings, for the life of the process; h5py 3.16), nor are they by
    its vlen -> fixed-width converter (h5py 3; h5py 2 freed them there, so it is not used
    with h5py 2). Reading the C strings ourselves lets us free them with ``H5Treclaim``
    once converted.
    """

    _loaded: tuple[Any, Any] | None | bool = False

    @classmethod
    def calls(cls) -> tuple[Any, Any] | None:
        if cls._loaded is False:
            cls._loaded = cls._load()
        return cls._loaded  # type: ignore[return-value]

    @staticmethod
    def _load() -> tuple[Any, Any] | None:
        import ctypes

        from ndviewer.core.hdf5_library import hdf5_library_candidates

        if h5py.version.version_tuple[0] < 3:
            return None
        for path in hdf5_library_candidates():
            try:
                lib = ctypes.CDLL(path)
                read, reclaim = lib.H5Dread, lib.H5Treclaim
            except (OSError, AttributeError):
                continue
            hid = ctypes.c_int64
            read.argtypes = [hid, hid, hid, hid, hid, ctypes.c_void_p]
            reclaim.argtypes = [hid, hid, hid, ctypes.c_void_p]
            read.restype = reclaim.restype = ctypes.c_int
            return read, reclaim
        return None


def _read_vlen_fixed(
    dataset: h5py.Dataset, lo: int, hi: int, positions: np.ndarray | None = None
) -> np.ndarray | None:
    """Variable-length strings [lo, hi) (or at sorted unique ``positions``, in one read) as
    a fixed-width bytes array; None when this HDF5 cannot be called directly (the caller
    reads Python strings instead).

    HDF5 reads the strings as C strings (one pointer each), h5py's converter copies them
    into a fixed-width array (wider again from the same pointers when one was cut), and
    ``H5Treclaim`` frees them.
    """
    calls = _Hdf5.calls()
    if calls is None or not isinstance(getattr(dataset, "id", None), h5py.h5d.DatasetID):
        return None
    from h5py._objects import phil  # h5py's lock: HDF5 is not thread-safe

    h5dread, h5treclaim = calls
    n = hi - lo if positions is None else positions.size
    try:
        cset = dataset.id.get_type().get_cset()
        vlen_type = h5py.h5t.C_S1.copy()
        vlen_type.set_size(h5py.h5t.VARIABLE)
        vlen_type.set_cset(cset)
        pointers = np.zeros(n, dtype=np.uint64)
        memory_space = h5py.h5s.create_simple((n,))
        file_space = dataset.id.get_space()
        if positions is None:
            file_space.select_hyperslab((lo,), (n,))
        else:
            file_space.select_elements(positions.astype(np.uint64).reshape(-1, 1))
    except (TypeError, ValueError, RuntimeError, OSError, AttributeError):
        return None
    with phil:
        if (
            h5dread(
                dataset.id.id, vlen_type.id, memory_space.id, file_space.id, 0, pointers.ctypes.data
            )
            < 0
        ):
            raise OSError(f"HDF5 could not read strings {lo}..{hi} of {dataset.name}")
        try:
            width = _TEXT_WIDTH
            while width <= _TEXT_MAX_WIDTH:
                fixed_type = _fixed_type(width, cset)
                buffer = np.zeros(n * max(width, 8), dtype=np.uint8)
                buffer[: n * 8] = pointers.view(np.uint8)
                h5py.h5t.convert(vlen_type, fixed_type, n, buffer)
                out = buffer[: n * width].view(f"S{width}")
                del buffer
                fitted = _fitted(out, width)
                if fitted is not None:
                    return fitted
                width *= 4
                del out
            return None  # very long text: as Python strings
        finally:
            h5treclaim(vlen_type.id, memory_space.id, 0, pointers.ctypes.data)


def read_index(dataset: h5py.Dataset, lo: int, hi: int) -> np.ndarray:
    """Index offsets as int64 (they are stored as uint8/uint16/… and must not wrap)."""
    return np.asarray(dataset[lo:hi], dtype=np.int64)


def index_bounds(dataset: h5py.Dataset, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the given rows of a VectorIndex."""
    if rows.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    source = IndexReader(dataset)
    ends = source.take(rows)
    starts = np.zeros(rows.size, dtype=np.int64)
    nonzero = rows > 0
    if nonzero.any():
        starts[nonzero] = source.take(rows[nonzero] - 1)
    return starts, ends


class IndexReader(VectorReader):
    """A :class:`VectorReader` over a VectorIndex: offsets come back as int64."""

    def read(self, lo: int, hi: int) -> np.ndarray:
        hi = min(hi, len(self))
        return read_index(self.dataset, min(lo, hi), hi)
