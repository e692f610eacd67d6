"""The only door through which ndviewer writes files: changes, transactions, journal, undo.

A user's edit is a ``Change`` of one ``Location`` (a dataset, a link, a group, or one attribute)
from an old to a new value. ``EditSession`` keeps the edits made to one file with undo/redo and
reduces them to the net pending changes (old on disk → new); ``Transaction.commit(path)`` writes
them as one unit:

1. check the file can be written (permissions, no HDF5 lock held by another program, no earlier
   interrupted save) and that nothing changed on disk since the values were read;
2. validate every new value against its spec (dtype, shape, best-practice validators) and the
   storage it will land in (an ASCII string cannot hold "é");
3. write a journal of the prior state of every location next to the file and fsync it;
4. write each change in place, preserving the field's on-disk form (scalar vs array, vlen UTF-8
   vs ASCII vs fixed-length), flushing HDF5 after each so that the file on disk always holds,
   for every field, either its old or its new value;
5. close, fsync, reopen read-only and verify every location; on a mismatch restore the prior
   state from the journal;
6. remove the journal.

A journal found when a file is opened means a save was interrupted: ``rollback_journal`` writes
the prior values back (it is idempotent, so an interrupted rollback can be rerun) and
``discard_journal`` keeps the file as it is.

The viewer's own read handle must be closed before ``commit`` (HDF5 refuses to open a file for
writing that the same process has open read-only): the caller closes, commits on the *path*,
and reopens. ``EditSession`` reads old values through an optional open handle for that reason.
"""

from __future__ import annotations

import json
import os
import posixpath
import signal
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

try:  # POSIX advisory locks, the same HDF5 uses (see _Writer)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

from ndviewer.core.edit import validators
from ndviewer.core.errors import EditError
from ndviewer.core.model.values import decode_text, decode_value

JOURNAL_SUFFIX = ".ndviewer-journal"
JOURNAL_FORMAT = "ndviewer-edit-journal"
# Test hook: ``NDVIEWER_EDIT_FAULT=<point>`` kills the process at that point of a save, so the
# fault-injection tests can check what a crash leaves behind. Points are named in ``_fault``.
FAULT_ENV = "NDVIEWER_EDIT_FAULT"
_TMP_SUFFIX = ".ndviewer-tmp"


# -- values ----------------------------------------------------------------------------------------
class _Absent:
    """The value of a location that does not exist (before creation, after deletion)."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()


@dataclass(frozen=True, order=True)
class Location:
    """Where a value lives: an object path, and optionally one of its attributes."""

    path: str
    attribute: str | None = None

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            object.__setattr__(self, "path", "/" + self.path)

    def __str__(self) -> str:
        return self.path if self.attribute is None else f"{self.path}@{self.attribute}"

    @property
    def depth(self) -> int:
        return len([p for p in self.path.split("/") if p])

    @property
    def parent(self) -> str:
        return posixpath.dirname(self.path) or "/"

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)


@dataclass(frozen=True)
class Link:
    """A soft link's value: the absolute path of its target (e.g. ElectrodeGroup → Device)."""

    target: str

    def __str__(self) -> str:
        return f"link to {self.target}"


@dataclass(frozen=True)
class GroupValue:
    """A group's value: its type identity. Creating one writes exactly these attributes."""

    neurodata_type: str | None = None
    namespace: str | None = None
    object_id: str | None = None

    @classmethod
    def new(cls, neurodata_type: str, namespace: str) -> GroupValue:
        """A new typed group with a fresh UUID4 ``object_id``, as pynwb writes them."""
        return cls(neurodata_type, namespace, str(uuid.uuid4()))

    def __str__(self) -> str:
        if self.neurodata_type is None:
            return "(group)"
        return f"{self.neurodata_type} group (object_id {self.object_id})"


@dataclass(frozen=True)
class ValueSpec:
    """What the spec says about a value, used to validate it and to create it if absent.

    ``dtype``/``shape`` are the NWB spec's (``"text"``, ``"isodatetime"``, ``"float32"``;
    ``None`` scalar, ``[None]`` list); an existing dataset or attribute keeps its own on-disk
    dtype instead. ``attrs`` are attributes written along with a newly created dataset (spec
    defaults, e.g. ``age`` gets ``reference="birth"``). ``required`` lists, for a new typed
    group, the members that must exist when it is saved, with a label for the message.
    """

    label: str = ""
    dtype: Any = "text"
    shape: Any = None
    validators: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    attrs: tuple[tuple[str, Any, Any], ...] = ()
    required: tuple[tuple[Location, str], ...] = ()


@dataclass(frozen=True)
class Change:
    """One location going from ``old`` to ``new``."""

    location: Location
    old: Any
    new: Any
    spec: ValueSpec = field(default_factory=ValueSpec)

    def describe(self) -> str:
        """``/general/subject/species: (absent) → 'Mus musculus'``: one line of the diff."""
        return f"{self.location}: {format_value(self.old)} → {format_value(self.new)}"


def format_value(value: Any) -> str:
    """A short readable form of a value for diffs and messages."""
    if value is ABSENT:
        return "(absent)"
    if isinstance(value, Link | GroupValue):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def normalize(value: Any) -> Any:
    """Plain comparable Python: numpy scalars/arrays to numbers/lists, bytes to str."""
    if isinstance(value, np.ndarray):
        return [normalize(v) for v in value.tolist()] if value.ndim else normalize(value[()])
    if isinstance(value, np.generic):
        return normalize(value.item())
    if isinstance(value, bytes):
        return decode_text(value)
    if isinstance(value, tuple):
        return [normalize(v) for v in value]
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def values_equal(a: Any, b: Any) -> bool:
    """Equality after normalisation (``[1.0]`` from disk equals ``(1.0,)`` typed in)."""
    a, b = normalize(a), normalize(b)
    if type(a) is not type(b) and not (isinstance(a, int | float) and isinstance(b, int | float)):
        return False
    return a == b


