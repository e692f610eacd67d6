"""A lazy tree over the HDF5 file: one ``Node`` per group, dataset or link.

Nothing is read until asked: a node knows its path and link kind from its parent's listing,
and reads its own attributes (type, shape, compression…) the first time one is wanted. The
tree view therefore touches only the rows on screen, whatever the number of objects.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from typing import Any, Protocol

import h5py
import numpy as np

from ndviewer.core.model.values import decode_value, describe_dtype


class OpenFile(Protocol):
    """What a node needs of its file: the open handle. ``files.NwbFile`` is one; the protocol
    keeps ``nodes`` below ``files`` (files builds the tree, nodes never import files)."""

    h5: h5py.File


GROUP = "group"
DATASET = "dataset"
SOFT_LINK = "soft_link"
EXTERNAL_LINK = "external_link"
BROKEN_LINK = "broken_link"
#: An object whose metadata HDF5 cannot read (damaged header, B-tree, heap, a link cycle):
#: one unreadable node, never a failed file.
UNREADABLE = "unreadable"
#: What h5py raises on damaged metadata or link trouble ("too many links", "bad symbol
#: table node signature", "wrong B-tree signature", "invalid link name"…).
DAMAGE_ERRORS = (RuntimeError, OSError, KeyError, ValueError, TypeError, UnicodeDecodeError)


def damage_reason(exc: BaseException) -> str:
    """The first line of an HDF5 error, for a one-sentence message."""
    text = str(exc).splitlines()[0].strip() if str(exc) else ""
    return text.rstrip(".") or type(exc).__name__


def _link_access(h5: h5py.File) -> h5py.h5p.PropLAID:
    """Link access that resolves relative external links from the linking file's folder
    first (as HDF5 would after the working directory), so what a link shows does not depend
    on where ndviewer was started."""
    lapl = h5py.h5p.create(h5py.h5p.LINK_ACCESS)
    folder = os.path.dirname(os.path.abspath(os.fsdecode(h5.filename)))
    lapl.set_elink_prefix(os.fsencode(folder) + b"/")
    return lapl


def open_object(h5: h5py.File, path: str) -> h5py.Group | h5py.Dataset:
    """The object at ``path``, following external links from the linking file's folder.

    Raises ``KeyError`` when there is none, and h5py's own errors on damaged metadata.
    """
    if path == "/":
        return h5
    name = path.lstrip("/").encode("utf-8", "surrogateescape")
    try:
        object_id = h5py.h5o.open(h5.id, name, lapl=_link_access(h5))
    except KeyError:
        raise KeyError(f"{path} does not exist in {h5.filename}") from None
    if isinstance(object_id, h5py.h5g.GroupID):
        return h5py.Group(object_id)
    if isinstance(object_id, h5py.h5d.DatasetID):
        return h5py.Dataset(object_id)
    raise KeyError(f"{path} is neither a group nor a dataset")


_FILTER_NAMES = {
    1: "gzip",
    2: "shuffle",
    3: "fletcher32",
    4: "szip",
    5: "nbit",
    6: "scaleoffset",
    32000: "lzf",
    32001: "blosc",
    32004: "lz4",
    32008: "bitshuffle",
    32015: "zstd",
    32017: "sz",
    32026: "blosc2",
}


def read_type_attrs(attrs: h5py.AttributeManager) -> tuple[str | None, str | None, str | None]:
    """(neurodata_type, namespace, object_id); plain hdmf files say ``data_type``."""
    neurodata_type = attrs.get("neurodata_type")
    if neurodata_type is None:
        neurodata_type = attrs.get("data_type")
    namespace = attrs.get("namespace")
    object_id = attrs.get("object_id")
    return (
        None if neurodata_type is None else str(decode_value(neurodata_type)),
        None if namespace is None else str(decode_value(namespace)),
        None if object_id is None else str(decode_value(object_id)),
    )


def dataset_filters(dataset: h5py.Dataset) -> list[tuple[str, tuple]]:
    """The dataset's filter pipeline as (name, options), e.g. [("shuffle", ()), ("gzip", (4,))]."""
    plist = dataset.id.get_create_plist()
    filters = []
    for index in range(plist.get_nfilters()):
        code, _flags, options, _name = plist.get_filter(index)
        filters.append((_FILTER_NAMES.get(code, f"filter {code}"), tuple(options)))
    return filters


@dataclass
class _Details:
    kind: str
    neurodata_type: str | None = None
    namespace: str | None = None
    object_id: str | None = None
    shape: tuple[int, ...] | None = None
    dtype: np.dtype | None = None
    chunks: tuple[int, ...] | None = None
    n_attrs: int = 0
    link_target: str | None = None
    target_path: str | None = None
    error: str | None = None
    group: bool = False  # the object (a link's target) is a group
    extra: dict[str, Any] = field(default_factory=dict)


