"""Open NWB/HDF5 files read-only, turning every way that can fail into one readable sentence.

The viewer never holds a write handle: ``open_nwb`` opens with ``"r"`` and HDF5 file locking
off, so a file that another program is writing can still be browsed, and our own edit
transaction (which closes this handle first) is the only writer.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
from functools import cached_property
from pathlib import Path

import h5py

from ndviewer.core.cache import FileIdentity
from ndviewer.core.errors import FileOpenError
from ndviewer.core.hdf5_plugins import hdf5plugin_folder
from ndviewer.core.model.nodes import DAMAGE_ERRORS, Node, node_at
from ndviewer.core.model.storage import is_remote
from ndviewer.core.model.storage.locations import UrlPath, register
from ndviewer.core.model.storage.zarr_store import is_zarr, open_zarr_h5
from ndviewer.core.model.values import decode_value

__all__ = ["FileIdentity", "NwbFile", "check_readable", "open_h5", "open_nwb"]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_plugins_registered = False


def register_filters() -> None:
    """Make Blosc, Zstd, LZ4, bitshuffle… readable; harmless when hdf5plugin is absent."""
    global _plugins_registered
    if _plugins_registered:
        return
    _plugins_registered = True
    if _hdf5_searches_plugin_folder():
        return  # HDF5 loads each filter from there when a dataset first needs it
    with contextlib.suppress(ImportError):  # a dependency, but stay usable without it
        import hdf5plugin  # noqa: F401  (registers the filters on import)


def _hdf5_searches_plugin_folder() -> bool:
    """Whether HDF5's own plugin search path holds hdf5plugin's folder (set before h5py's
    import by ``hdf5_plugins.point_hdf5_at_plugins``)."""
    folder = hdf5plugin_folder()
    if folder is None:
        return False
    try:
        searched = {h5py.h5pl.get(i) for i in range(h5py.h5pl.size())}
    except (AttributeError, RuntimeError):  # h5py built without H5PL
        return False
    return os.fsencode(folder) in searched or str(folder) in searched


def _has_hdf5_signature(path: Path) -> bool:
    # The superblock may sit at 0, 512, 1024, 2048… (files with a user block).
    with path.open("rb") as handle:
        offset = 0
        size = path.stat().st_size
        while offset + 8 <= size:
            handle.seek(offset)
            if handle.read(8) == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


def check_readable(path: str | os.PathLike) -> Path:
    """Raise ``FileOpenError`` naming the file and the reason unless it looks like HDF5."""
    file_path = Path(path)
    name = str(file_path)
    if not file_path.exists():
        raise FileOpenError(f"Cannot open {name}: the file does not exist.")
    if file_path.is_dir():
        raise FileOpenError(f"Cannot open {name}: it is a folder, not a file.")
    try:
        size = file_path.stat().st_size
        if size == 0:
            raise FileOpenError(f"Cannot open {name}: the file is empty (0 bytes).")
        if not _has_hdf5_signature(file_path):
            raise FileOpenError(
                f"Cannot open {name}: it is not an HDF5 file (NWB files are HDF5; "
                "no HDF5 signature was found)."
            )
    except PermissionError:
        raise FileOpenError(
            f"Cannot open {name}: permission denied (you may not read this file)."
        ) from None
    return file_path


def _remote_has_signature(remote) -> bool:
    offset = 0
    while offset + 8 <= remote.size:
        remote.seek(offset)
        if remote.read(8) == _HDF5_SIGNATURE:
            return True
        offset = 512 if offset == 0 else offset * 2
    return False


def open_remote_h5(location: str) -> h5py.File:
    """Open a URL (or DANDI reference) read-only through range requests.

    The ``RemoteFile`` is kept on the handle (``remote_of``): its validators identify the
    file's version for the persisted index, and its counters tell what the reading cost.
    """
    from ndviewer.core.model.storage.dandi import resolve
    from ndviewer.core.model.storage.remote import RemoteFile

    url = resolve(location)
    remote = RemoteFile(url)
    if not _remote_has_signature(remote):
        remote.close()
        raise FileOpenError(
            f"Cannot open {location}: it is not an HDF5 file (NWB files are HDF5; "
            "no HDF5 signature was found)."
        )
    try:
        h5 = h5py.File(remote, "r")
    except OSError as exc:
        remote.close()
        cause = exc.__context__ or exc.__cause__
        if isinstance(cause, FileOpenError):
            raise cause from None
        text = str(exc).splitlines()[0] if str(exc) else "unknown error"
        raise FileOpenError(f"Cannot open {location}: HDF5 could not read it ({text}).") from None
    h5._ndviewer_remote = remote
    register(h5, remote)
    return h5


def remote_of(h5: h5py.File):
    """The ``RemoteFile`` a handle reads through, or None for a local file."""
    return getattr(h5, "_ndviewer_remote", None)


def identity_of(location: str | os.PathLike, h5: h5py.File) -> FileIdentity:
    """What says the file is unchanged: path, size, mtime; for a URL its size and ETag."""
    remote = remote_of(h5)
    zarr_version = getattr(h5, "_ndviewer_zarr_version", None)
    if zarr_version is not None:  # a store: its files' sizes and mtimes, hashed
        digest = int(hashlib.sha1(zarr_version.encode()).hexdigest()[:15], 16)
        return FileIdentity(str(Path(location).resolve()), 0, digest)
    if remote is None:
        return FileIdentity.of(location)
    version = f"{remote.validators.get('etag')}|{remote.validators.get('last_modified')}"
    return FileIdentity(
        remote.url, remote.size, int(hashlib.sha1(version.encode()).hexdigest()[:15], 16)
    )


#: Ceiling of HDF5's metadata cache (object headers, B-tree nodes) per open file. HDF5's own
#: adaptive default grows to 20-32 MB, which in practice costs some 80 MB of resident memory
#: after one walk of 30 000 objects; 4 MB keeps that to ~27 MB and walks no slower (measured:
#: listing the links of 30 000 objects 0.29 s at the default, 0.23 s at 4 MB).
METADATA_CACHE_BYTES = 4 * 1024 * 1024


def bound_metadata_cache(h5: h5py.File, max_bytes: int = METADATA_CACHE_BYTES) -> None:
    """Cap the metadata cache of an open file (memory stays flat however many objects)."""
    try:
        config = h5.id.get_mdc_config()
        config.max_size = max_bytes
        config.min_size = min(config.min_size, max_bytes)
        config.set_initial_size = True
        config.initial_size = min(config.initial_size, max_bytes)
        h5.id.set_mdc_config(config)
    except (AttributeError, RuntimeError, OSError, ValueError):
        pass  # an HDF5 build without it: the default cache


def open_h5(path: str | os.PathLike) -> h5py.File:
    """Open an HDF5 file (or URL) read-only, or raise ``FileOpenError`` with the reason."""
    register_filters()
    if is_remote(path):
        return open_remote_h5(str(path))
    if is_zarr(path):
        return open_zarr_h5(path)
    file_path = check_readable(path)
    try:
        h5 = h5py.File(file_path, "r", locking=False)
        bound_metadata_cache(h5)
        return h5
    except PermissionError:
        raise FileOpenError(
            f"Cannot open {file_path}: permission denied (you may not read this file)."
        ) from None
    except OSError as exc:
        text = str(exc)
        if getattr(exc, "errno", None) == errno.EACCES or "ermission denied" in text:
            reason = "permission denied (you may not read this file)"
        elif "truncated" in text or "eof" in text.lower():
            reason = (
                "the file is truncated or damaged (it may have been copied incompletely, or "
                "the program writing it stopped before closing it)"
            )
        elif "already open for write" in text or "consistency flags" in text:
            # HDF5 1.10+ marks the superblock while a program writes with the latest format
            reason = (
                "another program has it open for writing (HDF5 marked it as being written); "
                "close it there and open it again, or, if that program crashed, clear the mark "
                "with `h5clear -s` on a copy"
            )
        elif "lock" in text.lower():
            reason = "another program holds a lock on it"
        else:
            reason = f"HDF5 could not read it ({text.splitlines()[0] if text else 'unknown error'})"
        raise FileOpenError(f"Cannot open {file_path}: {reason}.") from None


class NwbFile:
    """One open file: the h5py handle, its type catalogue and its node tree.

    Problems that do not stop browsing (a broken spec cache, a type whose namespace is not
    cached, an unreadable session start time) are collected in ``problems`` instead of raised,
    so the file still opens and the user is told what is wrong.
    """

    def __init__(self, path: str | os.PathLike, h5: h5py.File, use_cache: bool = True) -> None:
        remote = remote_of(h5)
        # a remote file is named as the user gave it (a DANDI reference reads better than
        # the API's download address it resolved to)
        self.path = Path(path) if remote is None else UrlPath(str(path).strip())
        self.h5 = h5
        self.identity = identity_of(path, h5)
        self.problems: list[str] = []
        # False: nothing learnt about the file is loaded from or saved to the user cache
        self.use_cache = use_cache

    @property
    def is_remote(self) -> bool:
        return remote_of(self.h5) is not None

    @property
    def read_only_reason(self) -> str | None:
        """Why this file cannot be edited, in one sentence (None: it can be)."""
        if self.is_remote:
            return (
                f"Editing is disabled: {self.path.name} is read over the network "
                "(download it to edit a local copy)."
            )
        if self.is_zarr:
            return (
                f"Editing is disabled: {self.path.name} is a Zarr store (ndviewer saves edits "
                "to HDF5 NWB files only)."
            )
        return None

    @property
    def is_zarr(self) -> bool:
        return getattr(self.h5, "_ndviewer_zarr", None) is not None

    @cached_property
    def catalog(self):  # -> Catalog (imported lazily to keep open_nwb fast)
        from ndviewer.core.model.catalog import file_catalog

        catalog = file_catalog(self.h5, self.identity, str(self.path), self.use_cache)
        self.problems.extend(catalog.problems)
        return catalog

    @cached_property
    def root(self) -> Node:
        return Node(self, "/", "")

    def node(self, path: str) -> Node:
        """The node at ``path``; raises ``KeyError`` if there is none."""
        return node_at(self, path)

    @property
    def is_nwb(self) -> bool:
        try:
            attrs = self.h5.attrs
            return "nwb_version" in attrs or attrs.get("neurodata_type") in (b"NWBFile", "NWBFile")
        except DAMAGE_ERRORS:  # a damaged root header: browse as plain HDF5
            return False

    @property
    def nwb_version(self) -> str | None:
        try:
            value = self.h5.attrs.get("nwb_version")
        except DAMAGE_ERRORS:
            return None
        return None if value is None else str(decode_value(value))

    def reopen(self) -> None:
        """Open the file again (read-only) after an edit, forgetting every cached node.

        The catalogue is kept unless the file's cached spec could have changed (edits never
        touch /specifications).
        """
        self.close()
        self.h5 = open_h5(self.path)
        self.identity = identity_of(self.path, self.h5)
        self.__dict__.pop("root", None)

    @property
    def is_open(self) -> bool:
        return bool(self.h5.id.valid)

    def close(self) -> None:
        if self.h5.id.valid:
            self.h5.close()
        remote = remote_of(self.h5)
        if remote is not None:
            remote.close()

    def __enter__(self) -> NwbFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"NwbFile({str(self.path)!r})"


def open_nwb(path: str | os.PathLike, use_cache: bool = True) -> NwbFile:
    """Open an NWB (or any HDF5) file read-only for browsing (``use_cache``: see NwbFile)."""
    return NwbFile(path, open_h5(path), use_cache)