def check_value(spec: ValueSpec, value: Any) -> list[str]:
    """Problems with ``value`` for a field described by ``spec`` (empty list: fine)."""
    if value is ABSENT or isinstance(value, Link | GroupValue):
        return []
    problems: list[str] = []
    for problem in (
        validators.check_shape(value, spec.shape),
        validators.check_dtype(value, spec.dtype),
    ):
        if problem:
            problems.append(problem)
    if problems:
        return [_labelled(spec, p) for p in problems]
    for name in spec.validators:
        problem = validators.validate(name, value)
        if problem:
            problems.append(problem)
    if spec.choices and not problems:  # a validator's message (with examples) says it better
        for item in value if isinstance(value, list) else [value]:
            if item not in spec.choices:
                problems.append(f"'{item}' is not one of: {', '.join(map(str, spec.choices))}.")
    return [_labelled(spec, p) for p in problems]


def coerce(spec: ValueSpec, value: Any) -> Any:
    """``value`` in the Python type the spec dtype asks for (920 → 920.0 for a float field)."""
    if value is ABSENT or isinstance(value, Link | GroupValue):
        return value
    value = normalize(value)
    if validators.dtype_family(spec.dtype) != "float":
        return value
    if isinstance(value, list):
        return [float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _labelled(spec: ValueSpec, problem: str) -> str:
    if not spec.label or problem.lower().startswith(spec.label.lower()):
        return problem  # the validator already names the field
    return f"{spec.label}: {problem}"


# -- reading what is on disk ------------------------------------------------------------------------
def read_value(h5: h5py.File, location: Location) -> Any:
    """The value at ``location`` in plain Python (see ``normalize``), or ``ABSENT``."""
    link = h5.get(location.path, getlink=True) if location.path != "/" else h5py.HardLink()
    if link is None:
        return ABSENT
    if location.attribute is not None:
        obj = h5.get(location.path)
        if obj is None or location.attribute not in obj.attrs:
            return ABSENT
        return normalize(decode_value(obj.attrs[location.attribute], h5))
    if isinstance(link, h5py.SoftLink):
        return Link(_absolute(location.path, link.path))
    if isinstance(link, h5py.ExternalLink):
        return Link(f"{link.filename}::{link.path}")
    obj = h5[location.path]
    if isinstance(obj, h5py.Group):
        attrs = obj.attrs
        neurodata_type = attrs.get("neurodata_type", attrs.get("data_type"))
        return GroupValue(
            None if neurodata_type is None else decode_value(neurodata_type),
            None if "namespace" not in attrs else decode_value(attrs["namespace"]),
            None if "object_id" not in attrs else decode_value(attrs["object_id"]),
        )
    return normalize(decode_value(obj[()], h5))


def _absolute(link_path: str, target: str) -> str:
    if target.startswith("/"):
        return target
    return posixpath.normpath(posixpath.join(posixpath.dirname(link_path), target))


# -- stored states: what a location holds, exactly enough to write it back --------------------------
# A state is JSON-able (it goes into the journal):
#   {"kind": "absent"}
#   {"kind": "dataset", "dtype": D, "shape": [...], "value": V, "attrs": {name: attr state},
#    "layout": {...}}
#   {"kind": "attribute", "dtype": D, "shape": [...], "value": V}
#   {"kind": "soft_link", "target": "/path"}, {"kind": "external_link", ...}
#   {"kind": "group", "attrs": {name: attr state}}
# D is {"string": "utf-8"|"ascii", "length": None|n}, {"numpy": "<f8"} or {"reference": "object"}.
def _dtype_desc(dtype: np.dtype) -> dict:
    string_info = h5py.check_string_dtype(dtype)
    if string_info is not None:
        return {"string": string_info.encoding, "length": string_info.length}
    if h5py.check_ref_dtype(dtype) is not None:
        return {"reference": "object"}
    if dtype.names or dtype.kind in "OV":
        return {"unsupported": str(dtype)}
    return {"numpy": dtype.str}


def _dtype_from_desc(desc: dict) -> np.dtype:
    if "string" in desc:
        return h5py.string_dtype(desc["string"], desc["length"])
    if "reference" in desc:
        return h5py.ref_dtype
    if "numpy" in desc:
        return np.dtype(desc["numpy"])
    raise EditError(f"Cannot write a value of HDF5 type {desc.get('unsupported')}.")


def _to_json(value: Any, h5: h5py.File) -> Any:
    if isinstance(value, np.ndarray):
        return [_to_json(v, h5) for v in value.tolist()] if value.ndim else _to_json(value[()], h5)
    if isinstance(value, h5py.Reference):
        return {"$ref": h5[value].name if value else None}
    if isinstance(value, np.generic):
        return _to_json(value.item(), h5)
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, list | tuple):
        return [_to_json(v, h5) for v in value]
    return value


def _from_json(value: Any, h5: h5py.File) -> Any:
    if isinstance(value, dict):
        if "$ref" in value:
            return h5[value["$ref"]].ref if value["$ref"] else h5py.Reference()
        if "$bytes" in value:
            return bytes.fromhex(value["$bytes"])
    if isinstance(value, list):
        return [_from_json(v, h5) for v in value]
    return value


def _stored_json(raw: Any, dtype: np.dtype, h5: h5py.File) -> Any:
    """JSON of a raw value; variable-length strings as text when they decode cleanly."""
    value = _to_json(raw, h5)
    string_info = h5py.check_string_dtype(dtype)
    if string_info is None or string_info.length is not None:
        return value
    return _decode_vlen(value, string_info.encoding)