class Node:
    """One object in the file, read lazily.

    For a soft link the node describes its target (type, shape…) but keeps its own path, and
    ``link_target`` says where it points, so the tree can show the link and jump to the target.
    """

    __slots__ = ("file", "path", "name", "_details", "_child_names", "_children")

    def __init__(self, file: OpenFile, path: str, name: str) -> None:
        self.file = file
        self.path = path
        self.name = name
        self._details: _Details | None = None
        self._child_names: list[str] | None = None
        self._children: dict[str, Node] = {}

    # -- lazy details -----------------------------------------------------------------------
    def _load(self) -> _Details:
        """Read this node's details once; damaged metadata makes it an UNREADABLE node with
        the reason, never an exception (the tree, the panels and ``info`` go on)."""
        if self._details is not None:
            return self._details
        try:
            details = self._read_details()
        except DAMAGE_ERRORS as exc:
            details = _Details(UNREADABLE, error=f"unreadable: {damage_reason(exc)}")
        self._details = details
        return details

    def _read_details(self) -> _Details:
        h5 = self.file.h5
        details: _Details
        link = None if self.path == "/" else h5.get(self.path, getlink=True)
        if isinstance(link, h5py.SoftLink):
            target = link.path
            absolute = (
                target
                if target.startswith("/")
                else posixpath.normpath(posixpath.join(posixpath.dirname(self.path), target))
            )
            obj = h5.get(absolute)
            if obj is None:
                details = _Details(
                    BROKEN_LINK,
                    link_target=target,
                    error=f"soft link to {target}, which does not exist",
                )
            else:
                details = self._describe(obj, SOFT_LINK)
                details.link_target = absolute
                details.target_path = absolute
        elif isinstance(link, h5py.ExternalLink):
            target = f"{link.filename}::{link.path}"
            try:
                obj = open_object(h5, self.path)
            except DAMAGE_ERRORS as exc:
                obj = None
                folder = os.path.dirname(os.path.abspath(os.fsdecode(h5.filename)))
                resolved = os.path.normpath(os.path.join(folder, link.filename))
                if not os.path.exists(resolved):
                    reason = f"{resolved} does not exist"
                elif isinstance(exc, KeyError):
                    reason = f"{resolved} has no object {link.path}"
                else:
                    reason = f"{resolved} cannot be read ({damage_reason(exc)})"
            if obj is None:
                details = _Details(
                    BROKEN_LINK, link_target=target, error=f"external link to {target}: {reason}"
                )
            else:
                details = self._describe(obj, EXTERNAL_LINK)
                details.link_target = target
        else:
            obj = open_object(h5, self.path)
            details = self._describe(obj, GROUP if isinstance(obj, h5py.Group) else DATASET)
        return details

    @staticmethod
    def _describe(obj: h5py.Group | h5py.Dataset, kind: str) -> _Details:
        attrs = obj.attrs
        neurodata_type, namespace, object_id = read_type_attrs(attrs)
        details = _Details(
            kind, neurodata_type, namespace, object_id, n_attrs=len(attrs), target_path=obj.name
        )
        details.group = isinstance(obj, h5py.Group)
        if isinstance(obj, h5py.Dataset):
            details.shape = tuple(obj.shape) if obj.shape is not None else None
            details.dtype = obj.dtype
            details.chunks = obj.chunks
        return details

    # -- identity and type ------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return self._load().kind

    @property
    def is_group(self) -> bool:
        """True for groups and for links that resolve to groups (from the details read once)."""
        return self._load().group if self.readable else False

    @property
    def is_dataset(self) -> bool:
        return not self._load().group if self.readable else False

    @property
    def loaded(self) -> bool:
        """Whether the details are read: then kind, type, shape… need no HDF5 read."""
        return self._details is not None

    @property
    def listed(self) -> bool:
        """Whether :meth:`child_names` is known without an HDF5 read."""
        return self._child_names is not None

    def load_for_tree(self) -> None:
        """Read what a tree row shows: the details and, for groups, the member names.

        Called off the GUI thread, so that a file whose reads hang cannot freeze the view.
        """
        self._load()
        self.child_names()

    def mark_unanswered(self, seconds: float) -> None:
        """Make a node whose read did not return an unreadable one (unless it came back)."""
        if self._details is None:
            self._details = _Details(
                UNREADABLE, error=f"unreadable: reading it took more than {seconds:g} s"
            )
        if self._child_names is None:
            self._child_names = []

    @property
    def readable(self) -> bool:
        """False for broken links and damaged objects (their ``error`` says why)."""
        return self.kind not in (BROKEN_LINK, UNREADABLE)

    @property
    def neurodata_type(self) -> str | None:
        return self._load().neurodata_type

    @property
    def namespace(self) -> str | None:
        return self._load().namespace

    @property
    def object_id(self) -> str | None:
        return self._load().object_id

    @property
    def link_target(self) -> str | None:
        return self._load().link_target

    @property
    def error(self) -> str | None:
        """Why this node cannot be read (broken links, damaged objects), else None."""
        return self._load().error

    @property
    def parent_path(self) -> str | None:
        return None if self.path == "/" else posixpath.dirname(self.path) or "/"

    # -- dataset layout ---------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...] | None:
        return self._load().shape

    @property
    def dtype(self) -> np.dtype | None:
        return self._load().dtype

    @property
    def dtype_name(self) -> str:
        return describe_dtype(self.dtype)

    @property
    def chunks(self) -> tuple[int, ...] | None:
        return self._load().chunks

    @property
    def filters(self) -> list[tuple[str, tuple]]:
        obj = self.h5obj()
        return dataset_filters(obj) if isinstance(obj, h5py.Dataset) else []

    @property
    def compression(self) -> str | None:
        """e.g. ``"gzip(4) + shuffle"``, or None for uncompressed data."""
        parts = [
            f"{name}({','.join(map(str, options))})" if name == "gzip" and options else name
            for name, options in self.filters
            if name not in ("fletcher32",)
        ]
        return " + ".join(parts) if parts else None

    @property
    def storage_size(self) -> int | None:
        obj = self.h5obj()
        return obj.id.get_storage_size() if isinstance(obj, h5py.Dataset) else None

    @property
    def logical_size(self) -> int | None:
        shape, dtype = self.shape, self.dtype
        if shape is None or dtype is None:
            return None
        return int(np.prod(shape, dtype=np.int64)) * dtype.itemsize

    # -- attributes -------------------------------------------------------------------------
    @property
    def attrs(self) -> dict[str, Any]:
        """Decoded attributes (strings as str, references as target paths)."""
        obj = self.h5obj()
        if obj is None:
            return {}
        out: dict[str, Any] = {}
        try:
            keys = list(obj.attrs)
        except DAMAGE_ERRORS as exc:
            return {"(attributes)": f"<unreadable: {damage_reason(exc)}>"}
        for key in keys:
            try:
                out[key] = decode_value(obj.attrs[key], self.file.h5)
            except DAMAGE_ERRORS as exc:
                out[key] = f"<unreadable attribute: {damage_reason(exc)}>"
        return out

    def h5obj(self) -> h5py.Group | h5py.Dataset | None:
        """The h5py object (the target, for links); None for broken links."""
        if not self.readable:
            return None
        if self.path == "/":
            return self.file.h5
        try:
            return open_object(self.file.h5, self.path)
        except DAMAGE_ERRORS:
            return None

    # -- children ---------------------------------------------------------------------------
    def child_names(self) -> list[str]:
        """Names of the children, in HDF5 order; soft-linked groups list none (jump instead)."""
        if self._child_names is None:
            if self.path == "/" or self.kind in (GROUP, EXTERNAL_LINK):
                obj = self.h5obj()
                try:
                    self._child_names = list(obj.keys()) if isinstance(obj, h5py.Group) else []
                except DAMAGE_ERRORS as exc:  # a damaged member list: this node shows none
                    self._child_names = []
                    self._details = _Details(
                        UNREADABLE,
                        error=f"unreadable: its members cannot be listed ({damage_reason(exc)})",
                    )
            else:
                self._child_names = []
        return self._child_names

    @property
    def n_children(self) -> int:
        return len(self.child_names())

    def child(self, name: str) -> Node:
        node = self._children.get(name)
        if node is None:
            path = f"/{name}" if self.path == "/" else f"{self.path}/{name}"
            node = Node(self.file, path, name)
            self._children[name] = node
        return node

    def children(self) -> list[Node]:
        return [self.child(name) for name in self.child_names()]

    def read(self, max_elements: int | None = None) -> Any:
        """The dataset's value decoded, or None if larger than ``max_elements``."""
        obj = self.h5obj()
        if not isinstance(obj, h5py.Dataset):
            return None
        if max_elements is not None and (obj.size or 0) > max_elements:
            return None
        return decode_value(obj[()], self.file.h5)

    def __repr__(self) -> str:
        return f"Node({self.path!r}, {self.neurodata_type or self.kind})"


def h5_object(obj: Any) -> Any:
    """The h5py object behind a ``Node``, or ``obj`` itself when it already is one.

    Data sources accept either, so tests can hand them plain h5py groups.
    """
    getter = getattr(obj, "h5obj", None)
    return getter() if callable(getter) else obj


def node_at(file: OpenFile, path: str) -> Node:
    """Walk from the root to ``path``, re-using already created nodes."""
    node = file.root
    for part in [p for p in path.split("/") if p]:
        if part not in node.child_names():
            raise KeyError(f"{path} does not exist in {file.path}")
        node = node.child(part)
    return node
