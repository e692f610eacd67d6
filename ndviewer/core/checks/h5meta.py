"""Metadata reads for the checks through HDF5's own calls, with the object handles reused.

h5py's high-level ``group.get(name)`` and ``obj.attrs[name]`` build Python objects (and a
weak-reference registry entry) per call: on a file of 10^4 typed objects the checks spent
most of their time there. Here objects are opened once by path with ``H5Oopen``, links are
tested with ``H5Lexists`` and attributes are opened and read directly.
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
    """Object handles of one open file by path (the most recent ``_KEEP_OPEN`` kept)."""

    def __init__(self, h5: h5py.File) -> None:
        self.h5 = h5
        self.file_id = h5.id
        self._objects: dict[str, Any] = {}
        self._attr_names: dict[str, frozenset[bytes]] = {}
        self._link_names: dict[str, frozenset[bytes]] = {}

    def object(self, path: str) -> Any:
        """The opened object at ``path`` (links followed); raises on absent or damaged."""
        found = self._objects.get(path)
        if found is None:
            name = path.lstrip("/").encode() or b"."
            found = h5py.h5o.open(self.file_id, name)
            if len(self._objects) >= _KEEP_OPEN:
                self._objects.clear()
                self._attr_names.clear()
                self._link_names.clear()
            self._objects[path] = found
        return found

    def has_link(self, path: str) -> bool:
        """Whether a link called ``path`` exists (it may dangle); False when the parent is
        missing."""
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

    def attr_names(self, path: str) -> frozenset[bytes]:
        """Every attribute name of the object, listed in one H5Aiterate (cheaper than asking
        H5Aexists about each member of the spec)."""
        names = self._attr_names.get(path)
        if names is None:
            found: list[bytes] = []
            try:
                oid = self.object(path)
                h5py.h5a.iterate(oid, lambda name: found.append(name) and None)
            except DAMAGE:
                pass
            names = self._attr_names[path] = frozenset(found)
        return names

    def has_attr(self, path: str, name: str) -> bool:
        return name.encode() in self.attr_names(path)

    def text_attr(self, path: str, name: str) -> str | None:
        """A scalar text attribute read with a fixed memory type (no numpy dtype built)."""
        if not self.has_attr(path, name):
            return None
        try:
            attr = h5py.h5a.open(self.object(path), name.encode())
            buffer = np.empty((), dtype=_STRING_DTYPE)
            attr.read(buffer, mtype=_STRING_MTYPE)
        except DAMAGE:
            return self._text_slow(path, name)
        value = buffer[()]
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

    def _text_slow(self, path: str, name: str) -> str | None:
        value = self.attr(path, name)
        return None if value is None else str(value)

    def float_attr(self, path: str, name: str) -> float | None:
        if not self.has_attr(path, name):
            return None
        try:
            attr = h5py.h5a.open(self.object(path), name.encode())
            buffer = np.empty((), dtype=np.float64)
            attr.read(buffer)
        except DAMAGE:
            return None
        return float(buffer)

    def attr_id(self, path: str, name: str) -> Any:
        return h5py.h5a.open(self.object(path), name.encode())

    def attr(self, path: str, name: str) -> Any:
        """The decoded attribute value, or None when absent or unreadable."""
        if not self.has_attr(path, name):
            return None
        try:
            attr = h5py.h5a.open(self.object(path), name.encode())
            value = np.empty(attr.shape or (), dtype=attr.dtype)
            attr.read(value)
        except DAMAGE:
            return None
        return decode_value(value[()] if value.ndim == 0 else value, self.h5)

    def chunks(self, path: str) -> tuple[tuple[int, ...] | None, int]:
        """(chunk shape or None when not chunked, item size in bytes) of a dataset."""
        dataset_id = self.object(path)
        plist = dataset_id.get_create_plist()
        itemsize = dataset_id.get_type().get_size()
        if plist.get_layout() != h5py.h5d.CHUNKED:
            return None, itemsize
        return tuple(int(c) for c in plist.get_chunk()), itemsize