def _decode_vlen(value: Any, encoding: str) -> Any:
    if isinstance(value, list):
        return [_decode_vlen(v, encoding) for v in value]
    if isinstance(value, dict) and "$bytes" in value:
        try:
            return bytes.fromhex(value["$bytes"]).decode(encoding)
        except UnicodeDecodeError:
            return value  # e.g. Latin-1 in a "UTF-8" string: keep the exact bytes
    return value


def _attr_state(obj: h5py.HLObject, name: str, h5: h5py.File) -> dict:
    attr_id = obj.attrs.get_id(name)
    raw = obj.attrs[name]
    return {
        "kind": "attribute",
        "dtype": _dtype_desc(attr_id.dtype),
        "shape": list(attr_id.shape) if attr_id.shape is not None else None,
        "value": _stored_json(raw, attr_id.dtype, h5),
    }


def read_state(h5: h5py.File, location: Location) -> dict:
    """The exact stored state of ``location`` (for the journal and for verification)."""
    link = h5.get(location.path, getlink=True) if location.path != "/" else h5py.HardLink()
    if link is None:
        return {"kind": "absent"}
    if location.attribute is not None:
        obj = h5.get(location.path)
        if obj is None or location.attribute not in obj.attrs:
            return {"kind": "absent"}
        return _attr_state(obj, location.attribute, h5)
    if isinstance(link, h5py.SoftLink):
        return {"kind": "soft_link", "target": link.path}
    if isinstance(link, h5py.ExternalLink):
        return {"kind": "external_link", "file": link.filename, "path": link.path}
    obj = h5[location.path]
    attrs = {name: _attr_state(obj, name, h5) for name in obj.attrs}
    if isinstance(obj, h5py.Group):
        return {"kind": "group", "attrs": attrs}
    layout = {
        "chunks": list(obj.chunks) if obj.chunks else None,
        "maxshape": [m for m in obj.maxshape] if obj.maxshape is not None else None,
        "compression": obj.compression,
        "compression_opts": obj.compression_opts,
        "shuffle": obj.shuffle,
        "fletcher32": obj.fletcher32,
    }
    return {
        "kind": "dataset",
        "dtype": _dtype_desc(obj.dtype),
        "shape": list(obj.shape) if obj.shape is not None else None,
        "value": _stored_json(obj[()], obj.dtype, h5),
        "attrs": attrs,
        "layout": layout,
    }


def _new_dtype_desc(spec_dtype: Any, value: Any) -> dict:
    """How pynwb/hdmf would store a new value of this spec dtype."""
    family = validators.dtype_family(spec_dtype)
    if family == "text":
        return {"string": "utf-8", "length": None}
    if family in ("ascii", "datetime"):
        return {"string": "ascii", "length": None}
    if family == "float":
        # hdmf writes Python floats as float64 even where the spec says float32.
        return {"numpy": "<f8"}
    if family == "int":
        name = str(spec_dtype).lower()
        return {
            "numpy": np.dtype(
                name
                if name.startswith("uint") and name != "uint"
                else "uint32"
                if name == "uint"
                else "int64"
            ).str
        }
    if family == "bool":
        return {"numpy": "|b1"}
    # Unknown spec dtype: infer from the value.
    sample = value[0] if isinstance(value, list) and value else value
    if isinstance(sample, bool):
        return {"numpy": "|b1"}
    if isinstance(sample, int):
        return {"numpy": "<i8"}
    if isinstance(sample, float):
        return {"numpy": "<f8"}
    return {"string": "utf-8", "length": None}


def _value_json(value: Any, desc: dict) -> Any:
    """The new value as it is written for ``desc`` (fixed-length strings carry bytes)."""
    if "string" in desc and desc["length"] is not None:
        encoding = desc["string"]
        if isinstance(value, list):
            return [{"$bytes": v.encode(encoding).hex()} for v in value]
        return {"$bytes": value.encode(encoding).hex()}
    return value


def _fits(value: Any, desc: dict) -> str | None:
    """Can ``value`` be stored with this dtype without loss? A reason if not."""
    items = value if isinstance(value, list) else [value]
    if "string" in desc:
        for item in items:
            if not isinstance(item, str):
                return f"{item!r} is not text"
            if desc["string"] == "ascii" and not item.isascii():
                return f"'{item}' has non-ASCII characters but the file stores this field as ASCII"
        return None
    if "numpy" in desc:
        dtype = np.dtype(desc["numpy"])
        for item in items:
            if isinstance(item, str):
                return f"'{item}' is not a number"
            if dtype.kind in "iu":
                if isinstance(item, float) and not float(item).is_integer():
                    return f"{item} is not a whole number but the file stores integers"
                info = np.iinfo(dtype)
                if not info.min <= int(item) <= info.max:
                    return f"{item} does not fit in the file's {dtype}"
            elif dtype.kind == "b" and not isinstance(item, bool):
                return f"{item!r} is not true or false"
        return None
    return "the file stores this field in a form ndviewer cannot write"


