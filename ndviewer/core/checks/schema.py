"""Schema validation against the file's own cached specification, extensions included.

Every typed object of the index is compared with its type in the catalogue (inheritance
resolved): required groups, datasets, attributes and links are present, dataset and attribute
dtypes belong to the declared family, shapes have the declared rank and fixed sizes, unnamed
typed members meet their quantity, links and object references resolve to an object of the
declared type, and every ``neurodata_type`` is one the spec defines. Only metadata is read:
attribute headers, dataset shapes and types (from the index), and the few references held in
attributes (a reference dataset is checked at its first and last element only).

Like pynwb's validator, a dtype is compatible when it is of the same family (an int spec
accepts any integer width, a float spec any float width, ``numeric`` any number); text
specs accept fixed and variable-length strings.
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np

from ndviewer.core.checks.findings import Finding
from ndviewer.core.checks.h5meta import Meta
from ndviewer.core.model.catalog import Catalog, FieldSpec
from ndviewer.core.model.index import FileIndex, IndexEntry

_DAMAGE = (RuntimeError, OSError, KeyError, ValueError, TypeError, UnicodeDecodeError)
_INT_NAMES = {"int", "int8", "int16", "int32", "int64", "long", "short"}
_UINT_NAMES = {"uint", "uint8", "uint16", "uint32", "uint64"}
_FLOAT_NAMES = {"float", "float32", "float64", "double"}
_TEXT_NAMES = {"text", "utf", "utf8", "utf-8", "ascii", "bytes", "isodatetime", "datetime"}


def _spec_family(dtype: Any) -> str | None:
    """The family a spec dtype asks for; None when there is nothing to check."""
    if dtype is None:
        return None
    if isinstance(dtype, dict):
        return "reference"
    if isinstance(dtype, list):
        return "compound"
    name = str(dtype).lower()
    if name in _INT_NAMES or name in _UINT_NAMES:
        return "int"
    if name in _FLOAT_NAMES:
        return "float"
    if name == "numeric":
        return "numeric"
    if name in _TEXT_NAMES:
        return "text"
    if name == "bool":
        return "bool"
    return None


def _stored_family(name: str | None) -> str:
    """The family of an index dtype name (``int16``, ``float32``, ``text``, ``reference``…)."""
    if not name:
        return "unknown"
    if name.startswith(("int", "uint")):
        return "int"
    if name.startswith("float"):
        return "float"
    if name == "enum":  # h5py stores numpy bool as an enum of int8
        return "bool"
    return name


def _compatible(spec_family: str, stored: str) -> bool:
    if stored in ("unknown", "vlen", "opaque", "array"):
        return True  # nothing the index can say: not a finding
    if spec_family == "numeric":
        return stored in ("int", "float", "bool")
    if spec_family == "float":
        # hdmf writes a float spec's integer values as they are given; pynwb's validator
        # accepts them, so do we
        return stored in ("float", "int")
    if spec_family == "int":
        return stored in ("int", "bool")
    if spec_family == "bool":
        return stored in ("bool", "int")
    return spec_family == stored


def _shape_problem(spec_shape: Any, shape: tuple[int, ...] | None) -> str | None:
    """Why ``shape`` fits none of the spec's alternatives (None when it fits or is unknown)."""
    if spec_shape is None or shape is None:
        return None
    alternatives = spec_shape if spec_shape and isinstance(spec_shape[0], list) else [spec_shape]
    for alternative in alternatives:
        if len(alternative) == len(shape) and all(
            want is None or want == got for want, got in zip(alternative, shape, strict=True)
        ):
            return None
    wanted = " or ".join(
        "(" + ", ".join("any" if d is None else str(d) for d in alt) + ")" for alt in alternatives
    )
    return f"has shape {tuple(shape)}, but the spec allows {wanted}"


def _quantity_bounds(quantity: Any) -> tuple[int, int | None]:
    if isinstance(quantity, int):
        return quantity, quantity
    return {
        "?": (0, 1),
        "zero_or_one": (0, 1),
        "*": (0, None),
        "zero_or_many": (0, None),
        "+": (1, None),
        "one_or_many": (1, None),
    }.get(str(quantity), (0, None))


def _join(path: str, name: str) -> str:
    return f"/{name}" if path == "/" else f"{path}/{name}"


