"""The metadata form model: which editable fields a typed object has, and what they hold.

A form is generated, not written per type: the fields come from ``catalog.fields(type)`` (the
file's own specification, so extension types get forms too), and the things a spec cannot say
(field order, best-practice "recommended" flags, validators such as ISO 8601 durations for
``Subject.age``, widgets, units) come from ``spec/forms.json``, matched through the type's
ancestry. The model is Qt-free: the GUI renders it, ``ndviewer edit`` drives it from the
command line, and both write through the same ``EditSession``.

Field keys are relative to the object: ``species`` (a member dataset or attribute),
``general/experimenter`` (a dataset inside an untyped subgroup), ``age@reference`` (an
attribute of a member dataset).
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ndviewer.core.edit import validators
from ndviewer.core.edit.states import ABSENT, GroupValue, Link, Location, ValueSpec, check_value
from ndviewer.core.edit.transaction import Edit, EditSession
from ndviewer.core.errors import EditError
from ndviewer.core.model.catalog import Catalog, FieldSpec

REQUIRED, RECOMMENDED, OPTIONAL = "required", "recommended", "optional"
EDITABLE_FAMILIES = {"text", "ascii", "datetime", "float", "int", "bool"}
_MAX_DEPTH = 4


@cache
def form_hints() -> dict:
    """The parsed ``spec/forms.json``."""
    from ndviewer.paths import spec_dir

    return json.loads((spec_dir() / "forms.json").read_text(encoding="utf-8"))


def _join(path: str, relative: str) -> str:
    if not relative:
        return path
    return posixpath.join(path, relative) if path != "/" else "/" + relative


def humanize(key: str) -> str:
    """``general/experimenter`` → ``Experimenter``; ``age@reference`` → ``Age reference``."""
    last = key.rsplit("/", 1)[-1].replace("@", " ").replace("_", " ")
    return last[:1].upper() + last[1:]


def is_missing(value: Any) -> bool:
    """Absent, blank text or an empty list: what best-practice checks count as missing."""
    if value is ABSENT or value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list):
        return not value or all(isinstance(v, str) and not v.strip() for v in value)
    return False


@dataclass(frozen=True)
class FormField:
    """One editable field of a form, with everything a widget needs to show and check it."""

    key: str
    label: str
    location: Location
    kind: str  # "dataset" | "attribute" | "link"
    doc: str = ""
    level: str = OPTIONAL
    widget: str = "text"
    dtype: Any = "text"
    shape: Any = None
    validators: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    choice_labels: tuple[tuple[str, str], ...] = ()
    unit: str | None = None
    placeholder: str = ""
    readonly: bool = False
    existing_only: bool = False  # may be edited where present, never created (forms.json)
    deprecated: bool = False
    target_type: str | None = None
    default: Any = None
    create_attrs: tuple[tuple[str, Any, Any], ...] = ()
    owner: Location | None = None  # for an attribute of a member dataset: that dataset
    owner_label: str = ""

    @property
    def is_list(self) -> bool:
        return self.shape is not None

    @property
    def value_spec(self) -> ValueSpec:
        return ValueSpec(
            label=self.label,
            dtype=self.dtype,
            shape=self.shape,
            validators=self.validators,
            choices=self.choices,
            attrs=self.create_attrs,
        )

    def check(self, value: Any) -> list[str]:
        """Problems with ``value`` for this field (empty list: fine)."""
        if value is ABSENT:
            if self.level == REQUIRED:
                return [f"{self.label}: this field is required by the NWB format."]
            return []
        return check_value(self.value_spec, value)

    def parse(self, text: str) -> Any:
        """Turn typed text (a form entry, a ``--set`` value) into this field's value.

        Empty text means "remove the value". Lists accept a JSON list or one item per line;
        date-times are normalised to ISO 8601 (``Z`` → ``+00:00``). Text that does not parse
        is returned as is, so that ``check`` can say what is wrong with it.
        """
        text = text.strip()
        if not text:
            return ABSENT
        if self.kind == "link":
            return Link(text if text.startswith("/") else "/" + text)
        family = validators.dtype_family(self.dtype)
        if self.is_list:
            if text.startswith("["):
                try:
                    items = json.loads(text)
                except json.JSONDecodeError:
                    items = [text]
            else:
                items = [line.strip() for line in text.splitlines() if line.strip()]
            if not isinstance(items, list):
                items = [items]
            return [
                self._parse_item(str(i) if not isinstance(i, int | float) else i, family)
                for i in items
            ]
        return self._parse_item(text, family)

    def parse_item(self, item: Any) -> Any:
        """One element of a list field (or the value of a scalar one), from text or a number."""
        return self._parse_item(item, validators.dtype_family(self.dtype))

    @staticmethod
    def _parse_item(item: Any, family: str) -> Any:
        if not isinstance(item, str):
            return float(item) if family == "float" else item
        text = item.strip()
        try:
            if family == "float":
                return float(text)
            if family == "int":
                return int(text)
        except ValueError:
            return text
        if family == "bool":
            lowered = text.lower()
            if lowered in ("true", "yes", "1", "on"):
                return True
            if lowered in ("false", "no", "0", "off"):
                return False
            return text
        if family == "datetime":
            try:
                parsed = validators.parse_datetime(text)
            except ValueError:
                return text
            return parsed.isoformat() if parsed.tzinfo is not None and "T" in text.upper() else text
        return text

    def format(self, value: Any) -> str:
        """The value as editable text (the inverse of ``parse``)."""
        if value is ABSENT or value is None:
            return ""
        if isinstance(value, Link):
            return value.target
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        if isinstance(value, float):
            return repr(value)
        return str(value)


@dataclass
class Section:
    title: str
    fields: list[FormField]


@dataclass
class Collection:
    """Typed objects of one kind under one group, e.g. the Devices in ``/general/devices``."""

    title: str
    path: str
    neurodata_type: str
    members: list[str]


@dataclass
class Form:
    """The editable fields of one typed object (which may not exist yet)."""

    path: str
    neurodata_type: str
    namespace: str
    title: str
    doc: str
    sections: list[Section]
    embedded: list[Form] = field(default_factory=list)
    # embedded form path → title of the section it follows (forms.json "after"); else last
    placement: dict[str, str] = field(default_factory=dict)
    collections: list[Collection] = field(default_factory=list)
    parent: Form | None = None
    new_group: GroupValue | None = None
    required_members: tuple[tuple[Location, str], ...] = ()
    default_attrs: tuple[tuple[Location, Any, ValueSpec], ...] = ()
    catalog: Catalog | None = field(default=None, repr=False, compare=False)

    @property
    def fields(self) -> list[FormField]:
        return [f for section in self.sections for f in section.fields]

    def field(self, key: str) -> FormField:
        for candidate in self.fields:
            if candidate.key == key:
                return candidate
        known = ", ".join(f.key for f in self.fields)
        raise EditError(
            f"{self.neurodata_type} {self.path} has no editable field '{key}' (fields: {known})."
        )

    def has_field(self, key: str) -> bool:
        return any(f.key == key for f in self.fields)

    # -- state, read through the session (pending edits included)
    def exists(self, session: EditSession) -> bool:
        return session.value(Location(self.path)) is not ABSENT

    def value(self, session: EditSession, key: str) -> Any:
        return session.value(self.field(key).location)

    def values(self, session: EditSession) -> dict[str, Any]:
        return {f.key: session.value(f.location) for f in self.fields}

    def missing(self, session: EditSession) -> list[FormField]:
        """Required and recommended fields that hold nothing."""
        values = self.values(session)
        return [
            f
            for f in self.fields
            if f.level in (REQUIRED, RECOMMENDED) and is_missing(values[f.key])
        ]

    def problems(self, session: EditSession) -> dict[str, list[str]]:
        """Problems with the values the fields hold now (``{key: messages}``)."""
        out: dict[str, list[str]] = {}
        exists = self.exists(session)
        for form_field, value in self.values(session).items():
            spec_field = self.field(form_field)
            if value is ABSENT:
                if exists and spec_field.level == REQUIRED:
                    out[form_field] = [f"{spec_field.label} is required by the NWB format."]
                continue
            found = check_value(spec_field.value_spec, value)
            if found:
                out[form_field] = found
        return out

    # -- editing
    def creation(self, session: EditSession) -> list[tuple[Location, Any, ValueSpec]]:
        """The assignments that create this object (and absent parents), if it is absent."""
        if self.exists(session) or self.new_group is None:
            return []
        assignments = self.parent.creation(session) if self.parent is not None else []
        spec = ValueSpec(label=self.title, dtype=None, required=self.required_members)
        assignments.append((Location(self.path), self.new_group, spec))
        assignments.extend(self.default_attrs)
        return assignments

    def assignments(
        self, session: EditSession, key: str, value: Any
    ) -> list[tuple[Location, Any, ValueSpec]]:
        """What setting field ``key`` to ``value`` writes (object creation included)."""
        form_field = self.field(key)
        if (
            form_field.owner is not None
            and value is not ABSENT
            and session.value(form_field.owner) is ABSENT
        ):
            raise EditError(
                f"Set {form_field.owner_label} first: {form_field.label} is an attribute of it."
            )
        return [*self.creation(session), (form_field.location, value, form_field.value_spec)]


def set_field(session: EditSession, form: Form, key: str, value: Any) -> Edit | None:
    """Validate and apply one field edit as an undoable step; raises ``EditError``."""
    form_field = form.field(key)
    if form_field.readonly:
        raise EditError(f"{form_field.label} of {form.path} is read-only in ndviewer.")
    if is_missing(value):
        value = ABSENT  # blank text or an empty list: the field is removed, not stored empty
    if form_field.existing_only and session.value(form_field.location) is ABSENT:
        raise EditError(
            f"{form_field.label} is not in {form.path}; ndviewer edits it only where it exists "
            "(adding it would change how the data is interpreted)."
        )
    if form_field.kind == "link" and value is not ABSENT:
        _check_link_target(session, form, form_field, value)
    problems = form_field.check(value)
    if problems:
        raise EditError(" ".join(problems))
    return session.apply(form.assignments(session, key, value), label=f"Set {form_field.label}")


def _check_link_target(session: EditSession, form: Form, form_field: FormField, value: Any) -> None:
    if not isinstance(value, Link):
        raise EditError(
            f"{form_field.label} links to an object; give its path, e.g. /general/devices/probe."
        )
    target_type = session.object_type(value.target)
    if target_type is None:
        raise EditError(f"{form_field.label}: there is no typed object at {value.target}.")
    wanted = form_field.target_type
    if wanted and form.catalog is not None and not form.catalog.is_a(target_type, wanted):
        raise EditError(
            f"{form_field.label} must link to a {wanted}; {value.target} is a {target_type}."
        )


def link_candidates(session: EditSession, form: Form, key: str) -> list[str]:
    """Paths of the objects a link field can point to (e.g. every Device for ``device``).

    Looks in ``/general`` (where NWB keeps devices, electrodes and other shared objects) two
    levels deep, pending creations included, so no full-file walk is needed.
    """
    form_field = form.field(key)
    wanted = form_field.target_type
    found: list[str] = []

    def visit(path: str, depth: int) -> None:
        for name in session.child_names(path):
            child = _join(path, name)
            type_name = session.object_type(child)
            if type_name is not None and (
                wanted is None or form.catalog is None or form.catalog.is_a(type_name, wanted)
            ):
                found.append(child)
            elif type_name is None and depth < 2:
                visit(child, depth + 1)

    visit("/general", 0)
    return sorted(found)


# -- building forms -------------------------------------------------------------------------------
def _merged_hints(catalog: Catalog, neurodata_type: str) -> dict:
    """The forms.json hints of a type and its ancestors, nearer types winning."""
    types = form_hints().get("types", {})
    merged: dict[str, Any] = {
        "fields": {},
        "recommended": set(),
        "hidden": set(),
        "sections": None,
        "embed": [],
        "collections": [],
        "title": None,
    }
    for type_name in reversed(catalog.hierarchy(neurodata_type)):
        hints = types.get(type_name)
        if not hints:
            continue
        for key, field_hints in hints.get("fields", {}).items():
            merged["fields"].setdefault(key, {}).update(field_hints)
        merged["recommended"].update(hints.get("recommended", []))
        merged["hidden"].update(hints.get("hidden", []))
        merged["embed"].extend(hints.get("embed", []))
        merged["collections"].extend(hints.get("collections", []))
        if "sections" in hints:
            merged["sections"] = hints["sections"]
        if "title" in hints:
            merged["title"] = hints["title"]
    return merged


def _editable(member: FieldSpec) -> bool:
    if member.kind == "link":
        return member.name is not None
    family = validators.dtype_family(member.dtype)
    if family not in EDITABLE_FAMILIES:
        return False
    shape = member.shape
    if shape is None:
        return True
    alternatives = shape if shape and isinstance(shape[0], list) else [shape]
    if any(len(a) != 1 for a in alternatives):
        return False
    if family in ("float", "int", "bool"):
        # Fixed small vectors (coordinates) are metadata; open-ended numeric arrays are data.
        return all(a[0] is not None for a in alternatives)
    return True


def _field(
    key: str,
    location: Location,
    member: FieldSpec,
    required: bool,
    hints: dict,
    owner: FieldSpec | None = None,
) -> FormField:
    field_hints = dict(form_hints().get("widgets_by_dtype", {}).get(str(member.dtype), {}))
    extra_validators = list(field_hints.get("validators", []))
    field_hints.update(hints["fields"].get(key, {}))
    family = validators.dtype_family(member.dtype)
    is_list = member.shape is not None
    if member.kind == "link":
        widget = "reference"
    elif "widget" in field_hints:
        widget = field_hints["widget"]
    elif family in ("float", "int"):
        widget = "number_list" if is_list else "number"
    elif family == "bool":
        widget = "bool"
    elif family == "datetime":
        widget = "string_list" if is_list else "datetime"
    else:
        widget = "string_list" if is_list else "text"
    names = list(
        dict.fromkeys([*extra_validators, *hints["fields"].get(key, {}).get("validators", [])])
    )
    level = field_hints.get("level") or (
        REQUIRED if required else RECOMMENDED if key in hints["recommended"] else OPTIONAL
    )
    doc = member.doc or ""
    create_attrs = (
        tuple(
            (attr.name, attr.value if attr.value is not None else attr.default_value, attr.dtype)
            for attr in member.members
            if attr.kind == "attribute"
            and (attr.value is not None or attr.default_value is not None)
        )
        if member.kind == "dataset"
        else ()
    )
    return FormField(
        key=key,
        label=field_hints.get("label") or humanize(key),
        location=location,
        kind="link"
        if member.kind == "link"
        else ("attribute" if location.attribute is not None else "dataset"),
        doc=doc,
        level=level,
        widget=widget,
        dtype=None if member.kind == "link" else member.dtype,
        shape=None if member.kind == "link" else member.shape,
        validators=tuple(names),
        choices=tuple(field_hints.get("choices", ())),
        choice_labels=tuple(field_hints.get("choice_labels", {}).items()),
        unit=field_hints.get("unit"),
        placeholder=field_hints.get("placeholder", ""),
        readonly=bool(field_hints.get("readonly", False)),
        existing_only=bool(field_hints.get("existing_only", False)),
        deprecated=_is_deprecated(member) or (owner is not None and _is_deprecated(owner)),
        target_type=member.target_type,
        default=member.default_value,
        create_attrs=create_attrs,
        owner=None if owner is None else Location(location.path),
        owner_label=humanize(location.path.rsplit("/", 1)[-1]) if owner is not None else "",
    )


def _is_deprecated(member: FieldSpec) -> bool:
    return (member.doc or "").lstrip("[ ").upper().startswith("DEPRECATED")


def _collect(
    members: list[FieldSpec],
    object_path: str,
    prefix: str,
    required: bool,
    hints: dict,
    out: list[FormField],
    depth: int = 0,
) -> None:
    hidden_attrs = set(form_hints().get("hidden_attributes", []))

    def editable_attribute(attr: FieldSpec) -> bool:
        return (
            attr.kind == "attribute"
            and attr.name not in hidden_attrs
            and attr.value is None
            and _editable(attr)
        )

    for member in members:
        if member.name is None or member.neurodata_type is not None:
            continue  # typed members have forms of their own
        if member.kind == "attribute":
            key = f"{prefix.rstrip('/')}@{member.name}" if prefix else member.name
            if key in hints["hidden"] or not editable_attribute(member):
                continue
            where = _join(object_path, prefix.rstrip("/"))
            out.append(
                _field(
                    key, Location(where, member.name), member, required and member.required, hints
                )
            )
        elif member.kind == "link":
            key = prefix + member.name
            if key not in hints["hidden"]:
                out.append(
                    _field(
                        key,
                        Location(_join(object_path, key)),
                        member,
                        required and member.required,
                        hints,
                    )
                )
        elif member.kind == "dataset":
            key = prefix + member.name
            if key in hints["hidden"]:
                continue
            dataset_required = required and member.required
            if _editable(member):
                out.append(
                    _field(key, Location(_join(object_path, key)), member, dataset_required, hints)
                )
            for attr in member.members:
                attr_key = f"{key}@{attr.name}"
                if attr_key in hints["hidden"] or not editable_attribute(attr):
                    continue
                out.append(
                    _field(
                        attr_key,
                        Location(_join(object_path, key), attr.name),
                        attr,
                        dataset_required and attr.required,
                        hints,
                        owner=member,
                    )
                )
        elif member.kind == "group" and depth < _MAX_DEPTH:
            _collect(
                member.members,
                object_path,
                prefix + member.name + "/",
                required and member.required,
                hints,
                out,
                depth + 1,
            )


def _sections(fields: list[FormField], hints: dict, default_title: str) -> list[Section]:
    by_key = {f.key: f for f in fields}
    sections: list[Section] = []
    placed: set[str] = set()
    for section in hints["sections"] or []:
        chosen = [by_key[key] for key in section["fields"] if key in by_key]
        placed.update(f.key for f in chosen)
        if chosen:
            sections.append(Section(section["title"], chosen))
    rest = [f for f in fields if f.key not in placed and not f.deprecated]
    deprecated = [f for f in fields if f.key not in placed and f.deprecated]
    if rest:
        # Required first, then recommended, then optional: the order a user should fill them.
        order = {REQUIRED: 0, RECOMMENDED: 1, OPTIONAL: 2}
        rest.sort(key=lambda f: order[f.level])
        sections.append(Section("Other" if sections else default_title, rest))
    if deprecated:
        sections.append(Section("Deprecated", deprecated))
    return sections


def object_type(session: EditSession, path: str) -> str | None:
    """The neurodata type of the object at ``path`` (pending creations included)."""
    return session.object_type(path)


def build_form(
    session: EditSession,
    catalog: Catalog,
    path: str,
    neurodata_type: str | None = None,
    parent: Form | None = None,
) -> Form:
    """The form of the typed object at ``path``.

    If the object does not exist, ``neurodata_type`` says what it would be: editing a field
    then creates it (with a fresh ``object_id``) as part of the same edit.
    """
    path = path if path.startswith("/") else "/" + path
    existing_type = session.object_type(path)
    type_name = existing_type or neurodata_type
    if not type_name:
        raise EditError(f"{path} is not a typed NWB object, so it has no metadata form.")
    type_spec = catalog.get(type_name)
    hints = _merged_hints(catalog, type_name)
    fields: list[FormField] = []
    _collect(catalog.fields(type_name), path, "", True, hints, fields)
    name = posixpath.basename(path) or "file"
    base_title = hints["title"] or type_name
    title = (
        base_title if path == "/" or name.lower() == base_title.lower() else f"{base_title}: {name}"
    )
    namespace = type_spec.namespace if type_spec else "core"
    form = Form(
        path=path,
        neurodata_type=type_name,
        namespace=namespace,
        title=title,
        doc=type_spec.doc if type_spec else "",
        sections=_sections(fields, hints, base_title),
        parent=parent,
        catalog=catalog,
    )
    if existing_type is None:
        form.new_group = GroupValue.new(type_name, namespace)
        form.required_members = tuple(
            (f.location, f.label)
            for f in fields
            if f.level == REQUIRED
            and f.owner is None
            and f.kind in ("dataset", "attribute", "link")
        )
        form.default_attrs = _default_attrs(catalog, type_name, path)
    for embed in hints["embed"]:
        sub_path = _join(path, embed["path"])
        form.embedded.append(build_form(session, catalog, sub_path, embed["type"], parent=form))
        if embed.get("after"):
            form.placement[sub_path] = embed["after"]
    for collection in hints["collections"]:
        container = _join(path, collection["path"])
        members = [
            child
            for child in session.child_names(container)
            if catalog.is_a(session.object_type(_join(container, child)), collection["type"])
        ]
        form.collections.append(
            Collection(
                collection["title"],
                container,
                collection["type"],
                [_join(container, m) for m in members],
            )
        )
    return form


def _default_attrs(
    catalog: Catalog, type_name: str, path: str
) -> tuple[tuple[Location, Any, ValueSpec], ...]:
    """Attributes a new object gets written with: spec fixed values and defaults."""
    hidden = set(form_hints().get("hidden_attributes", []))
    out = []
    for member in catalog.fields(type_name):
        if member.kind != "attribute" or member.name in hidden:
            continue
        value = member.value if member.value is not None else member.default_value
        if value is None:
            continue
        out.append(
            (
                Location(path, member.name),
                value,
                ValueSpec(label=humanize(member.name), dtype=member.dtype, shape=member.shape),
            )
        )
    return tuple(out)


def new_object_form(
    session: EditSession,
    catalog: Catalog,
    container: str,
    name: str,
    neurodata_type: str,
    parent: Form | None = None,
) -> Form:
    """The form for a new ``neurodata_type`` called ``name`` in ``container`` (e.g. a Device)."""
    problem = validators.check_no_slash(name)
    if not name.strip() or problem or name.startswith("."):
        raise EditError(f"'{name}' cannot name an object: use letters, digits, '-' or '_'.")
    path = _join(container, name.strip())
    if session.value(Location(path)) is not ABSENT:
        raise EditError(f"{path} already exists.")
    if catalog.get(neurodata_type) is None:
        raise EditError(f"The file's specification does not define the type {neurodata_type}.")
    return build_form(session, catalog, path, neurodata_type, parent=parent)


# -- resolving a path like "general/subject/species" ------------------------------------------------
def resolve_field(session: EditSession, catalog: Catalog, path: str) -> tuple[Form, FormField]:
    """Find the form and field that a path such as ``general/subject/species`` names.

    The nearest existing typed ancestor is found first; the rest of the path is matched against
    its fields, then against its specification: a named typed member (``general/subject``) or
    an unnamed typed member under a group (``general/devices/<name>`` → Device) is a new object
    that the edit creates. Attributes are addressed as ``object/path@attribute`` or, for the
    object's own attributes, ``object/path/attribute``.
    """
    clean = path.strip().strip("/")
    parts = [p for p in clean.split("/") if p]
    if not parts:
        raise EditError("An empty path names no field.")
    for split in range(len(parts) - 1, -1, -1):
        object_path = "/" + "/".join(parts[:split])
        type_name = session.object_type(object_path)
        if type_name is None:
            continue
        form = build_form(session, catalog, object_path)
        key = "/".join(parts[split:])
        if form.has_field(key):
            return form, form.field(key)
        found = _resolve_new(session, catalog, form, parts[split:])
        if found is not None:
            return found
        keys = [f.key for f in form.fields if not f.deprecated]
        listed = ", ".join(keys[:12]) + (", …" if len(keys) > 12 else "")
        raise EditError(
            f"{type_name} {object_path} has no editable field '{key}'; its fields are: {listed}."
        )
    raise EditError(f"'{path}' is not inside any typed NWB object.")


def _resolve_new(
    session: EditSession, catalog: Catalog, form: Form, rest: list[str]
) -> tuple[Form, FormField] | None:
    members = catalog.fields(form.neurodata_type)
    for index, part in enumerate(rest[:-1]):
        name_part = part.split("@", 1)[0]
        named = [m for m in members if m.name == name_part and m.kind == "group"]
        where = _join(form.path, "/".join(rest[: index + 1]))
        if named:
            member = named[0]
            if member.neurodata_type is None:
                members = member.members
                continue
            new_type = member.neurodata_type
        else:
            candidates = [
                m for m in members if m.name is None and m.kind == "group" and m.neurodata_type
            ]
            if not candidates:
                return None
            new_type = candidates[0].neurodata_type
        existing = session.object_type(where)
        sub_form = build_form(session, catalog, where, existing or new_type, parent=form)
        key = "/".join(rest[index + 1 :])
        if sub_form.has_field(key):
            return sub_form, sub_form.field(key)
        deeper = _resolve_new(session, catalog, sub_form, rest[index + 1 :])
        if deeper is not None:
            return deeper
        return None
    return None