def target_state(prior: dict, change: Change) -> dict:
    """The state ``change.new`` should leave at its location, keeping the prior on-disk form."""
    new = change.new
    if new is ABSENT:
        return {"kind": "absent"}
    if isinstance(new, Link):
        return {"kind": "soft_link", "target": new.target}
    if isinstance(new, GroupValue):
        attrs = {}
        for name, text in (
            ("namespace", new.namespace),
            ("neurodata_type", new.neurodata_type),
            ("object_id", new.object_id),
        ):
            if text is not None:
                attrs[name] = {
                    "kind": "attribute",
                    "dtype": {"string": "utf-8", "length": None},
                    "shape": [],
                    "value": text,
                }
        return {"kind": "group", "attrs": attrs}
    value = normalize(new)
    where = str(change.location)
    kind = "attribute" if change.location.attribute is not None else "dataset"
    if prior["kind"] == kind:
        desc = dict(prior["dtype"])
        prior_shape = prior["shape"]
        if prior_shape in ([], None) and isinstance(value, list) and len(value) == 1:
            value = value[0]  # older files store e.g. experimenter as one string
        if prior_shape in ([], None) and isinstance(value, list):
            raise EditError(f"{where} holds one value in the file; a list cannot be stored there.")
        if prior_shape not in ([], None) and len(prior_shape) > 1:
            raise EditError(
                f"{where} is a {len(prior_shape)}-D array; ndviewer edits only "
                "single values and lists."
            )
        if prior_shape not in ([], None) and not isinstance(value, list):
            value = [value]
        if "string" in desc and desc["length"] is not None:
            items = value if isinstance(value, list) else [value]
            longest = max(
                (len(v.encode(desc["string"])) for v in items if isinstance(v, str)), default=1
            )
            # A longer value in a fixed-length string would be silently truncated: widen.
            desc["length"] = max(desc["length"], longest)
    elif prior["kind"] == "absent":
        desc = _new_dtype_desc(change.spec.dtype, value)
    else:
        raise EditError(
            f"{where} is a {prior['kind'].replace('_', ' ')} in the file, not a "
            f"{kind}; ndviewer will not replace it."
        )
    problem = _fits(value, desc)
    if problem:
        raise EditError(f"Cannot store the new value of {where}: {problem}.")
    shape = [len(value)] if isinstance(value, list) else []
    state = {"kind": kind, "dtype": desc, "shape": shape, "value": _value_json(value, desc)}
    if kind == "dataset":
        if prior["kind"] == "dataset":
            state["attrs"] = prior["attrs"]
            state["layout"] = prior["layout"]
        else:
            state["attrs"] = {
                name: {
                    "kind": "attribute",
                    "dtype": _new_dtype_desc(dtype, attr_value),
                    "shape": [len(attr_value)] if isinstance(attr_value, list) else [],
                    "value": attr_value,
                }
                for name, attr_value, dtype in change.spec.attrs
            }
            state["layout"] = None
    return state


# -- writing states ------------------------------------------------------------------------------
def _array(h5: h5py.File, state: dict) -> tuple[Any, np.dtype]:
    dtype = _dtype_from_desc(state["dtype"])
    value = _from_json(state["value"], h5)
    shape = tuple(state["shape"]) if state["shape"] is not None else None
    if shape is None:
        return h5py.Empty(dtype), dtype
    return np.array(value, dtype=dtype).reshape(shape), dtype


def _write_attribute(h5: h5py.File, obj: h5py.HLObject, name: str, state: dict) -> None:
    data, dtype = _array(h5, state)
    obj.attrs.create(name, data, dtype=dtype)


def _layout_kwargs(layout: dict | None, shape: tuple) -> dict:
    if not layout or not layout.get("chunks") or not shape:
        return {}
    kwargs: dict[str, Any] = {
        "chunks": True
        if layout["chunks"] is None
        else tuple(min(c, max(s, 1)) for c, s in zip(layout["chunks"], shape, strict=False))
    }
    if layout.get("maxshape") is not None:
        kwargs["maxshape"] = tuple(layout["maxshape"])
    for key in ("compression", "compression_opts", "shuffle", "fletcher32"):
        if layout.get(key):
            kwargs[key] = layout[key]
    return kwargs


def _write_dataset(h5: h5py.File, path: str, state: dict) -> None:
    data, dtype = _array(h5, state)
    shape = tuple(state["shape"])
    existing = h5.get(path, getlink=True)
    if isinstance(existing, h5py.HardLink):
        obj = h5[path]
        if isinstance(obj, h5py.Dataset) and obj.dtype == dtype:
            if obj.shape == shape:
                obj[()] = data
                return
            if (
                obj.chunks
                and obj.maxshape is not None
                and all(m is None or m >= s for m, s in zip(obj.maxshape, shape, strict=False))
                and len(obj.shape) == len(shape)
            ):
                obj.resize(shape)
                obj[()] = data
                return
    # Recreate: build the new dataset beside the old, then swap names, copying attributes.
    tmp = path + _TMP_SUFFIX
    if h5.get(tmp, getlink=True) is not None:
        del h5[tmp]
    new = h5.create_dataset(
        tmp, data=data, dtype=dtype, **_layout_kwargs(state.get("layout"), shape)
    )
    if isinstance(existing, h5py.HardLink) and isinstance(h5[path], h5py.Dataset):
        old = h5[path]
        for name in old.attrs:
            new.attrs.create(name, old.attrs[name], dtype=old.attrs.get_id(name).dtype)
    else:
        for name, attr_state in (state.get("attrs") or {}).items():
            _write_attribute(h5, new, name, attr_state)
    if existing is not None:
        del h5[path]
    h5.move(tmp, path)


