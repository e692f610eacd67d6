"""Metadata reads for the checks through HDF5's own calls, with group handles reused.

h5py's high-level ``group.get(name)`` and ``obj.attrs[name]`` build Python objects (and a
weak-reference registry entry) per call: on a file of 10^4 typed objects the checks spent
most of their time there. Here groups are opened once (relative to their open parent), and
attributes are asked about *by name from the parent group* (``H5Aexists_by_name``,
``H5Aget_info_by_name``, ``H5Aopen_by_name``): opening a dataset reads its layout, type and
filters (~65 µs each, measured), asking about one of its attributes by name costs ~4 µs.
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np

from ndviewer.core.model.values import decode_value

DAMAGE = (RuntimeError, OSError, KeyError, ValueError, TypeError, UnicodeDecodeError)
_KEEP_OPEN = 512
_STRING_DTYPE = h5py.string_dtype()
_STRING_MTYPE = h5py.h5t.py_create(_STRING_DTYPE)


class Meta:
    """Group handles of one open file by path (the most recent ``_KEEP_OPEN`` kept)."""

    def __init__(self, h5: h5py.File) -> None:
        self.h5 = h5
        self.file_id = h5.id
        self._objects: dict[str, Any] = {}
        self._link_names: dict[str, frozenset[bytes]] = {}
        #: (path, attribute) -> exists: the schema asks first, the rules ask again
        self._has_attr: dict[tuple[str, str], bool] = {}

    def object(self, path: str) -> Any:
        """The opened object at ``path`` (links followed); raises on absent or damaged."""
        found = self._objects.get(path)
        if found is None:
            parent_path, _, leaf = path.rpartition("/")
            parent = self._objects.get(parent_path or "/") if leaf else None
            if parent is not None:  # one name to look up instead of the whole path
                found = h5py.h5o.open(parent, leaf.encode())
            else:
                found = h5py.h5o.open(self.file_id, path.lstrip("/").encode() or b".")
            if len(self._objects) >= _KEEP_OPEN:
                self._objects.clear()
                self._link_names.clear()
                self._has_attr.clear()
            self._objects[path] = found
        return found

    def _by_name(self, path: str) -> tuple[Any, bytes]:
        """(open location, name relative to it) for by-name calls about ``path``."""
        found = self._objects.get(path)
        if found is not None:
            return found, b"."
        if path == "/":
            return self.file_id, b"."
        parent, _, leaf = path.rpartition("/")
        return self.object(parent or "/"), leaf.encode()

    def has_link(self, path: str) -> bool:
        """Whether a link called ``path`` exists (it may dangle); False when the parent is
        missing. The parent's links are listed once (one H5Literate)."""
        parent, _, name = path.rpartition("/")
        parent = parent or "/"
        names = self._link_names.get(parent)
        if names is None:
            found: list[bytes] = []
            try:
                self.object(parent).links.iterate(lambda link: found.append(link) and None)
            except DAMAGE:
                pass
            names = self._link_names[parent] = frozenset(found)
        return name.encode() in names

    def has_attr(self, path: str, name: str) -> bool:
        key = (path, name)
        found = self._has_attr.get(key)
        if found is None:
            try:
                loc, obj_name = self._by_name(path)
                found = bool(h5py.h5a.exists(loc, name.encode(), obj_name=obj_name))
            except DAMAGE:
                found = False
            self._has_attr[key] = found
        return found

    def attr_size(self, path: str, name: str) -> int:
        """The stored size in bytes of an existing attribute (-1 when unreadable)."""
        try:
            loc, obj_name = self._by_name(path)
            return int(h5py.h5a.get_info(loc, name=name.encode(), obj_name=obj_name).data_size)
        except DAMAGE:
            return -1

    def attr_id(self, path: str, name: str) -> Any:
        loc, obj_name = self._by_name(path)
        return h5py.h5a.open(loc, name.encode(), obj_name=obj_name)

    def text_attr(self, path: str, name: str) -> str | None:
        """A scalar text attribute read with a fixed memory type (no numpy dtype built)."""
        if not self.has_attr(path, name):
            return None
        try:
            attr = self.attr_id(path, name)
            buffer = np.empty((), dtype=_STRING_DTYPE)
            attr.read(buffer, mtype=_STRING_MTYPE)
        except DAMAGE:
            value = self.attr(path, name)
            return None if value is None else str(value)
        value = buffer[()]
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

    def float_attr(self, path: str, name: str) -> float | None:
        if not self.has_attr(path, name):
            return None
        try:
            attr = self.attr_id(path, name)
            buffer = np.empty((), dtype=np.float64)
            attr.read(buffer)
        except DAMAGE:
            return None
        return float(buffer)

    def attr(self, path: str, name: str) -> Any:
        """The decoded attribute value, or None when absent or unreadable."""
        if not self.has_attr(path, name):
            return None
        try:
            attr = self.attr_id(path, name)
            value = np.empty(attr.shape or (), dtype=attr.dtype)
            attr.read(value)
        except DAMAGE:
            return None
        return decode_value(value[()] if value.ndim == 0 else value, self.h5)

    def chunks(self, path: str) -> tuple[tuple[int, ...] | None, int]:
        """(chunk shape or None when not chunked, item size in bytes) of a dataset."""
        loc, obj_name = self._by_name(path)
        dataset_id = h5py.h5d.open(loc, obj_name) if obj_name != b"." else loc
        plist = dataset_id.get_create_plist()
        itemsize = dataset_id.get_type().get_size()
        if plist.get_layout() != h5py.h5d.CHUNKED:
            return None, itemsize
        return tuple(int(c) for c in plist.get_chunk()), itemsize
