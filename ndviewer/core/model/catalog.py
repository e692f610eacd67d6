"""The type catalogue: every neurodata type the file knows, with docs, fields and ancestry.

Types come from the file's own cached specification (``/specifications/<ns>/<version>``), so
lab extensions (``ndx-*``) are understood exactly like core types. A file written without a
cached spec falls back to the copy of the core, hdmf-common and hdmf-experimental schemas
shipped in ``spec/fallback`` and says so in ``spec_source``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import h5py

from ndviewer.core.cache import FileIdentity
from ndviewer.core.model.values import decode_text

SPEC_GROUP = "specifications"
# Namespaces that everything else builds on: loaded first so that their types win name clashes.
BASE_NAMESPACES = ("hdmf-common", "hdmf-experimental", "core")


def version_key(version: str) -> tuple:
    """Numeric sort key: ``2.10.0`` > ``2.9.0`` (string order gets this wrong).

    As in semantic versioning, a pre-release sorts before its release:
    ``2.10.0-alpha`` < ``2.10.0``.
    """
    release, _, pre_release = version.partition("-")

    def parts(text: str) -> tuple:
        return tuple((0, int(p)) if p.isdigit() else (-1, p) for p in text.split(".") if p)

    return (parts(release), (0, parts(pre_release)) if pre_release else (1, ()))


@dataclass
class FieldSpec:
    """One member of a type: a group, dataset, attribute or link, as the spec declares it."""

    name: str | None
    kind: str  # "group" | "dataset" | "attribute" | "link"
    doc: str = ""
    neurodata_type: str | None = None  # the included type, for typed members
    dtype: Any = None
    shape: Any = None
    dims: Any = None
    quantity: Any = 1
    required: bool = True
    default_value: Any = None
    value: Any = None
    target_type: str | None = None
    default_name: str | None = None
    members: list[FieldSpec] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.name or f"<{self.neurodata_type}>"


@dataclass
class TypeSpec:
    """One neurodata type definition."""

    name: str
    namespace: str
    kind: str  # "group" | "dataset"
    doc: str = ""
    parent: str | None = None
    default_name: str | None = None
    dtype: Any = None
    shape: Any = None
    dims: Any = None
    members: list[FieldSpec] = field(default_factory=list)


@dataclass
class NamespaceInfo:
    name: str
    version: str
    doc: str = ""
    full_name: str = ""
    includes: list[str] = field(default_factory=list)
    versions_cached: list[str] = field(default_factory=list)


def _type_def(spec: dict) -> str | None:
    return spec.get("neurodata_type_def") or spec.get("data_type_def")


def _type_inc(spec: dict) -> str | None:
    return spec.get("neurodata_type_inc") or spec.get("data_type_inc")


def _is_required(spec: dict, kind: str) -> bool:
    if kind == "attribute":
        return bool(spec.get("required", True))
    quantity = spec.get("quantity", 1)
    if isinstance(quantity, int):
        return quantity > 0
    return quantity in ("+", "one_or_many")


class Catalog:
    """Types by name, with inheritance resolved through ``hierarchy``/``is_a``/``fields``."""

    def __init__(self, spec_source: str = "none") -> None:
        self.spec_source = spec_source
        self.namespaces: dict[str, NamespaceInfo] = {}
        self.types: dict[str, TypeSpec] = {}
        self._by_namespace: dict[tuple[str, str], TypeSpec] = {}
        self.problems: list[str] = []
        # Facts the user should be told that do not make the file bad (the fallback spec is in
        # use); each is also in ``problems``, so a viewer that lists those shows them too.
        self.notices: list[str] = []
        self._hierarchy_cache: dict[str, list[str]] = {}

    # -- building ---------------------------------------------------------------------------
    def add_namespace(self, info: NamespaceInfo, sources: list[dict]) -> None:
        self.namespaces[info.name] = info
        for source in sources:
            for spec in source.get("groups", []):
                self._add_type(spec, info.name, "group")
            for spec in source.get("datasets", []):
                self._add_type(spec, info.name, "dataset")
        self._hierarchy_cache.clear()

    def _add_type(self, spec: dict, namespace: str, kind: str) -> None:
        name = _type_def(spec)
        if name:
            type_spec = TypeSpec(
                name=name,
                namespace=namespace,
                kind=kind,
                doc=spec.get("doc", ""),
                parent=_type_inc(spec),
                default_name=spec.get("default_name") or spec.get("name"),
                dtype=spec.get("dtype"),
                shape=spec.get("shape"),
                dims=spec.get("dims"),
                members=self._members(spec, namespace),
            )
            self._by_namespace[(namespace, name)] = type_spec
            # The first definition of a name wins: base namespaces load first.
            self.types.setdefault(name, type_spec)
        # Nested members may define types of their own.
        for sub in spec.get("groups", []):
            if not _type_def(sub):
                self._walk_nested(sub, namespace, "group")
            else:
                self._add_type(sub, namespace, "group")
        for sub in spec.get("datasets", []):
            if _type_def(sub):
                self._add_type(sub, namespace, "dataset")

    def _walk_nested(self, spec: dict, namespace: str, kind: str) -> None:
        for sub in spec.get("groups", []):
            if _type_def(sub):
                self._add_type(sub, namespace, "group")
            else:
                self._walk_nested(sub, namespace, "group")
        for sub in spec.get("datasets", []):
            if _type_def(sub):
                self._add_type(sub, namespace, "dataset")

    def _members(self, spec: dict, namespace: str) -> list[FieldSpec]:
        members: list[FieldSpec] = []
        for kind, key in (
            ("group", "groups"),
            ("dataset", "datasets"),
            ("attribute", "attributes"),
            ("link", "links"),
        ):
            for sub in spec.get(key, []):
                members.append(self._field(sub, kind, namespace))
        return members

    def _field(self, spec: dict, kind: str, namespace: str) -> FieldSpec:
        inc = _type_def(spec) or _type_inc(spec)
        return FieldSpec(
            name=spec.get("name"),
            kind=kind,
            doc=spec.get("doc", ""),
            neurodata_type=inc,
            dtype=spec.get("dtype"),
            shape=spec.get("shape"),
            dims=spec.get("dims"),
            quantity=spec.get("quantity", 1),
            required=_is_required(spec, kind),
            default_value=spec.get("default_value"),
            value=spec.get("value"),
            target_type=spec.get("target_type"),
            default_name=spec.get("default_name"),
            members=self._members(spec, namespace) if kind != "link" else [],
        )

    # -- queries ----------------------------------------------------------------------------
    def get(self, type_name: str | None, namespace: str | None = None) -> TypeSpec | None:
        if not type_name:
            return None
        if namespace is not None:
            found = self._by_namespace.get((namespace, type_name))
            if found is not None:
                return found
        return self.types.get(type_name)

    def knows(self, type_name: str | None) -> bool:
        return self.get(type_name) is not None

    def covered_namespaces(self) -> set[str]:
        """Namespaces whose types the catalogue has: cached ones, and base ones the fallback
        filled in (when the file's copy was missing or broken)."""
        return set(self.namespaces) | {namespace for namespace, _type in self._by_namespace}

    def hierarchy(self, type_name: str | None) -> list[str]:
        """The type followed by its ancestors, nearest first; [] for None.

        An unknown type gives ``[type_name]``: callers can still show it, with no parent.
        """
        if not type_name:
            return []
        cached = self._hierarchy_cache.get(type_name)
        if cached is not None:
            return list(cached)
        chain = [type_name]
        seen = {type_name}
        current = self.types.get(type_name)
        while current is not None and current.parent and current.parent not in seen:
            chain.append(current.parent)
            seen.add(current.parent)
            current = self.types.get(current.parent)
        self._hierarchy_cache[type_name] = chain
        return list(chain)

    def is_a(self, type_name: str | None, base: str) -> bool:
        # the cached chain itself, not the copy ``hierarchy`` hands out: asked once per
        # object of 10^5-object files (``info``'s series, the tree's panels)
        chain = self._hierarchy_cache.get(type_name) if type_name else None
        return base in (chain if chain is not None else self.hierarchy(type_name))

    def doc(self, type_name: str | None) -> str:
        spec = self.get(type_name)
        return spec.doc if spec else ""

    def fields(self, type_name: str) -> list[FieldSpec]:
        """All members of a type, inherited ones first, a child's member replacing its parent's."""
        merged: dict[str, FieldSpec] = {}
        unnamed: list[FieldSpec] = []
        for ancestor in reversed(self.hierarchy(type_name)):
            spec = self.types.get(ancestor)
            if spec is None:
                continue
            for member in spec.members:
                if member.name is None:
                    unnamed = [m for m in unnamed if m.neurodata_type != member.neurodata_type]
                    unnamed.append(member)
                else:
                    merged[f"{member.kind}:{member.name}"] = member
        return list(merged.values()) + unnamed

    def member(self, type_name: str | None, name: str, kind: str | None = None) -> FieldSpec | None:
        """The spec of the member called ``name`` of ``type_name`` (searched through ancestors)."""
        if not type_name:
            return None
        for member in self.fields(type_name):
            if member.name == name and (kind is None or member.kind == kind):
                return member
        return None

    def subtypes(self, base: str) -> list[str]:
        return sorted(name for name in self.types if self.is_a(name, base))


# -- loading ----------------------------------------------------------------------------------
def _read_json(dataset: h5py.Dataset) -> Any:
    raw = dataset[()]
    if isinstance(raw, bytes | str):
        return json.loads(decode_text(raw))
    return json.loads(decode_text(raw.tolist() if hasattr(raw, "tolist") else raw))


def _load_namespace_dir(version_group: h5py.Group, where: str) -> tuple[NamespaceInfo, list[dict]]:
    if "namespace" not in version_group:
        raise ValueError(f"{where} has no 'namespace' dataset")
    namespace_doc = _read_json(version_group["namespace"])
    entries = namespace_doc.get("namespaces") or []
    if not entries:
        raise ValueError(f"{where}/namespace lists no namespace")
    entry = entries[0]
    info = NamespaceInfo(
        name=entry.get("name", ""),
        version=str(entry.get("version", "")),
        doc=entry.get("doc", ""),
        full_name=entry.get("full_name", ""),
    )
    sources: list[dict] = []
    for item in entry.get("schema", []):
        if "namespace" in item:
            info.includes.append(item["namespace"])
        elif "source" in item:
            source_name = item["source"]
            # pynwb stores "nwb.base.yaml" as "nwb.base"
            candidates = [
                source_name,
                source_name.rsplit(".yaml", 1)[0],
                source_name.rsplit(".yml", 1)[0],
            ]
            for candidate in candidates:
                if candidate in version_group:
                    sources.append(_read_json(version_group[candidate]))
                    break
            else:
                raise ValueError(f"{where} lacks the schema source '{source_name}'")
    return info, sources


def _ordered(names: list[str]) -> list[str]:
    base = [n for n in BASE_NAMESPACES if n in names]
    return base + sorted(n for n in names if n not in BASE_NAMESPACES)


#: What a damaged or hand-made cached spec can raise while it is read and parsed: HDF5
#: metadata damage (RuntimeError, OSError, KeyError), bad JSON, JSON nested too deep for the
#: parser (RecursionError), JSON of the wrong shape (AttributeError, TypeError).
_SPEC_DAMAGE = (
    ValueError,
    json.JSONDecodeError,
    OSError,
    TypeError,
    KeyError,
    RuntimeError,
    AttributeError,
    UnicodeDecodeError,
)


def load_catalog_from_group(spec_group: h5py.Group, source_name: str, spec_source: str) -> Catalog:
    """Read every namespace cached under ``spec_group``, newest version of each.

    A namespace whose cache cannot be read or parsed is a problem sentence, not an error:
    base namespaces are then filled in from the shipped fallback (see ``load_catalog``).
    """
    catalog = Catalog(spec_source)
    try:
        names = list(spec_group.keys())
    except _SPEC_DAMAGE as exc:
        catalog.problems.append(
            f"The cached specification in {source_name} cannot be listed ({_first_line(exc)}); "
            "ndviewer's built-in copy of the core schema is used instead."
        )
        return catalog
    for ns_name in _ordered(names):
        where = f"{spec_group.name}/{ns_name}"
        try:
            ns_group = spec_group[ns_name]
            if not isinstance(ns_group, h5py.Group) or not len(ns_group):
                continue
            versions = sorted(ns_group.keys(), key=version_key)
            newest = versions[-1]
            where = f"{spec_group.name}/{ns_name}/{newest}"
            info, sources = _load_namespace_dir(ns_group[newest], where)
            info.versions_cached = versions
            trial = Catalog(spec_source)  # parse into a scratch catalogue: all or nothing
            trial.add_namespace(info, sources)
        except (*_SPEC_DAMAGE, RecursionError) as exc:
            # load_catalog fills the base namespaces in from the shipped fallback
            consequence = (
                "ndviewer's built-in copy of it is used instead"
                if ns_name in BASE_NAMESPACES
                else "its types are shown without docs"
            )
            reason = "JSON nested too deeply" if isinstance(exc, RecursionError) else exc
            catalog.problems.append(
                f"The cached specification of namespace '{ns_name}' in {source_name} is broken "
                f"({_first_line(reason)}); {consequence}."
            )
            continue
        catalog.add_namespace(info, sources)
    return catalog


def _first_line(reason: object) -> str:
    text = str(reason).strip()
    return text.splitlines()[0] if text else type(reason).__name__


@lru_cache(maxsize=1)
def _fallback_catalog() -> Catalog:
    from ndviewer.paths import spec_dir

    catalog = Catalog("fallback")
    root = spec_dir() / "fallback"
    names = [p.name for p in root.iterdir() if p.is_dir()]
    for ns_name in _ordered(names):
        versions = sorted((p.name for p in (root / ns_name).iterdir()), key=version_key)
        folder: Path = root / ns_name / versions[-1]
        namespace_doc = json.loads((folder / "namespace.json").read_text())
        entry = namespace_doc["namespaces"][0]
        info = NamespaceInfo(
            entry["name"],
            str(entry["version"]),
            entry.get("doc", ""),
            entry.get("full_name", ""),
            versions_cached=[],
        )
        sources = []
        for item in entry.get("schema", []):
            if "namespace" in item:
                info.includes.append(item["namespace"])
            else:
                sources.append(json.loads((folder / f"{item['source']}.json").read_text()))
        catalog.add_namespace(info, sources)
    return catalog


def fallback_catalog() -> Catalog:
    """The shipped core + hdmf-common + hdmf-experimental catalogue (a fresh copy)."""
    base = _fallback_catalog()
    catalog = Catalog("fallback")
    catalog.namespaces = dict(base.namespaces)
    catalog.types = dict(base.types)
    catalog._by_namespace = dict(base._by_namespace)
    return catalog


def _root_says_nwb(h5: h5py.File) -> bool:
    """Whether the root's attributes mark an NWB (or hdmf) file: then missing base
    namespaces are filled in from the shipped spec. Raises what damaged metadata raises."""
    return any(name in h5.attrs for name in ("nwb_version", "neurodata_type", "data_type"))


def load_catalog(h5: h5py.File, source_name: str = "") -> Catalog:
    """The catalogue for an open file: its own cached spec, else the shipped fallback.

    Base namespaces that the file does not cache (or caches broken) are filled in from the
    fallback so that core types still resolve; the problem is reported, not raised.
    """
    source_name = source_name or h5.filename
    try:
        spec_group = h5.get(SPEC_GROUP)
        is_nwb = _root_says_nwb(h5)
    except _SPEC_DAMAGE as exc:  # damaged root metadata: describe with the built-in spec
        catalog = fallback_catalog()
        catalog.problems.append(
            f"The cached specification in {source_name} cannot be read ({_first_line(exc)}); "
            "ndviewer's built-in copy of the core schema is used instead."
        )
        return catalog
    try:
        has_spec = isinstance(spec_group, h5py.Group) and len(spec_group) > 0
    except _SPEC_DAMAGE:
        has_spec = isinstance(spec_group, h5py.Group)
    if has_spec:
        catalog = load_catalog_from_group(spec_group, source_name, "file")
        missing = [name for name in BASE_NAMESPACES if name not in catalog.namespaces]
        if missing and is_nwb:  # the shipped copy is parsed only when needed (~4 ms)
            fallback = fallback_catalog()
            for name in missing:
                for type_name, spec in fallback.types.items():
                    if spec.namespace == name:
                        catalog.types.setdefault(type_name, spec)
                        catalog._by_namespace.setdefault((name, type_name), spec)
        catalog._hierarchy_cache.clear()
        return catalog
    if is_nwb:
        catalog = fallback_catalog()
        notice = (
            f"{source_name} has no cached specification (written with cache_spec=False); "
            "types are described from ndviewer's built-in copy of the NWB core schema, and "
            "extension types are unknown."
        )
        catalog.problems.append(notice)
        catalog.notices.append(notice)
        return catalog
    return Catalog("none")


#: The layout of a persisted catalogue (Catalog, TypeSpec, FieldSpec, NamespaceInfo): bump it
#: when one of them changes, and the catalogues saved before are parsed again.
CATALOG_FORMAT = "1"


def spec_digest(h5: h5py.File) -> str | None:
    """A digest of everything ``load_catalog`` reads: whether the root says NWB, the cached
    namespaces, their versions and the documents of the newest of each (None: unreadable).

    Reading and hashing the documents costs ~3 ms where parsing them costs 8-11 ms; files
    written by the same pipeline share one digest, and so one persisted catalogue.
    """
    digest = hashlib.sha1()
    try:
        digest.update(b"nwb\0" if _root_says_nwb(h5) else b"hdf5\0")
        spec_group = h5.get(SPEC_GROUP)
        if not isinstance(spec_group, h5py.Group):
            return digest.hexdigest()
        for ns_name in sorted(spec_group.keys()):
            ns_group = spec_group[ns_name]
            if not isinstance(ns_group, h5py.Group):
                digest.update(f"{ns_name}: not a group\0".encode())
                continue
            versions = sorted(ns_group.keys(), key=version_key)
            digest.update(f"{ns_name}: {versions!r}\0".encode())
            if not versions:
                continue
            version_group = ns_group[versions[-1]]
            if not isinstance(version_group, h5py.Group):
                continue
            for doc_name in sorted(version_group.keys()):
                raw = version_group[doc_name][()]
                if not isinstance(raw, bytes):
                    raw = repr(raw).encode()
                digest.update(f"{doc_name}: {len(raw)}\0".encode())
                digest.update(raw)
    except _SPEC_DAMAGE:
        return None
    return digest.hexdigest()


def file_catalog(
    h5: h5py.File, identity: FileIdentity, source_name: str = "", use_cache: bool = True
) -> Catalog:
    """``load_catalog`` for an open file, each distinct cached spec parsed once.

    Parsing a file's spec (~20 JSON documents, ~200 types) took 8-11 ms of the path from
    launch to the painted tree. A parsed catalogue is kept once per spec (keyed by
    ``spec_digest``), and each file remembers which spec it caches (keyed by its identity),
    so a reopened file loads its catalogue in ~1.5 ms and a new file from the same pipeline
    parses nothing. A catalogue with problems names its file in them: it is not shared.
    """
    if not use_cache:
        return load_catalog(h5, source_name)
    from ndviewer.core import cache

    remembered = cache.load("spec-of", identity, CATALOG_FORMAT)
    if isinstance(remembered, str):
        catalog = cache.load_keyed("catalog", remembered, CATALOG_FORMAT)
        if isinstance(catalog, Catalog):
            return catalog
    digest = spec_digest(h5)
    if digest is None:
        return load_catalog(h5, source_name)
    catalog = cache.load_keyed("catalog", digest, CATALOG_FORMAT)
    if not isinstance(catalog, Catalog):
        catalog = load_catalog(h5, source_name)
        if catalog.problems:
            return catalog
        cache.save_keyed("catalog", digest, CATALOG_FORMAT, catalog)
    cache.save("spec-of", identity, CATALOG_FORMAT, digest)
    return catalog