class SchemaValidator:
    """Validates the typed objects of one open file against its catalogue."""

    def __init__(
        self, h5: h5py.File, catalog: Catalog, index: FileIndex, meta: Meta | None = None
    ) -> None:
        self.h5 = h5
        self.file_id = h5.id
        self.meta = meta or Meta(h5)
        self.catalog = catalog
        self._fields: dict[str, list[FieldSpec]] = {}
        # (id of the spec member, stored byte size) -> stored dtype family; the members are
        # the catalogue's own objects, alive as long as the validator
        self._attr_families: dict[tuple[int, int], str] = {}
        self.index = index
        self.children: dict[str, list[IndexEntry]] = {}
        for entry in index.entries:
            if entry.path == "/":
                continue
            parent = entry.path.rpartition("/")[0] or "/"
            self.children.setdefault(parent, []).append(entry)
        self.findings: list[Finding] = []

    # -- helpers -------------------------------------------------------------------------------
    def error(self, path: str, field: str, check: str, message: str) -> None:
        self.findings.append(Finding("error", path, field, check, message))

    def _type_of(self, path: str) -> str | None:
        entry = self.index.by_path.get(path)
        if entry is not None:
            return entry.neurodata_type
        try:
            obj = self.h5.get(path)
            if obj is None:
                return None
            value = obj.attrs.get("neurodata_type")
            if value is None:
                value = obj.attrs.get("data_type")
        except _DAMAGE:
            return None
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    def _lookup(self, path: str, depth: int = 0) -> tuple[str, IndexEntry | None] | None:
        """(kind, index entry) of the object at ``path``, following soft links; None if absent.

        H5Ovisit meets an object once, under its first name, so a dataset that is also reached
        through a soft link (timestamps shared by two series) is looked up in the file.
        """
        entry = self.index.by_path.get(path)
        if entry is not None:
            return entry.kind, entry
        if not self.meta.has_link(path):
            return None
        parent, _, name = path.rpartition("/")
        try:
            link = self.h5[parent or "/"].get(name, getlink=True)
            if isinstance(link, h5py.SoftLink) and depth < 8:
                return self._lookup(link.path, depth + 1)
            obj = self.h5.get(path)
        except _DAMAGE:
            return None
        if obj is None:
            return None
        type_name = self._type_of(path)
        if isinstance(obj, h5py.Dataset):
            return "dataset", IndexEntry(path, "dataset", type_name, None, obj.shape, None)
        return "group", IndexEntry(path, "group", type_name, None, None, None)

    def _link_state(self, path: str) -> str:
        """ "absent", "dangling" or "ok" for the link (or object) at ``path``."""
        if not self.meta.has_link(path):
            return "absent"
        parent, _, name = path.rpartition("/")
        try:
            group = self.h5[parent or "/"]
            return "ok" if group.get(name) is not None else "dangling"
        except _DAMAGE:
            return "dangling"

    # -- the walk ------------------------------------------------------------------------------
    def run(self) -> list[Finding]:
        for entry in self.index.entries:
            self.check_entry(entry)
        return self.findings

    def check_entry(self, entry: IndexEntry) -> None:
        if entry.kind == "broken_link":
            self.error(
                entry.path, "", "link_unresolvable", "This external link cannot be followed."
            )
            return
        if entry.kind == "unreadable":
            self.error(entry.path, "", "unreadable", "This object's metadata is unreadable.")
            return
        if not entry.neurodata_type:
            return
        try:
            self.validate_typed(entry)
        except _DAMAGE as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.error(entry.path, "", "unreadable", f"Cannot be validated ({reason}).")

    def validate_typed(self, entry: IndexEntry) -> None:
        type_name = entry.neurodata_type or ""
        if not self.catalog.knows(type_name):
            where = f" (namespace '{entry.namespace}')" if entry.namespace else ""
            self.error(
                entry.path,
                "neurodata_type",
                "unknown_type",
                f"Type {type_name}{where} is defined by no namespace cached in the file; "
                "write the file with the extension's spec cached (cache_spec=True).",
            )
            return
        if entry.kind == "dataset":
            spec_dtype = spec_shape = None
            for ancestor in self.catalog.hierarchy(type_name):
                spec = self.catalog.types.get(ancestor)
                if spec is None:
                    continue
                spec_dtype = spec_dtype if spec_dtype is not None else spec.dtype
                spec_shape = spec_shape if spec_shape is not None else spec.shape
            self.check_dataset(entry.path, "", spec_dtype, spec_shape, entry)
        fields = self._fields.get(type_name)
        if fields is None:
            fields = self._fields[type_name] = self.catalog.fields(type_name)
        self.validate_members(entry.path, fields, entry.kind)

    def validate_members(self, path: str, members: list[FieldSpec], kind: str) -> None:
        for member in members:
            if member.kind == "attribute":
                self.check_attribute(path, member)
            elif kind != "group":
                continue
            elif member.kind == "link":
                self.check_link(path, member)
            elif member.name is None:
                self.check_unnamed(path, member)
            else:
                self.check_named(path, member)

    def check_attribute(self, path: str, member: FieldSpec) -> None:
        name = member.name or ""
        if not self.meta.has_attr(path, name):
            if member.required and member.value is None:
                self.error(
                    path,
                    name,
                    "missing_attribute",
                    f"The required attribute '{name}' is missing ({_short(member.doc)}).",
                )
            return
        family = _spec_family(member.dtype)
        if family is None and member.shape is None:
            return  # nothing to compare: do not even open it
        attr = None
        if family is not None:
            # Attributes of one spec member stored with the same byte size have, in practice,
            # the same type (one writer wrote them): its family is looked up once per
            # (member, size), not opened on each of 10^4 objects.
            size = self.meta.attr_size(path, name)
            key = (id(member), size)
            stored = self._attr_families.get(key)
            if stored is None:
                attr = self.meta.attr_id(path, name)
                stored = _stored_family(_type_name(attr.get_type()))
                if 0 in (attr.shape or (1,)):
                    stored = "empty"  # hdmf writes empty lists as float64: no dtype to judge
                self._attr_families[key] = stored
            if stored != "empty" and not _compatible(family, stored):
                self.error(
                    path,
                    name,
                    "dtype",
                    f"The attribute '{name}' is stored as {stored}, but the spec asks for "
                    f"{_describe(member.dtype)}.",
                )
                return
        # the shape is read only where the spec gives one (most attributes are scalars and
        # asking costs a dataspace object per attribute)
        problem = None
        if member.shape is not None:
            attr = attr if attr is not None else self.meta.attr_id(path, name)
            problem = _shape_problem(member.shape, attr.shape)
        if problem:
            self.error(path, name, "shape", f"The attribute '{name}' {problem}.")
        if family == "reference" and isinstance(member.dtype, dict):
            self.check_reference_attr(path, name, member.dtype.get("target_type"))

    def check_reference_attr(self, path: str, name: str, target_type: str | None) -> None:
        try:
            value = self.h5[path].attrs[name]
        except _DAMAGE:
            return
        refs = value.ravel().tolist() if isinstance(value, np.ndarray) else [value]
        for ref in refs[:1] + refs[-1:]:
            self._check_reference(path, name, ref, target_type)

    def _check_reference(self, path: str, field: str, ref: Any, target_type: str | None) -> None:
        if not isinstance(ref, h5py.Reference):
            return
        if not ref:
            self.error(path, field, "reference", f"'{field}' holds a null object reference.")
            return
        try:
            target = self.h5[ref]
        except _DAMAGE:
            self.error(
                path,
                field,
                "reference",
                f"'{field}' holds an object reference that resolves "
                "to nothing (the target was deleted).",
            )
            return
        self._check_target_type(path, field, target.name or "", target_type, "refers to")

    def _check_target_type(
        self, path: str, field: str, target: str, target_type: str | None, verb: str
    ) -> None:
        if not target_type:
            return
        found = self._type_of(target)
        if found and self.catalog.knows(found) and not self.catalog.is_a(found, target_type):
            self.error(
                path,
                field,
                "target_type",
                f"'{field}' {verb} {target}, a {found}, but the spec asks for a {target_type}.",
            )

    def check_link(self, path: str, member: FieldSpec) -> None:
        name = member.name or ""
        child = _join(path, name)
        state = self._link_state(child)
        if state == "absent":
            if member.required:
                self.error(
                    path,
                    name,
                    "missing_link",
                    f"The required link '{name}' is missing "
                    f"(it should point to a {member.target_type}).",
                )
            return
        if state == "dangling":
            self.error(path, name, "link_unresolvable", f"The link '{name}' points to nothing.")
            return
        try:
            target = self.h5[child].name or child
        except _DAMAGE:
            return
        self._check_target_type(path, name, target, member.target_type, "points to")

    def check_unnamed(self, path: str, member: FieldSpec) -> None:
        """Typed members without a fixed name: count the children of that type."""
        low, high = _quantity_bounds(member.quantity)
        if low == 0 and high is None:
            return
        base = member.neurodata_type
        count = sum(
            1
            for child in self.children.get(path, [])
            if child.neurodata_type and self.catalog.is_a(child.neurodata_type, base or "")
        )
        if count < low:
            self.error(
                path,
                member.label,
                "quantity",
                f"Needs at least {low} {base} member(s), has {count}.",
            )
        elif high is not None and count > high:
            self.error(
                path,
                member.label,
                "quantity",
                f"Allows at most {high} {base} member(s), has {count}.",
            )

    def check_named(self, path: str, member: FieldSpec) -> None:
        name = member.name or ""
        child = _join(path, name)
        found = self._lookup(child)
        if found is None:
            if member.required:
                what = "group" if member.kind == "group" else "dataset"
                self.error(
                    path,
                    name,
                    f"missing_{what}",
                    f"The required {what} '{name}' is missing ({_short(member.doc)}).",
                )
            return
        kind, entry = found
        if kind != member.kind and kind in ("group", "dataset"):
            self.error(
                path, name, "kind", f"'{name}' is a {kind}, but the spec declares a {member.kind}."
            )
            return
        if member.neurodata_type:
            found_type = entry.neurodata_type if entry is not None else self._type_of(child)
            if found_type is None:
                self.error(
                    child,
                    "neurodata_type",
                    "missing_type",
                    f"'{name}' has no neurodata_type, but the spec declares a "
                    f"{member.neurodata_type}.",
                )
            elif self.catalog.knows(found_type) and not self.catalog.is_a(
                found_type, member.neurodata_type
            ):
                self.error(
                    child,
                    "neurodata_type",
                    "wrong_type",
                    f"'{name}' is a {found_type}, but the spec declares a {member.neurodata_type}.",
                )
            if entry is None or entry.neurodata_type:
                return  # validated on its own, as a typed object
        if member.kind == "dataset":
            self.check_dataset(path, name, member.dtype, member.shape, entry)
            self.validate_members(child, member.members, "dataset")
        else:
            self.validate_members(child, member.members, "group")

    def check_dataset(
        self,
        path: str,
        field: str,
        spec_dtype: Any,
        spec_shape: Any,
        entry: IndexEntry | None,
    ) -> None:
        if entry is None:
            return
        label = f"'{field}'" if field else "The dataset"
        family = _spec_family(spec_dtype)
        stored = _stored_family(entry.dtype)
        if family is not None and entry.dtype and not _compatible(family, stored):
            self.error(
                path,
                field,
                "dtype",
                f"{label} is stored as {entry.dtype}, but the spec asks for "
                f"{_describe(spec_dtype)}.",
            )
        problem = _shape_problem(spec_shape, entry.shape)
        if problem:
            self.error(path, field, "shape", f"{label} {problem}.")
        if family == "reference" and isinstance(spec_dtype, dict) and entry.shape:
            self._check_reference_dataset(path, field, entry, spec_dtype.get("target_type"))

    def _check_reference_dataset(
        self, path: str, field: str, entry: IndexEntry, target_type: str | None
    ) -> None:
        n = entry.shape[0] if entry.shape else 0
        if not n:
            return
        try:
            dataset = self.h5[entry.path]
            picks = [dataset[0], dataset[n - 1]] if n > 1 else [dataset[0]]
        except _DAMAGE:
            return
        for ref in picks:
            self._check_reference(path, field or "data", ref, target_type)


def _type_name(type_id: h5py.h5t.TypeID) -> str:
    type_class = type_id.get_class()
    if type_class == h5py.h5t.INTEGER:
        return "int"
    if type_class == h5py.h5t.FLOAT:
        return "float"
    if type_class == h5py.h5t.STRING or (type_class == h5py.h5t.VLEN and type_id.is_variable_str()):
        return "text"
    if type_class == h5py.h5t.REFERENCE:
        return "reference"
    if type_class == h5py.h5t.ENUM:
        return "enum"
    if type_class == h5py.h5t.COMPOUND:
        return "compound"
    return "unknown"


def _describe(dtype: Any) -> str:
    if isinstance(dtype, dict):
        return f"a reference to a {dtype.get('target_type', 'object')}"
    if isinstance(dtype, list):
        return "a compound of " + ", ".join(str(part.get("name")) for part in dtype)
    return str(dtype)


def _short(doc: str) -> str:
    text = " ".join((doc or "").split())
    return text if len(text) <= 90 else text[:87].rstrip() + "…"


def validate_schema(h5: h5py.File, catalog: Catalog, index: FileIndex) -> list[Finding]:
    """Every schema violation of the file's typed objects (see the module docstring)."""
    return SchemaValidator(h5, catalog, index).run()