def write_state(h5: h5py.File, location: Location, state: dict) -> None:
    """Make ``location`` hold ``state`` (used both to apply changes and to roll them back)."""
    kind = state["kind"]
    if location.attribute is not None:
        obj = h5.get(location.path)
        if kind == "absent":
            if obj is not None and location.attribute in obj.attrs:
                del obj.attrs[location.attribute]
            return
        if obj is None:
            raise EditError(f"Cannot set attribute {location}: {location.path} does not exist.")
        _write_attribute(h5, obj, location.attribute, state)
        return
    existing = h5.get(location.path, getlink=True)
    if kind == "absent":
        if existing is not None:
            obj = h5.get(location.path) if isinstance(existing, h5py.HardLink) else None
            if isinstance(obj, h5py.Group) and len(obj):
                raise EditError(
                    f"Cannot remove {location.path}: it still contains {', '.join(list(obj)[:5])}."
                )
            del h5[location.path]
        return
    if kind in ("soft_link", "external_link"):
        if existing is not None:
            if (
                isinstance(existing, h5py.SoftLink)
                and kind == "soft_link"
                and existing.path == state["target"]
            ):
                return
            del h5[location.path]
        h5[location.path] = (
            h5py.SoftLink(state["target"])
            if kind == "soft_link"
            else h5py.ExternalLink(state["file"], state["path"])
        )
        return
    if kind == "group":
        if existing is not None and not isinstance(existing, h5py.HardLink):
            del h5[location.path]
            existing = None
        group = h5[location.path] if existing is not None else h5.create_group(location.path)
        for name, attr_state in state["attrs"].items():
            if name not in group.attrs or _attr_state(group, name, h5) != attr_state:
                _write_attribute(h5, group, name, attr_state)
        return
    if kind == "dataset":
        if existing is not None and not isinstance(existing, h5py.HardLink):
            del h5[location.path]
        _write_dataset(h5, location.path, state)
        return
    raise EditError(f"Cannot write {location}: unknown stored kind {kind!r}.")


def states_match(actual: dict, expected: dict) -> bool:
    """Does the state read back equal the one written? (attrs/layout of datasets excluded)."""
    if actual["kind"] != expected["kind"]:
        return False
    if expected["kind"] == "group":
        return all(actual["attrs"].get(name) == attr for name, attr in expected["attrs"].items())
    if expected["kind"] in ("dataset", "attribute"):
        return (
            actual["dtype"] == expected["dtype"]
            and actual["shape"] == expected["shape"]
            and _same_json(actual["value"], expected["value"])
        )
    return actual == expected


