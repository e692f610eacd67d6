"""The full typed index of a file: every object's path, type, shape and dtype, fast.

``h5py``'s ``visititems`` builds Python objects per HDF5 object and costs ~5 s on a file of
30 000 objects. Here the walk uses HDF5's own ``H5Ovisit`` with object info (which says how
many attributes an object has, so untyped ones cost nothing more), opens attributes by path
without opening the object, reads them into a preallocated buffer with a fixed memory type,
and describes dtypes from the HDF5 type class instead of building numpy dtypes. Time-series
facts (sample count, rate, first/last time, unit) are read in the same pass, while the
dataset is open. Large files are walked by worker processes, which read the plain objects
through HDF5's C API directly (:mod:`fastwalk`, about 40 % less CPU per object than through
h5py) and the rest through h5py. The result is persisted in the user cache folder by columns,
keyed by file identity (path, size, mtime), so reopening an unchanged file skips the walk; an
index already in memory is shared with a second reader of the same file.
"""

from __future__ import annotations

import array
import contextlib
import copy
import functools
import gc
import itertools
import os
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np

from ndviewer.core import cache
from ndviewer.core.allocator import release_free_memory
from ndviewer.core.model.files import FileIdentity

INDEX_FORMAT = 7  # 5-7: by columns
_TYPE_ATTR = b"neurodata_type"
_HDMF_TYPE_ATTR = b"data_type"
_NAMESPACE_ATTR = b"namespace"
_STRING_DTYPE = h5py.string_dtype()
_STRING_MTYPE = h5py.h5t.py_create(_STRING_DTYPE)
_FLOAT_DTYPE = np.dtype(np.float64)
#: Passed to every read of a float: without it h5py builds the memory type from the buffer's
#: dtype on each call (~9 µs of a ~13 µs scalar read).
_FLOAT_MTYPE = h5py.h5t.py_create(_FLOAT_DTYPE)


class IndexEntry(NamedTuple):
    """One object of the file as the index knows it.

    A named tuple, not a frozen dataclass: reopening a file of 10^5 typed objects rebuilds
    301 k entries from the persisted index, and a frozen dataclass's ``__init__`` took 0.62 s
    of that where ``tuple.__new__`` takes 0.17 s.
    """

    path: str
    kind: str  # "group" | "dataset" | "external_link" | "broken_link" | "unreadable"
    neurodata_type: str | None
    namespace: str | None
    shape: tuple[int, ...] | None
    dtype: str | None
    #: For an external link, ``"file::/path"`` as written; the entry describes the target.
    link: str | None = None


@dataclass(slots=True)
class SeriesFacts:
    """What the index learns about one TimeSeries without reading its data."""

    data_shape: tuple[int, ...] | None = None
    unit: str | None = None
    rate: float | None = None
    starting_time: float | None = None
    timestamps_count: int | None = None
    first_timestamp: float | None = None
    last_timestamp: float | None = None
    #: ``num_samples`` (ImageSeries with ``format="external"`` keep their frame count there).
    num_samples: int | None = None
    #: How many entries ``external_file`` lists (None: the series has none).
    external_files: int | None = None


