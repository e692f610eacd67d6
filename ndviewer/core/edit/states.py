"""What an edit is made of, and how a location's state is read from and written to HDF5.

A user's edit is a ``Change`` of one ``Location`` (a dataset, a link, a group, or one attribute)
from an old to a new value. To write it, the location's current *state* is read exactly enough
to be written back (dtype, string encoding, scalar vs array, chunking and filters), the target
state is derived from it so the field keeps its on-disk form (scalar vs 1-D, vlen UTF-8 vs
ASCII vs fixed-length), and ``write_state`` puts it into an open, writable file. Which file,
and how the write is made safe, is the business of ``transaction`` and ``atomic_save``.
"""

from __future__ import annotations

import posixpath
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ndviewer.core.edit import validators
from ndviewer.core.errors import EditError
from ndviewer.core.model.values import decode_text, decode_value

# Suffix of the dataset built beside one that must be recreated (it grows or changes form).
_TMP_SUFFIX = ".ndviewer-tmp"
# Lists longer than this are shortened in diffs and messages.
_LIST_SHOWN = 12


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
        if len(value) > _LIST_SHOWN:
            # a whole table column (QC's bad_channel) would make a diff line of kilobytes
            head = ", ".join(format_value(v) for v in value[: _LIST_SHOWN // 2])
            return f"[{head}, … ({len(value)} values)]"
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


def describe_state(state: dict) -> str:
    """A stored state in a few words, for messages ("2 values", "link to /x", "group Subject")."""
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


def verify_states(copy: Path, expected: Iterable[tuple[Location, dict]], original: Path) -> None:
    """Read every location of ``copy`` back; raise ``EditError`` (naming ``original``, the
    file the user knows) at the first that does not hold its expected state."""
    with h5py.File(copy, "r", locking=False) as h5:
        for location, state in expected:
            actual = read_state(h5, location)
            if not states_match(actual, state):
                raise EditError(
                    f"Saving {original} failed: {location} reads back as "
                    f"{describe_state(actual)} instead of {describe_state(state)}. "
                    "Nothing was changed."
                )