def _same_json(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return a == b


# -- file access -----------------------------------------------------------------------------------
def journal_path(path: str | os.PathLike) -> Path:
    """Where the journal of an in-progress save of ``path`` lives (next to the file)."""
    file_path = Path(path)
    return file_path.with_name(file_path.name + JOURNAL_SUFFIX)


def _fault(point: str) -> None:
    """Kill this process at ``point`` when the fault-injection test asks for it."""
    if os.environ.get(FAULT_ENV) == point:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems (and Windows dirs) refuse
        pass
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    if os.name != "nt":
        _fsync_path(folder)


def check_writable(path: str | os.PathLike) -> None:
    """Raise ``EditError`` with the reason unless ``path`` can be saved safely right now."""
    file_path = Path(path)
    if not file_path.is_file():
        raise EditError(f"Cannot save {file_path}: the file does not exist.")
    if not os.access(file_path, os.W_OK):
        raise EditError(f"Cannot save {file_path}: the file is read-only (no write permission).")
    if not os.access(file_path.parent, os.W_OK):
        raise EditError(
            f"Cannot save {file_path}: its folder is read-only, so the safety "
            "journal cannot be written next to it."
        )
    if journal_path(file_path).exists():
        raise EditError(
            f"Cannot save {file_path}: an earlier save was interrupted; roll it back "
            "or keep it before saving again."
        )
    _open_for_writing(file_path).close()


def _lock_reason(text: str) -> str:
    lowered = text.lower()
    if "already open" in lowered:
        return "it is still open in this program; close every view of it before saving"
    if "lock" in lowered or "temporarily unavailable" in lowered or "would block" in lowered:
        return "another program has it open (HDF5 file lock); close it there and save again"
    if "permission" in lowered:
        return "permission denied"
    first = text.splitlines()[0] if text else "unknown error"
    return f"HDF5 could not open it for writing ({first})"


class _Writer:
    """The file open for writing under an exclusive lock, released on ``close``.

    The lock is taken with ``flock`` on our own descriptor, as HDF5 itself locks files, so a
    program that has the file open (reading or writing, with HDF5 locking on) is detected even
    when this process runs with ``HDF5_USE_FILE_LOCKING=FALSE`` (which the viewer sets, and
    which silently overrides h5py's ``locking=True``). Without ``fcntl`` (Windows) HDF5's own
    locking is used.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_fd: int | None = None
        if fcntl is not None:
            try:
                self._lock_fd = os.open(path, os.O_RDWR)
            except OSError as exc:
                raise EditError(
                    f"Cannot save {path}: {_lock_reason(str(exc))}. Nothing was written."
                ) from None
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self._release()
                raise EditError(
                    f"Cannot save {path}: {_lock_reason('lock')}. Nothing was written."
                ) from None
        try:
            self.h5 = h5py.File(path, "r+", locking=self._lock_fd is None)
        except OSError as exc:
            self._release()
            raise EditError(
                f"Cannot save {path}: {_lock_reason(str(exc))}. Nothing was written."
            ) from None

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None

    def close(self) -> None:
        try:
            if self.h5.id.valid:
                self.h5.close()
        finally:
            self._release()


def _open_for_writing(path: Path) -> _Writer:
    return _Writer(path)


# -- the journal -----------------------------------------------------------------------------------
@dataclass
class Journal:
    """The record of an interrupted save: prior and target state of every location touched."""

    path: Path
    file: Path
    created: str
    entries: list[dict]

    @classmethod
    def read(cls, journal_file: Path) -> Journal:
        try:
            data = json.loads(journal_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise EditError(f"The save journal {journal_file} cannot be read ({exc}).") from None
        if data.get("format") != JOURNAL_FORMAT:
            raise EditError(f"{journal_file} is not an ndviewer save journal.")
        return cls(
            journal_file, journal_file.with_name(data["file"]), data["created"], data["entries"]
        )

    def locations(self) -> list[Location]:
        return [Location(e["location"]["path"], e["location"]["attribute"]) for e in self.entries]

    def describe(self) -> list[str]:
        """One line per location: what rolling back would restore."""
        lines = []
        for location, entry in zip(self.locations(), self.entries, strict=True):
            lines.append(
                f"{location}: {_describe_state(entry['prior'])} (was being set to "
                f"{_describe_state(entry['target'])})"
            )
        return lines


def _describe_state(state: dict) -> str:
    kind = state["kind"]
    if kind == "absent":
        return "(absent)"
    if kind in ("dataset", "attribute"):
        value = state["value"]
        return format_value(normalize(_decode_bytes_json(value)))
    if kind == "soft_link":
        return f"link to {state['target']}"
    if kind == "group":
        attrs = state["attrs"]
        typ = attrs.get("neurodata_type", {}).get("value")
        return f"group {typ}" if typ else "group"
    return kind


def _decode_bytes_json(value: Any) -> Any:
    if isinstance(value, dict) and "$bytes" in value:
        return bytes.fromhex(value["$bytes"])
    if isinstance(value, dict) and "$ref" in value:
        return value["$ref"]
    if isinstance(value, list):
        return [_decode_bytes_json(v) for v in value]
    return value


def find_journal(path: str | os.PathLike) -> Journal | None:
    """The journal of an interrupted save of ``path``, if there is one.

    A half-written journal (``.tmp``, from a crash before the journal was complete) means the
    file was not touched yet; it is removed.
    """
    journal_file = journal_path(path)
    leftover = journal_file.with_name(journal_file.name + ".tmp")
    if leftover.exists():
        leftover.unlink()
    if not journal_file.exists():
        return None
    return Journal.read(journal_file)


def _write_journal(path: Path, entries: list[dict]) -> Path:
    journal_file = journal_path(path)
    tmp = journal_file.with_name(journal_file.name + ".tmp")
    payload = {
        "format": JOURNAL_FORMAT,
        "version": 1,
        "file": path.name,
        "created": datetime.now(UTC).isoformat(),
        "pid": os.getpid(),
        "entries": entries,
    }
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())
    _fault("journal-tmp-written")
    os.replace(tmp, journal_file)
    _fsync_dir(journal_file.parent)
    return journal_file


def _remove_journal(journal_file: Path) -> None:
    journal_file.unlink(missing_ok=True)
    _fsync_dir(journal_file.parent)


def rollback_journal(path: str | os.PathLike) -> list[str]:
    """Restore the prior values recorded in ``path``'s journal, verify, remove the journal.

    Returns the lines of ``Journal.describe`` that were restored. Safe to rerun if interrupted.
    """
    file_path = Path(path)
    journal = find_journal(file_path)
    if journal is None:
        raise EditError(f"There is no interrupted save to roll back for {file_path}.")
    writer = _open_for_writing(file_path)
    h5 = writer.h5
    try:
        locations = journal.locations()
        for index in reversed(range(len(journal.entries))):
            write_state(h5, locations[index], journal.entries[index]["prior"])
            h5.flush()
            _fault(f"rollback-{index}-flushed")
    finally:
        writer.close()
    _verify(
        file_path, [(loc, e["prior"]) for loc, e in zip(locations, journal.entries, strict=True)]
    )
    _fsync_path(file_path)
    lines = journal.describe()
    _remove_journal(journal.path)
    return lines


def discard_journal(path: str | os.PathLike) -> None:
    """Keep the file as it is and forget the interrupted save."""
    journal = find_journal(path)
    if journal is not None:
        _remove_journal(journal.path)


def _verify(path: Path, expected: Iterable[tuple[Location, dict]]) -> None:
    h5 = h5py.File(path, "r", locking=False)
    try:
        for location, state in expected:
            actual = read_state(h5, location)
            if not states_match(actual, state):
                raise EditError(
                    f"Saving {path} failed: {location} reads back as "
                    f"{_describe_state(actual)} instead of "
                    f"{_describe_state(state)}."
                )
    finally:
        h5.close()


# -- the transaction -------------------------------------------------------------------------------
@dataclass
class _Step:
    location: Location
    prior: dict
    target: dict


class Transaction:
    """A set of changes to one file, validated and written as one unit (see module doc)."""

    def __init__(self, changes: Sequence[Change]) -> None:
        seen: set[Location] = set()
        for change in changes:
            if change.location in seen:
                raise EditError(f"{change.location} is changed twice in one save.")
            seen.add(change.location)
        self.changes = list(changes)

    def problems(self) -> list[str]:
        """Problems with the new values themselves (spec dtype/shape, validators)."""
        problems = []
        for change in self.changes:
            problems.extend(check_value(change.spec, change.new))
        return problems

    def check(self, path: str | os.PathLike) -> list[str]:
        """Everything that would stop ``commit``, found without writing (for ``--dry-run``)."""
        problems = self.problems()
        file_path = Path(path)
        try:
            h5 = h5py.File(file_path, "r", locking=False)
        except OSError as exc:
            return [*problems, f"Cannot read {file_path}: {exc}."]
        try:
            self._plan(h5, file_path)
        except EditError as exc:
            problems.append(exc.message)
        finally:
            h5.close()
        return problems

    def _plan(self, h5: h5py.File, path: Path) -> list[_Step]:
        steps: list[_Step] = []
        planned: dict[Location, dict] = {}
        for change in self.changes:
            current = read_value(h5, change.location)
            if not values_equal(current, change.old):
                raise EditError(
                    f"{change.location} in {path} changed since it was edited (it is now "
                    f"{format_value(current)}, not {format_value(change.old)}); reload the file "
                    "and edit again."
                )
            if change.new is not ABSENT:
                for parent in _missing_parents(h5, change.location, planned):
                    parent_location = Location(parent)
                    parent_step = _Step(
                        parent_location, {"kind": "absent"}, {"kind": "group", "attrs": {}}
                    )
                    steps.append(parent_step)
                    planned[parent_location] = parent_step.target
            prior = read_state(h5, change.location)
            step = _Step(change.location, prior, target_state(prior, change))
            steps.append(step)
            planned[change.location] = step.target
        for change in self.changes:
            if isinstance(change.new, GroupValue):
                for member, label in change.spec.required:
                    state = planned.get(member)
                    exists = (
                        state["kind"] != "absent"
                        if state is not None
                        else read_value(h5, member) is not ABSENT
                    )
                    if not exists:
                        raise EditError(
                            f"The new {change.new.neurodata_type} {change.location.path} needs "
                            f"{label or member}; fill it in before saving."
                        )
            if change.new is ABSENT and change.location.attribute is None:
                obj = h5.get(change.location.path)
                if isinstance(obj, h5py.Group):
                    leftover = [
                        name
                        for name in obj
                        if planned.get(Location(f"{obj.name}/{name}"), {}).get("kind") != "absent"
                    ]
                    if leftover:
                        raise EditError(
                            f"Cannot remove {change.location.path}: it still "
                            f"contains {', '.join(leftover[:5])}."
                        )
        return steps

    def commit(self, path: str | os.PathLike) -> None:
        """Write every change to the file at ``path``, or nothing (see the module doc).

        The caller must have closed its own handles on the file. Raises ``EditError`` with a
        readable message if the values are invalid, the file cannot be written (read-only,
        locked by another program, an interrupted save pending) or verification fails (the
        prior values are then restored).
        """
        file_path = Path(path)
        problems = self.problems()
        if problems:
            raise EditError(f"Nothing was saved to {file_path}: " + " ".join(problems))
        if not self.changes:
            return
        if journal_path(file_path).exists():
            raise EditError(
                f"Cannot save {file_path}: an earlier save was interrupted; roll it "
                "back or keep it before saving again."
            )
        if not os.access(file_path, os.W_OK):
            raise EditError(
                f"Cannot save {file_path}: the file is read-only (no write permission)."
            )
        _fault("before-open")
        writer = _open_for_writing(file_path)  # also the lock test: fails if anyone has it open
        h5 = writer.h5
        journal_file: Path | None = None
        steps: list[_Step] = []
        try:
            steps = self._plan(h5, file_path)
            entries = [
                {
                    "location": {"path": s.location.path, "attribute": s.location.attribute},
                    "prior": s.prior,
                    "target": s.target,
                }
                for s in steps
            ]
            _fault("before-journal")
            journal_file = _write_journal(file_path, entries)
            _fault("journal-written")
            for index, step in enumerate(steps):
                write_state(h5, step.location, step.target)
                _fault(f"step-{index}-written")
                h5.flush()
                _fault(f"step-{index}-flushed")
        except BaseException as exc:
            self._undo_in_place(writer, journal_file, steps)
            if isinstance(exc, EditError):
                raise
            if isinstance(exc, OSError | ValueError | TypeError | KeyError):
                raise EditError(
                    f"Saving {file_path} failed ({exc}); the previous values were restored."
                ) from exc
            raise
        writer.close()
        _fault("closed")
        _fsync_path(file_path)
        try:
            _verify(file_path, [(s.location, s.target) for s in steps])
        except EditError:
            rollback_journal(file_path)
            raise
        _fault("verified")
        _remove_journal(journal_file)
        _fault("journal-removed")

    @staticmethod
    def _undo_in_place(writer: _Writer, journal_file: Path | None, steps: list[_Step]) -> None:
        """After a failure while writing, put the prior states back before closing."""
        try:
            if journal_file is not None:
                for step in reversed(steps):
                    write_state(writer.h5, step.location, step.prior)
            writer.close()
        except Exception:  # noqa: BLE001 - the journal stays for a later rollback
            writer.close()
            return
        if journal_file is not None:
            _remove_journal(journal_file)


def _missing_parents(h5: h5py.File, location: Location, planned: dict[Location, dict]) -> list[str]:
    """Untyped groups that must be created for ``location`` to be written (outermost first)."""
    path = location.path if location.attribute is not None else location.parent
    missing = []
    while path not in ("/", ""):
        state = planned.get(Location(path))
        if state is not None and state["kind"] != "absent":
            break
        if state is None and h5.get(path, getlink=True) is not None:
            break
        missing.append(path)
        path = posixpath.dirname(path)
    return list(reversed(missing))


# -- the session: edits with undo/redo -------------------------------------------------------------
@dataclass(frozen=True)
class Edit:
    """One user action (possibly several locations, e.g. create Subject + set species)."""

    label: str
    changes: tuple[Change, ...]


def _order_key(change: Change) -> tuple:
    location = change.location
    if isinstance(change.new, GroupValue) and change.old is ABSENT:
        return (0, location.depth, str(location))
    if change.new is not ABSENT:
        return (1, location.depth, str(location))
    if location.attribute is not None or not isinstance(change.old, GroupValue):
        return (2, -location.depth, str(location))
    return (3, -location.depth, str(location))


class EditSession:
    """The edits made to one file: current values, undo/redo, and the net pending changes.

    Undo and redo move the session's *current* values; ``pending`` is the difference between
    the current values and those last saved. Saving does not clear the history, so undoing an
    edit that has already been saved yields a new pending change back to the old value.

    Parameters
    ----------
    path
        The file being edited.
    h5
        An open read handle to read old values through (the viewer's own); without one the
        file is opened briefly whenever a value not yet seen is needed.
    """

    def __init__(self, path: str | os.PathLike, h5: h5py.File | None = None) -> None:
        self.path = Path(path)
        self._h5 = h5
        self._saved: dict[Location, Any] = {}
        self._current: dict[Location, Any] = {}
        self._specs: dict[Location, ValueSpec] = {}
        self._undo: list[Edit] = []
        self._redo: list[Edit] = []
        self._listeners: list[Callable[[EditSession], None]] = []

    # -- observing
    def subscribe(self, callback: Callable[[EditSession], None]) -> Callable[[], None]:
        """Call ``callback(session)`` after every change of state; returns an unsubscriber."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def _notify(self) -> None:
        for callback in list(self._listeners):
            callback(self)

    def attach(self, h5: h5py.File | None) -> None:
        """Use a (re)opened read handle for reading old values (None: open on demand)."""
        self._h5 = h5

    # -- values
    def _read_saved(self, locations: Iterable[Location]) -> None:
        wanted = [loc for loc in locations if loc not in self._saved]
        if not wanted:
            return

        def read(h5: h5py.File) -> None:
            for location in wanted:
                self._saved[location] = read_value(h5, location)

        self._with_h5(read)

    def value(self, location: Location) -> Any:
        """The current value of ``location``: the pending one if edited, else the file's."""
        if location in self._current:
            return self._current[location]
        self._read_saved([location])
        return self._saved[location]

    def _with_h5(self, read: Callable[[h5py.File], Any]) -> Any:
        if self._h5 is not None and self._h5.id.valid:
            return read(self._h5)
        with h5py.File(self.path, "r", locking=False) as h5:
            return read(h5)

    def object_type(self, path: str) -> str | None:
        """The neurodata type of the object at ``path``, pending creations and removals
        included; None if it is absent or untyped. Never reads a dataset's data."""
        location = Location(path)
        if location in self._current:
            value = self._current[location]
            if isinstance(value, GroupValue) or value is ABSENT:
                return value.neurodata_type if value is not ABSENT else None

        def read(h5: h5py.File) -> str | None:
            obj = h5.get(location.path)
            if obj is None:
                return None
            raw = obj.attrs.get("neurodata_type", obj.attrs.get("data_type"))
            return None if raw is None else str(decode_value(raw))

        return self._with_h5(read)

    def child_names(self, path: str) -> list[str]:
        """Names of the members of the group at ``path``, pending creations and removals
        included (so a Device added but not saved is listed)."""
        location = Location(path)

        def read(h5: h5py.File) -> list[str]:
            obj = h5.get(location.path)
            return list(obj.keys()) if isinstance(obj, h5py.Group) else []

        names = self._with_h5(read)
        for changed, value in self._current.items():
            if (
                changed.attribute is not None
                or changed.parent != location.path
                or changed.path == location.path
            ):
                continue
            if value is ABSENT and changed.name in names:
                names.remove(changed.name)
            elif value is not ABSENT and changed.name not in names:
                names.append(changed.name)
        return names

    def saved_value(self, location: Location) -> Any:
        self._read_saved([location])
        return self._saved[location]

    # -- editing
    def apply(
        self, assignments: Sequence[tuple[Location, Any, ValueSpec]], label: str = ""
    ) -> Edit | None:
        """Set several locations as one undoable step; raises ``EditError`` if any is invalid.

        Assignments that do not change anything are dropped; None is returned if nothing
        changed.
        """
        problems = [p for _, value, spec in assignments for p in check_value(spec, value)]
        if problems:
            raise EditError(" ".join(problems))
        self._read_saved(location for location, _, _ in assignments)
        changes = []
        for location, value, spec in assignments:
            old = self.value(location)
            new = coerce(spec, value)
            if values_equal(old, new) and type(old) is type(new):
                continue
            changes.append(Change(location, old, new, spec))
        if not changes:
            return None
        edit = Edit(label or changes[0].describe(), tuple(changes))
        self._do(edit, forward=True)
        self._undo.append(edit)
        self._redo.clear()
        self._notify()
        return edit

    def set(self, location: Location, value: Any, spec: ValueSpec | None = None) -> Edit | None:
        """Set one location (see ``apply``)."""
        return self.apply([(location, value, spec or ValueSpec(dtype=None))])

    def _do(self, edit: Edit, forward: bool) -> None:
        for change in edit.changes if forward else reversed(edit.changes):
            self._current[change.location] = change.new if forward else change.old
            self._specs[change.location] = change.spec

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_label(self) -> str | None:
        return self._undo[-1].label if self._undo else None

    @property
    def redo_label(self) -> str | None:
        return self._redo[-1].label if self._redo else None

    def undo(self) -> Edit | None:
        if not self._undo:
            return None
        edit = self._undo.pop()
        self._do(edit, forward=False)
        self._redo.append(edit)
        self._notify()
        return edit

    def redo(self) -> Edit | None:
        if not self._redo:
            return None
        edit = self._redo.pop()
        self._do(edit, forward=True)
        self._undo.append(edit)
        self._notify()
        return edit

    # -- pending and saving
    def pending(self) -> list[Change]:
        """The net changes from the saved file to the current values, in writing order."""
        changes = []
        for location, value in self._current.items():
            saved = self._saved[location]
            if values_equal(saved, value) and type(saved) is type(value):
                continue
            changes.append(Change(location, saved, value, self._specs[location]))
        return sorted(changes, key=_order_key)

    @property
    def is_dirty(self) -> bool:
        return bool(self.pending())

    def diff(self) -> list[str]:
        """The pending changes as ``location: old → new`` lines."""
        return [change.describe() for change in self.pending()]

    def transaction(self) -> Transaction:
        return Transaction(self.pending())

    def save(self) -> list[Change]:
        """Commit the pending changes to ``path`` (the caller's handles must be closed).

        Returns the changes written. After a successful save they are the new saved values.
        """
        changes = self.pending()
        if not changes:
            return []
        Transaction(changes).commit(self.path)
        for change in changes:
            self._saved[change.location] = change.new
        self._notify()
        return changes

    def discard(self) -> None:
        """Forget all pending changes and the history (e.g. after reloading the file)."""
        self._current.clear()
        self._saved.clear()
        self._undo.clear()
        self._redo.clear()
        self._notify()