@dataclass
class FileIndex:
    """All objects of a file, by path, in walk order, plus the facts of its time series."""

    identity: FileIdentity | None
    entries: list[IndexEntry]
    series: dict[str, SeriesFacts] = field(default_factory=dict)
    from_cache: bool = False
    #: One sentence per object the walk could not read (damaged metadata, dangling or
    #: unreadable external links); those objects are entries of kind "unreadable" or
    #: "broken_link", the rest of the file is indexed as usual.
    problems: list[str] = field(default_factory=list)

    @functools.cached_property
    def by_path(self) -> dict[str, IndexEntry]:
        """Entries by path, made when first asked for (not every user of the index looks
        up paths: for 301 k entries the dictionary is ~10 MB)."""
        return {entry.path: entry for entry in self.entries}

    @property
    def typed(self) -> list[IndexEntry]:
        return [entry for entry in self.entries if entry.neurodata_type]

    def paths_of(self, base: str, is_a: Callable[[str, str], bool]) -> list[str]:
        """Paths of the typed objects whose type ``is_a(type, base)``, in walk order.

        Pass the catalogue's ``is_a`` so extension subtypes of ``base`` are found too.
        """
        return [e.path for e in self.typed if is_a(e.neurodata_type, base)]

    def counts_by_type(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.entries:
            if entry.neurodata_type:
                counts[entry.neurodata_type] = counts.get(entry.neurodata_type, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


# -- low-level reads --------------------------------------------------------------------------
def _read_string_attr(loc: h5py.h5o.ObjectID, obj_name: bytes, attr_name: bytes) -> str | None:
    if not h5py.h5a.exists(loc, attr_name, obj_name=obj_name):
        return None
    return _read_open_string_attr(h5py.h5a.open(loc, attr_name, obj_name=obj_name))


def _read_open_string_attr(attr: h5py.h5a.AttrID) -> str:
    buffer = np.empty((), dtype=_STRING_DTYPE)
    try:
        attr.read(buffer, mtype=_STRING_MTYPE)
    except (TypeError, ValueError, OSError):
        # not a scalar variable-length string (fixed-length, array…): take the slow road
        value = np.empty(attr.shape or (), dtype=attr.dtype)
        attr.read(value)
        value = value.flat[0] if value.size else b""
    else:
        value = buffer[()]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _open_string_attr(loc: h5py.h5o.ObjectID, obj_name: bytes, attr_name: bytes) -> str | None:
    """``_read_string_attr`` for an attribute that is expected to exist: opened without asking
    first; a failed open falls back to asking (absent: None; damaged: the error is raised)."""
    try:
        attr = h5py.h5a.open(loc, attr_name, obj_name=obj_name)
    except KeyError:
        return _read_string_attr(loc, obj_name, attr_name)
    return _read_open_string_attr(attr)


def _read_float_attr(loc: h5py.h5o.ObjectID, attr_name: bytes) -> float | None:
    if not h5py.h5a.exists(loc, attr_name):
        return None
    attr = h5py.h5a.open(loc, attr_name)
    buffer = np.empty((), dtype=_FLOAT_DTYPE)
    try:
        attr.read(buffer, mtype=_FLOAT_MTYPE)
    except (TypeError, ValueError, OSError):
        return None
    return float(buffer)


def _read_scalar_float(dataset_id: h5py.h5d.DatasetID) -> float | None:
    buffer = np.empty((), dtype=_FLOAT_DTYPE)
    try:
        dataset_id.read(h5py.h5s.ALL, h5py.h5s.ALL, buffer, mtype=_FLOAT_MTYPE)
    except (TypeError, ValueError, OSError):
        return None
    return float(buffer)


def _read_endpoints(dataset_id: h5py.h5d.DatasetID, n: int) -> tuple[float, float] | None:
    if n <= 0:
        return None
    space = dataset_id.get_space()
    if space.get_simple_extent_ndims() != 1:
        return None
    if n <= 4096:  # one contiguous read beats a point selection for short series
        whole = np.empty((n,), dtype=_FLOAT_DTYPE)
        try:
            dataset_id.read(h5py.h5s.ALL, h5py.h5s.ALL, whole, mtype=_FLOAT_MTYPE)
        except (TypeError, ValueError, OSError):
            return None
        return float(whole[0]), float(whole[-1])
    buffer = np.empty((2,), dtype=_FLOAT_DTYPE)
    space.select_elements(np.array([[0], [n - 1]], dtype=np.uint64))
    try:
        dataset_id.read(h5py.h5s.create_simple((2,)), space, buffer, mtype=_FLOAT_MTYPE)
    except (TypeError, ValueError, OSError):
        return None
    return float(buffer[0]), float(buffer[1])


_CLASS_NAMES = {
    h5py.h5t.STRING: "text",
    h5py.h5t.REFERENCE: "reference",
    h5py.h5t.COMPOUND: "compound",
    h5py.h5t.ENUM: "enum",
    h5py.h5t.VLEN: "vlen",
    h5py.h5t.ARRAY: "array",
    h5py.h5t.OPAQUE: "opaque",
    h5py.h5t.BITFIELD: "bitfield",
}


def _dtype_name(type_id: h5py.h5t.TypeID) -> str:
    type_class = type_id.get_class()
    size = type_id.get_size()
    if type_class == h5py.h5t.INTEGER:
        signed = type_id.get_sign() != h5py.h5t.SGN_NONE
        return f"{'int' if signed else 'uint'}{size * 8}"
    if type_class == h5py.h5t.FLOAT:
        return f"float{size * 8}"
    # a variable-length string is of class STRING (VLEN is a sequence of numbers, e.g. a
    # ragged column, whose TypeVlenID has no is_variable_str)
    return _CLASS_NAMES.get(type_class, "unknown")


# -- the walk ---------------------------------------------------------------------------------
class _Walker:
    """Records objects met by H5Ovisit (or named one by one) below one starting group."""

    def __init__(
        self, h5: h5py.File, series_types: frozenset[str], skip_specifications: bool = True
    ) -> None:
        self.file_id = h5.id
        self.series_types = series_types
        self.skip_specifications = skip_specifications
        # Files written by plain hdmf say ``data_type``; in an NWB file (typed root) every
        # typed object says ``neurodata_type``, so the second lookup would only cost time.
        self.accept_data_type = "neurodata_type" not in h5.attrs
        self.entries: list[IndexEntry] = []
        self.series: dict[str, SeriesFacts] = {}
        self.problems: list[str] = []
        self.filename = h5.filename
        self.follow_external = True
        self._names: dict[str, str] = {}
        self._shapes: dict[tuple[int, ...], tuple[int, ...]] = {}

    def walk(self, start: str) -> None:
        """Record ``start`` and everything below it.

        HDF5's own H5Ovisit is the fast road. Damaged metadata (a bad B-tree or heap, an
        invalid link name) makes it raise part-way; the walk then goes again, group by group,
        through :meth:`walk_carefully`, which turns each unreadable object into an
        "unreadable" entry and keeps every readable one.
        """
        mark = len(self.entries), dict(self.series), len(self.problems)
        try:
            self.record_one(start)  # h5py's visit leaves out the starting object itself
            prefix = "" if start == "/" else start.lstrip("/")
            group_id = (
                self.file_id if start == "/" else h5py.h5g.open(self.file_id, prefix.encode())
            )
            base = b"" if start == "/" else prefix.encode() + b"/"

            def visit(name: bytes, info: h5py.h5o.ObjInfo) -> None:
                if name != b".":
                    self.record(base + name, info)
                return None

            h5py.h5o.visit(group_id, visit, info=True)
        except _DAMAGE as exc:
            del self.entries[mark[0] :]
            self.series = mark[1]
            del self.problems[mark[2] :]
            log_reason = _reason(exc)
            self.walk_carefully(start, first_failure=log_reason)

    def walk_carefully(self, start: str, first_failure: str | None = None) -> None:
        """Group by group, one ``try`` per object: slower, but a damaged object costs only
        itself. Objects are met once each (by address), so hard-link cycles end."""
        seen: set[tuple[int, int]] = set()
        stack = [start.lstrip("/").encode()]
        while stack:
            name = stack.pop()
            shown = "/" + name.decode("utf-8", "replace")
            try:
                info = h5py.h5o.get_info(self.file_id, name or b".")
            except _DAMAGE as exc:
                self._unreadable(shown, _reason(exc))
                continue
            key = (info.fileno, info.addr)
            if key in seen:
                continue
            seen.add(key)
            before = len(self.entries)
            self.record(name, info)
            if info.type != h5py.h5o.TYPE_GROUP or len(self.entries) == before:
                continue
            if self.entries[-1].kind == "unreadable":
                continue
            try:
                group_id = self.file_id if not name else h5py.h5g.open(self.file_id, name)
                children = _child_names(group_id)
            except _DAMAGE as exc:
                self._unreadable(shown, f"its members cannot be listed ({_reason(exc)})")
                continue
            prefix = name + b"/" if name else b""
            for child in reversed(children):
                link_name = prefix + child
                try:
                    link_type = group_id.links.get_info(child).type
                except _DAMAGE as exc:
                    self._unreadable("/" + link_name.decode("utf-8", "replace"), _reason(exc))
                    continue
                if link_type != h5py.h5l.TYPE_HARD:  # soft and external links: see below
                    continue
                stack.append(link_name)

    def _unreadable(self, path: str, reason: str) -> None:
        self.entries.append(IndexEntry(path, "unreadable", None, None, None, None))
        self.problems.append(f"{self.filename}: {path} is unreadable ({reason}).")

    def record_one(self, path: str) -> None:
        name = path.lstrip("/").encode() or b"."
        self.record(b"" if name == b"." else name, h5py.h5o.get_info(self.file_id, name))

    def record(self, name: bytes, info: h5py.h5o.ObjInfo) -> None:
        """Record one object; a damaged one becomes an "unreadable" entry, not an error."""
        try:
            self._record(name, info)
        except _DAMAGE as exc:
            self._unreadable("/" + name.decode("utf-8", "replace"), _reason(exc))

    def _record(self, name: bytes, info: h5py.h5o.ObjInfo) -> None:
        if self.skip_specifications and (
            name == b"specifications" or name.startswith(b"specifications/")
        ):
            return
        path = "/" + name.decode("utf-8", "replace")
        neurodata_type = namespace = None
        if info.type == h5py.h5o.TYPE_GROUP:
            if info.num_attrs:
                # by name, not through h5g.open: opening a group (~20 µs) costs more than the
                # lookups it would save
                neurodata_type, namespace = self._type_of(self.file_id, name or b".", True)
            neurodata_type = self.interned(neurodata_type)
            self.entries.append(
                IndexEntry(path, "group", neurodata_type, self.interned(namespace), None, None)
            )
            if neurodata_type in self.series_types:
                self.series[path] = SeriesFacts()
            return
        if info.type != h5py.h5o.TYPE_DATASET:
            return
        # a dataset is opened anyway (shape, type): its attributes are asked about relative
        # to it, ~3 µs a lookup instead of ~14 µs by path from the file
        dataset_id = h5py.h5d.open(self.file_id, name)
        if info.num_attrs:
            neurodata_type, namespace = self._type_of(dataset_id, b".", False)
        shape = dataset_id.shape
        shape = self._shapes.setdefault(shape, shape)  # few distinct shapes: shared (as names)
        dtype = _dtype_name(dataset_id.get_type())
        parent, _, leaf = path.rpartition("/")
        facts = self.series.get(parent)
        if facts is not None:
            _collect_series_fact(facts, leaf, dataset_id, shape)
        self.entries.append(
            IndexEntry(
                path,
                "dataset",
                self.interned(neurodata_type),
                self.interned(namespace),
                shape,
                self.interned(dtype),
            )
        )

    def interned(self, text: str | None) -> str | None:
        """One string object per distinct type, namespace or dtype name.

        A file of 10^5 typed objects repeats a few dozen names 300 k times; shared, they cost
        one pointer per entry, and the pickle that brings a worker's entries back stores each
        name once (pickle memoizes by identity) instead of once per entry.
        """
        if text is None:
            return None
        return self._names.setdefault(text, text)

    def _type_of(
        self, loc: h5py.h5o.ObjectID, obj_name: bytes, likely_typed: bool
    ) -> tuple[str | None, str | None]:
        """(neurodata_type, namespace) of the object ``obj_name`` relative to ``loc``.

        ``likely_typed``: in an NWB file almost every *group* that has attributes is typed, so
        its type attribute is opened straight away (saving an H5Aexists by path, ~15 µs), and
        asked about only when the open fails (absent: None; damage still raises, as before).
        A failed open costs ~45 µs, so datasets (whose ``data``, ``timestamps``… have
        attributes but no type) are asked first, relative to the open dataset (~3 µs).
        """
        if likely_typed and not self.accept_data_type:
            neurodata_type = _open_string_attr(loc, obj_name, _TYPE_ATTR)
        else:
            neurodata_type = _read_string_attr(loc, obj_name, _TYPE_ATTR)
            if neurodata_type is None and self.accept_data_type:
                neurodata_type = _read_string_attr(loc, obj_name, _HDMF_TYPE_ATTR)
        if neurodata_type is None:
            return None, None
        return neurodata_type, _open_string_attr(loc, obj_name, _NAMESPACE_ATTR)


# -- links into other files ------------------------------------------------------------------
def external_links(h5: h5py.File, start: str = "/") -> list[tuple[str, str, str]]:
    """(link path, target file as written, target object path) of every external link below
    ``start`` (default: the whole file).

    H5Ovisit walks objects through hard links only, so a series kept in a sibling file is
    invisible to it; H5Lvisit lists every link by name without following any.
    """
    found: list[tuple[str, str, str]] = []
    file_id = h5.id
    name = start.strip("/").encode()
    base = name + b"/" if name else b""
    group_ids: dict[bytes, h5py.h5g.GroupID] = {}

    def visit(link_name: bytes, info) -> None:
        if info.type == h5py.h5l.TYPE_EXTERNAL:
            full = base + link_name
            parent, _, leaf = full.rpartition(b"/")
            try:
                group_id = group_ids.get(parent)
                if group_id is None:
                    group_id = file_id if not parent else h5py.h5g.open(file_id, parent)
                    group_ids[parent] = group_id
                target_file, target_path = group_id.links.get_val(leaf)
            except _DAMAGE:
                return None
            found.append(
                (
                    "/" + full.decode("utf-8", "replace"),
                    os.fsdecode(target_file),
                    target_path.decode("utf-8", "replace"),
                )
            )
        return None

    try:
        group_id = file_id if not name else h5py.h5g.open(file_id, name)
        group_id.links.visit(visit, info=True)
    except _DAMAGE:
        pass  # the object walk has already named what is damaged
    return found


def _own_external_links(h5: h5py.File, groups: list[str]) -> list[tuple[str, str, str]]:
    """``external_links`` of the links directly in ``groups`` (not below them): the plan's
    top levels, whose subtrees the workers scan while they walk them."""
    found: list[tuple[str, str, str]] = []
    for path in groups:
        name = path.strip("/").encode()
        try:
            group_id = h5.id if not name else h5py.h5g.open(h5.id, name)
            links: list[bytes] = []

            def visit(leaf: bytes, info, links=links) -> None:
                if info.type == h5py.h5l.TYPE_EXTERNAL:
                    links.append(leaf)
                return None

            group_id.links.iterate(visit, info=True)
            prefix = "/" if not name else path.rstrip("/") + "/"
            for leaf in links:
                target_file, target_path = group_id.links.get_val(leaf)
                found.append(
                    (
                        prefix + leaf.decode("utf-8", "replace"),
                        os.fsdecode(target_file),
                        target_path.decode("utf-8", "replace"),
                    )
                )
        except _DAMAGE:
            continue
    return found


def _link_order(link: tuple[str, str, str]) -> str:
    """H5Lvisit's order (see ``_walk_order``), for links gathered from several walks."""
    return link[0].replace("/", "\x00")


def resolve_link_file(linking_file: str, target_file: str) -> Path:
    """The target of an external link, resolved as HDF5 would from the linking file's
    folder (not from wherever ndviewer was started)."""
    target = Path(target_file)
    if not target.is_absolute():
        target = Path(os.path.abspath(linking_file)).parent / target
    return Path(os.path.normpath(target))


def _follow_external_links(
    h5: h5py.File, walker: _Walker, links: list[tuple[str, str, str]] | None = None
) -> None:
    """Index what each external link points to, under the link's own path.

    The target file is opened read-only for the walk and closed again; a link whose file or
    object is missing (or unreadable) is a "broken_link" entry and one problem sentence.
    Links found inside a target are listed but not followed (no cycles across files).
    """
    opened: dict[Path, h5py.File | None] = {}
    try:
        for link_path, target_file, target_path in external_links(h5) if links is None else links:
            if walker.skip_specifications and link_path.startswith("/specifications"):
                continue
            written = f"{target_file}::{target_path}"
            resolved = resolve_link_file(h5.filename, target_file)
            reason = None
            if resolved not in opened:
                try:
                    opened[resolved] = h5py.File(resolved, "r", locking=False)
                except (OSError, ValueError) as exc:
                    opened[resolved] = None
                    reason = (
                        "the file does not exist"
                        if not resolved.exists()
                        else f"it cannot be read ({_reason(exc)})"
                    )
            target = opened[resolved]
            if target is None:
                reason = reason or (
                    "the file does not exist" if not resolved.exists() else "it cannot be read"
                )
                reason = f"{resolved}: {reason}"
            elif target_path.strip("/") and target_path not in target:
                reason = f"{resolved} has no object {target_path}"
            if reason is not None:
                walker.entries.append(
                    IndexEntry(link_path, "broken_link", None, None, None, None, written)
                )
                walker.problems.append(
                    f"{walker.filename}: the external link {link_path} points to {written}, "
                    f"which cannot be followed ({reason})."
                )
                continue
            sub = _Walker(target, walker.series_types, skip_specifications=False)
            sub.walk(target_path if target_path.startswith("/") else "/" + target_path)
            walker.problems.extend(sub.problems)
            source_root = "/" + target_path.strip("/") if target_path.strip("/") else ""
            for number, entry in enumerate(sub.entries):
                rebased = (
                    link_path + entry.path[len(source_root) :]
                    if source_root
                    else (link_path + entry.path if entry.path != "/" else link_path)
                )
                walker.entries.append(
                    IndexEntry(
                        rebased,
                        entry.kind,
                        entry.neurodata_type,
                        entry.namespace,
                        entry.shape,
                        entry.dtype,
                        written if number == 0 else entry.link,
                    )
                )
            for series_path, facts in sub.series.items():
                rebased = (
                    link_path + series_path[len(source_root) :]
                    if source_root
                    else (link_path + series_path if series_path != "/" else link_path)
                )
                walker.series[rebased] = facts
    finally:
        for handle in opened.values():
            if handle is not None:
                handle.close()


#: What h5py raises on damaged metadata ("bad symbol table node signature", "wrong B-tree
#: signature", "message not aligned", "invalid link name", "too many links"…).
_DAMAGE = (RuntimeError, OSError, KeyError, ValueError, TypeError, UnicodeDecodeError)


def _reason(exc: BaseException) -> str:
    """The first line of an HDF5 error, without h5py's "Unable to …" boilerplate prefix."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text.strip().rstrip(".") or type(exc).__name__


def _child_names(group_id: h5py.h5g.GroupID) -> list[bytes]:
    names: list[bytes] = []
    group_id.links.iterate(lambda name: names.append(name) and None)
    return names


def build_index(
    h5: h5py.File, series_types: frozenset[str] = frozenset(), skip_specifications: bool = True
) -> FileIndex:
    """Walk every object once with H5Ovisit; read types, layouts and series facts.

    ``series_types`` names every TimeSeries type (from the catalogue, extensions included),
    so their ``data``/``starting_time``/``timestamps`` facts are read while the walk is there.
    """
    walker = _Walker(h5, frozenset(series_types), skip_specifications)
    walker.walk("/")
    _follow_external_links(h5, walker)
    index = FileIndex(None, walker.entries, walker.series, problems=walker.problems)
    _complete_linked_series(h5, index)
    return index


# -- the same walk on both cores ----------------------------------------------------------------
# h5py serialises every HDF5 call behind one lock (and H5Ovisit holds it for the whole walk),
# so threads cannot share the work, and a walk in the GUI process would freeze every other
# h5py call. Large files are therefore split into subtrees walked by worker processes; each
# worker also lists the external links of its subtrees (the parent only those of the top
# levels), so the parent does no whole-file H5Lvisit while the workers walk.
PARALLEL_THRESHOLD = 4000  # objects below the first levels; fewer is faster in one process
# An interactive process must not hold h5py's lock for long: it hands even small walks to
# the worker processes (kept running for short walks, so only the first pays their start;
# see _interactive_workers).
INTERACTIVE_THRESHOLD = 300
#: Objects (estimated) per batch handed to a worker on large files (see build_index_parallel).
BATCH_OBJECTS = 8_000
_shared_executor = None


def shared_executor(workers: int = 2):
    """Worker processes kept for the life of the application (spawned: safe under Qt)."""
    global _shared_executor
    if _shared_executor is None:
        import atexit
        import concurrent.futures
        import multiprocessing

        _shared_executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )
        atexit.register(_shared_executor.shutdown, wait=False, cancel_futures=True)
    return _shared_executor


def _interactive_workers(estimate: int):
    """The workers for an application's walk of ``estimate`` objects: the shared ones for a
    short walk (their start, ~0.4 s of CPU each, is paid once), none for a long one, which
    then starts its own and shuts them down as soon as they have answered. Idle shared
    workers that had walked 10^5 objects held ~68 MB each while the merged index was saved
    and the checks ran, which took the application past 400 MB for a moment."""
    return shared_executor() if estimate < PARALLEL_THRESHOLD else None


def _noop() -> None:
    return None


def walk_executor(workers: int = 2):
    """Worker processes for one walk in a command-line run, started now.

    Forked when that is safe (the platform forks, no Qt is loaded, this process runs one
    thread): a forked worker starts in ~10 ms with every module already imported, where a
    spawned one needs an interpreter and the imports (~0.4 s of CPU each, on a machine whose
    two cores are what the walk is split across). The workers are started before this returns
    (a first task makes the pool fork them all), so callers that create the pool before
    opening the file hand the workers no open HDF5 file. Spawned otherwise (a Qt process must
    not fork: its threads' locks would be copied in whatever state they are).
    """
    import concurrent.futures
    import multiprocessing
    import sys
    import threading

    method = "spawn"
    if (
        "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
        and not any(name == "PySide6" or name.startswith("PySide6.") for name in sys.modules)
    ):
        method = "fork"
    executor = concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context(method)
    )
    if method == "fork":
        executor.submit(_noop)  # forks every worker now (a fork pool starts them all at once)
    return executor


def _plan_units(h5: h5py.File, want: int) -> tuple[list[str], list[str], int]:
    """Split the file into subtrees: (groups recorded alone, subtrees to walk, object estimate)."""
    shallow: list[str] = []
    frontier = ["/"]
    estimate = 0
    for _depth in range(4):
        if len(frontier) >= want:
            break
        next_frontier: list[str] = []
        for path in frontier:
            group = h5[path]
            shallow.append(path)
            for name in group:
                child_path = f"/{name}" if path == "/" else f"{path}/{name}"
                link = group.get(name, getlink=True)
                if not isinstance(link, h5py.HardLink):
                    continue
                if path == "/" and name == "specifications":
                    continue
                child_id = h5py.h5o.get_info(group.id, name.encode())
                if child_id.type == h5py.h5o.TYPE_GROUP:
                    next_frontier.append(child_path)
                    estimate += h5py.h5g.open(group.id, name.encode()).get_num_objs()
                else:
                    shallow.append(child_path)
        frontier = next_frontier
    return shallow, frontier, estimate + _deeper_estimate(h5, frontier)


def _deeper_estimate(h5: h5py.File, units: list[str], sample: int = 8, per_unit: int = 4) -> int:
    """Objects one level below the units' members, extrapolated from a few of them.

    The plan stops descending once it has enough units, so its count covers only the units'
    own members: a file of 100 modules x 10 containers x 100 series was estimated at 1,102
    objects (it has 301 k) and walked in one process. Sampling a few members' sizes and
    scaling by the units' member counts puts the estimate in the right order of magnitude.
    """
    member_counts: list[int] = []
    sizes: list[int] = []
    step = max(1, len(units) // sample)
    for unit in units[::step][:sample]:
        group = h5py.h5g.open(h5.id, unit.lstrip("/").encode())
        members = group.get_num_objs()
        member_counts.append(members)
        for position in range(min(members, per_unit)):
            if group.get_objtype_by_idx(position) == h5py.h5g.GROUP:
                name = group.get_objname_by_idx(position)
                sizes.append(h5py.h5g.open(group, name).get_num_objs())
            else:
                sizes.append(0)
    if not member_counts or not sizes:
        return 0
    mean_members = sum(member_counts) / len(member_counts)
    mean_size = sum(sizes) / len(sizes)
    return int(len(units) * mean_members * mean_size)


_worker_file: h5py.File | None = None
#: A worker's metadata cache: the walk reads each object header once and right away, so a
#: small cache walks as fast as a large one, and HDF5 counts its size in bytes on disk where
#: the decoded headers take several times that in memory (at 4 MB a worker grew by ~40 MB;
#: at 512 kB by ~15 MB).
WORKER_METADATA_CACHE_BYTES = 512 * 1024


def _walk_units(path: str, units: list[str], series_types: frozenset[str]):
    global _worker_file
    from ndviewer.core.model.files import bound_metadata_cache, register_filters

    register_filters()
    release_free_memory()  # what the pickle of the previous batch's answer left
    _worker_file = h5py.File(path, "r", locking=False)
    try:
        bound_metadata_cache(_worker_file, WORKER_METADATA_CACHE_BYTES)
        walker = _Walker(_worker_file, series_types)
        links: list[tuple[str, str, str]] = []
        for unit in units:
            if not _walk_fast(walker, unit):
                walker.walk(unit)
            # the unit's external links, listed here while its metadata is in this process's
            # cache (the parent used to list the whole file's links itself, competing with the
            # workers for the cores and, in the GUI process, holding h5py's lock meanwhile)
            links.extend(external_links(_worker_file, unit))
    finally:
        # closed after each batch: HDF5 keeps a file's decoded metadata until it is closed
        # (~15 MB a worker), and an idle worker should not hold the file open
        _worker_file.close()
        _worker_file = None
    release_free_memory()
    return walker.entries, walker.series, walker.problems, links


def _walk_fast(walker: _Walker, start: str) -> bool:
    """``walker.walk(start)`` with the plain objects read through HDF5's C API (see
    :mod:`fastwalk`), the others through h5py as usual. Only for worker processes: the C
    calls bypass h5py's lock. False (and nothing recorded) when the C API is not available or
    the visit failed part-way (damaged metadata: the caller walks again, carefully)."""
    from ndviewer.core.model import fastwalk

    capi = fastwalk.api()
    if capi is None or not fastwalk.usable_on(capi, walker.file_id):
        return False
    file_id = walker.file_id
    prefix = start.strip("/").encode()
    try:
        start_id = h5py.h5o.open(file_id, prefix) if prefix else file_id
    except _DAMAGE:
        return False
    base = prefix + b"/" if prefix else b""
    recorder = fastwalk.FastRecorder(
        capi, file_id.id, walker.accept_data_type, shapes=walker._shapes
    )
    mark = len(walker.entries), dict(walker.series), len(walker.problems)
    entries, series, interned = walker.entries, walker.series, walker.interned
    series_types, skip = walker.series_types, walker.skip_specifications
    file_hid = file_id.id
    unusual = fastwalk.Unusual

    def fast(name: bytes, obj_type: int, num_attrs: int, token) -> None:
        if skip and (name == b"specifications" or name.startswith(b"specifications/")):
            return
        path = "/" + name.decode("utf-8", "replace")
        if obj_type == fastwalk.H5O_TYPE_GROUP:
            neurodata_type = namespace = None
            if num_attrs:
                group = capi.oopen_by_token(file_hid, token)
                if group < 0:
                    raise unusual
                try:
                    neurodata_type, namespace = recorder.type_of(group)
                finally:
                    capi.oclose(group)
            neurodata_type = interned(neurodata_type)
            entries.append(
                IndexEntry(path, "group", neurodata_type, interned(namespace), None, None)
            )
            if neurodata_type in series_types:
                series[path] = SeriesFacts()
            return
        if obj_type != fastwalk.H5O_TYPE_DATASET:
            return
        dataset = capi.oopen_by_token(file_hid, token)
        if dataset < 0:
            raise unusual
        try:
            neurodata_type = namespace = None
            if num_attrs:
                neurodata_type, namespace = recorder.type_of(dataset)
            shape = recorder.shape_of(dataset)
            dtype = recorder.dtype_of(dataset)
            parent, _, leaf = path.rpartition("/")
            facts = series.get(parent)
            if facts is not None:
                if leaf == "data":
                    unit = recorder.string_attr(dataset, b"unit")
                    facts.data_shape = shape
                    facts.unit = unit or None
                elif leaf == "starting_time":
                    if shape != ():
                        raise unusual
                    facts.starting_time = recorder.scalar_float(dataset)
                    facts.rate = recorder.float_attr(dataset, b"rate")
                elif leaf in _SERIES_LEAVES:
                    raise unusual
        finally:
            capi.oclose(dataset)
        entries.append(
            IndexEntry(path, "dataset", interned(neurodata_type), interned(namespace), shape, dtype)
        )

    def each(name: bytes, obj_type: int, num_attrs: int, token) -> None:
        name = prefix if name == b"." else base + name
        try:
            fast(name, obj_type, num_attrs, token)
        except Exception:  # noqa: BLE001 - not a plain case (or damaged): h5py's road decides
            try:
                walker.record(name, h5py.h5o.get_info(file_id, name or b"."))
            except _DAMAGE as exc:
                walker._unreadable("/" + name.decode("utf-8", "replace"), _reason(exc))

    if fastwalk.visit(capi, start_id.id, each):
        return True
    del walker.entries[mark[0] :]
    walker.series.clear()
    walker.series.update(mark[1])
    del walker.problems[mark[2] :]
    return False


#: Members of a series whose facts only h5py's road reads (``data`` and ``starting_time``
#: are read by the C road too).
_SERIES_LEAVES = frozenset({"num_samples", "external_file", "timestamps"})


def build_index_parallel(
    h5: h5py.File,
    series_types: frozenset[str] = frozenset(),
    workers: int = 2,
    executor=None,
    min_objects: int = PARALLEL_THRESHOLD,
) -> FileIndex:
    """``build_index`` split across worker processes when the file has ``min_objects`` or more
    objects below its first levels (fewer are walked here, in one go).

    ``executor``: the worker processes to use; or a function of the estimated object count
    that returns them, or None for processes of this walk's own (shut down after it).
    """
    if h5.driver == "fileobj":  # a URL or Zarr-less file object: workers could not reopen it
        return build_index(h5, series_types)
    try:
        shallow, units, estimate = _plan_units(h5, want=8 * workers)
        sizes = [
            (h5py.h5g.open(h5.id, unit.lstrip("/").encode()).get_num_objs(), unit) for unit in units
        ]
    except _DAMAGE:  # damaged near the top: the careful single-process walk names it
        return build_index(h5, series_types)
    if estimate < min_objects or not units:
        return build_index(h5, series_types)
    # deal units round-robin by size so both workers get a similar share
    sizes.sort(reverse=True)
    # Each batch comes back as one pickle of its entries, which the worker holds whole (and
    # keeps the memory of: its allocator rarely returns it), so a large file is dealt in
    # batches of some ~20 000 objects rather than in two per worker (on 301 k objects: 15
    # batches instead of 4 took the summed peak RSS of `info --no-cache` from 515 to 445 MB).
    count = max(workers * 2, min(64, estimate // BATCH_OBJECTS))
    count += -count % workers  # a whole round each: no worker left alone with the last batch
    batches: list[list[str]] = [[] for _ in range(count)]
    for i, (_, unit) in enumerate(sizes):
        batches[i % len(batches)].append(unit)
    if callable(executor):  # chosen once the size of the walk is known
        executor = executor(estimate)
    own = executor is None
    if own:
        executor = walk_executor(workers)
    try:
        futures = [
            executor.submit(_walk_units, h5.filename, batch, frozenset(series_types))
            for batch in batches
            if batch
        ]
        walker = _Walker(h5, frozenset(series_types))
        for path in shallow:
            walker.record_one(path)
        segments: list[list[IndexEntry]] | None = [[entry] for entry in walker.entries]
        links = _own_external_links(h5, shallow)  # the workers list those of their units
        for number, batch in enumerate(b for b in batches if b):
            sub_entries, sub_series, sub_problems, sub_links = futures[number].result()
            futures[number] = None  # its answer (a batch's lists and dictionary) can go
            walker.entries.extend(sub_entries)
            walker.series.update(sub_series)
            walker.problems.extend(sub_problems)
            links.extend(sub_links)
            if segments is not None:
                segments = _add_unit_segments(segments, batch, sub_entries)
    finally:
        if own:
            executor.shutdown(wait=False, cancel_futures=True)
    links.sort(key=_link_order)
    walked = len(walker.entries)
    _follow_external_links(h5, walker, links)
    if segments is not None and len(walker.entries) == walked:
        # each unit's entries are in walk order already: only the units and the objects of
        # the top levels are put in order (the whole list sorted by path took 301 k key
        # strings, ~30 MB, on a file of 10^5 typed objects)
        segments.sort(key=lambda segment: _walk_order(segment[0]))
        entries = [entry for segment in segments for entry in segment]
    else:  # linked files' objects land inside units: everything is put in order
        entries = sorted(walker.entries, key=_walk_order)
    del segments, walker.entries
    index = FileIndex(None, entries, walker.series, problems=walker.problems)
    _complete_linked_series(h5, index)
    release_free_memory()  # the batches' pickles and lists
    return index


def _add_unit_segments(
    segments: list[list[IndexEntry]], units: list[str], entries: list[IndexEntry]
) -> list[list[IndexEntry]] | None:
    """``segments`` plus one per unit of a worker's batch (its entries start with the unit's
    own, in the order the units were walked); None when they do not (then all is sorted)."""
    starts = []
    position = 0
    for unit in units:
        while position < len(entries) and entries[position].path != unit:
            position += 1
        if position == len(entries) or (not starts and position != 0):
            return None
        starts.append(position)
        position += 1
    starts.append(len(entries))
    segments.extend(entries[a:b] for a, b in itertools.pairwise(starts))
    return segments


def _walk_order(entry: IndexEntry) -> str:
    """Sort key giving H5Ovisit's order: parents first, siblings by name, depth first.

    Sorting plain path strings differs from it ("/a-b" sorts before "/a/x"), so the parallel
    index would list objects in another order than the single-process walk. Comparing the
    paths with "/" replaced by NUL (which no HDF5 name can hold, so it sorts below every
    character of a name) is comparing them name by name, as ``path.split("/")`` would, with
    one string per key instead of a list of strings (on 301 k entries: ~90 MB less at the
    peak, and faster).
    """
    return entry.path.replace("/", "\x00")


def _collect_series_fact(
    facts: SeriesFacts, leaf: str, dataset_id: h5py.h5d.DatasetID, shape: tuple[int, ...]
) -> None:
    if leaf == "data":
        facts.data_shape = shape
        facts.unit = _read_string_attr(dataset_id, b".", b"unit") or None
    elif leaf == "starting_time":
        facts.starting_time = _read_scalar_float(dataset_id)
        facts.rate = _read_float_attr(dataset_id, b"rate")
    elif leaf == "num_samples":
        value = _read_scalar_float(dataset_id)
        facts.num_samples = int(value) if value is not None and value >= 0 else None
    elif leaf == "external_file":
        facts.external_files = int(shape[0]) if shape else 1
    elif leaf == "timestamps":
        n = shape[0] if shape else 0
        facts.timestamps_count = n
        endpoints = _read_endpoints(dataset_id, n)
        if endpoints is not None:
            facts.first_timestamp, facts.last_timestamp = endpoints


def _complete_linked_series(h5: h5py.File, index: FileIndex) -> None:
    """Series whose data or timestamps are links to another object were not seen in the walk."""
    for path, facts in index.series.items():
        no_time_axis = facts.starting_time is None and facts.timestamps_count is None
        if facts.data_shape is not None and not no_time_axis:
            continue
        group = None
        for leaf, missing in (
            ("data", facts.data_shape is None),
            ("starting_time", no_time_axis),
            ("timestamps", no_time_axis),
        ):
            if not missing:
                continue
            try:  # a link cycle or damaged link raises: the fact stays unknown
                group = group if group is not None else h5.get(path)
                dataset = group.get(leaf) if group is not None else None
                if isinstance(dataset, h5py.Dataset):
                    _collect_series_fact(facts, leaf, dataset.id, dataset.shape)
            except _DAMAGE:
                continue


# -- persistence ------------------------------------------------------------------------------
@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while hundreds of thousands of tuples are made.

    Those allocations trigger collections that walk every object made so far (none of which
    can be garbage yet): reopening a file of 10^5 typed objects took 0.72 s, 0.28 s with the
    collector paused.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


#: The indexes alive in this process, by the identity of their file: a second reader of the
#: same unchanged file (the GUI's background checks, after the tab's own index) shares the
#: one in memory instead of loading another copy (~100 MB for 10^5 typed objects).
_alive: weakref.WeakValueDictionary[FileIdentity, FileIndex] = weakref.WeakValueDictionary()


def load_cached_index(identity: FileIdentity) -> FileIndex | None:
    """The persisted index if it was built from this very file (same path, size and mtime);
    the one already in memory, if there is one."""
    alive = _alive.get(identity)
    if alive is not None:  # its entries, series and paths shared, not copied
        shared = copy.copy(alive)
        shared.from_cache = True
        return shared
    index = _load_cached_index(identity)
    if index is not None:
        _alive[identity] = index
    return index


#: SeriesFacts' fields in order: the columns of the persisted series (and of the rows the
#: checks hand to their worker process).
SERIES_FIELDS = tuple(f.name for f in fields(SeriesFacts))


def _load_cached_index(identity: FileIdentity) -> FileIndex | None:
    with _gc_paused():
        payload = cache.load("index", identity, str(INDEX_FORMAT))
        if payload is None:
            return None
        try:
            columns = payload["columns"]
            names = payload["names"]
            shapes = payload["shapes"]
            paths = columns["path"]
            named = [
                [names[code] for code in columns[column]]
                for column in ("kind", "neurodata_type", "namespace", "dtype")
            ]
            shape_column = [shapes[code] for code in columns["shape"]]
            links = [None] * len(paths)
            for row, link in columns["link"].items():
                links[row] = link
            entries = list(
                map(
                    IndexEntry._make,
                    zip(paths, named[0], named[1], named[2], shape_column, named[3], links),
                )
            )
            del named, shape_column, links
            stored = payload["series"]
            values = [stored[name] for name in SERIES_FIELDS]
            values[0] = [shapes[code] for code in values[0]]  # data_shape
            values[1] = [names[code] for code in values[1]]  # unit
            rows = array.array("q")
            rows.frombytes(stored["rows"])
            keys = [paths[row] for row in rows] + list(stored["others"])
            series = {key: SeriesFacts(*row) for key, *row in zip(keys, *values)}
            problems = list(payload.get("problems", []))
        except (KeyError, TypeError, IndexError, AttributeError, ValueError):
            return None
        return FileIndex(identity, entries, series, from_cache=True, problems=problems)


def save_index(index: FileIndex) -> None:
    """Persist the index by columns, with no copy of the entries (on 301 k entries, copying
    them to plain tuples and the pickler's memo of them took ~50 MB while saving): paths as
    one list of the entries' own strings; kinds, types, namespaces, dtypes and shapes as
    codes into short tables of the distinct values; series as columns whose paths are rows
    of the entries. Nothing is written twice, so the pickler keeps no memo."""
    if index.identity is None:
        return
    entries = index.entries
    codes: dict[str | None, int] = {None: 0}
    shape_codes: dict[tuple[int, ...] | None, int] = {None: 0}

    def coded(values, table) -> bytes | list[int]:
        column = [table.setdefault(value, len(table)) for value in values]
        return bytes(column) if len(table) <= 256 else column

    columns = {
        "path": [e.path for e in entries],
        "kind": coded((e.kind for e in entries), codes),
        "neurodata_type": coded((e.neurodata_type for e in entries), codes),
        "namespace": coded((e.namespace for e in entries), codes),
        "shape": coded((e.shape for e in entries), shape_codes),
        "dtype": coded((e.dtype for e in entries), codes),
        "link": {row: e.link for row, e in enumerate(entries) if e.link is not None},
    }
    # series in the entries' order, by row; a series path that is no entry's (none, unless
    # the index was made by hand) is kept as text, after them
    series = index.series
    rows = array.array("q", (row for row, e in enumerate(entries) if e.path in series))
    facts = [series[entries[row].path] for row in rows]
    listed = {entries[row].path for row in rows} if len(rows) != len(series) else series
    others = [path for path in series if path not in listed]
    facts += [series[path] for path in others]
    stored: dict[str, object] = {
        "rows": rows.tobytes(),
        "others": others,
        **{name: [getattr(f, name) for f in facts] for name in SERIES_FIELDS[2:]},
        "data_shape": coded((f.data_shape for f in facts), shape_codes),
        "unit": coded((f.unit for f in facts), codes),  # a few distinct units, 10^5 times
    }
    del facts, listed
    cache.save(
        "index",
        index.identity,
        str(INDEX_FORMAT),
        {
            "columns": columns,
            "names": list(codes),
            "shapes": list(shape_codes),
            "problems": list(index.problems),
            "series": stored,
        },
        unshared=True,
    )


def file_index(
    h5: h5py.File,
    identity: FileIdentity,
    series_types: frozenset[str] = frozenset(),
    use_cache: bool = True,
    parallel: bool = True,
    interactive: bool = False,
) -> FileIndex:
    """The index of an open file, from the persisted cache when the file is unchanged.

    ``interactive``: called from an application that must stay responsive, so any walk of
    more than a few hundred objects runs in the shared worker processes.
    """
    if use_cache:
        cached = load_cached_index(identity)
        if cached is not None:
            return cached
    if not parallel:
        index = build_index(h5, series_types)
    elif interactive:
        index = build_index_parallel(
            h5, series_types, executor=_interactive_workers, min_objects=INTERACTIVE_THRESHOLD
        )
    else:
        index = build_index_parallel(h5, series_types)
    index.identity = identity
    if use_cache:
        save_index(index)
        release_free_memory()
        _alive[identity] = index
    return index
