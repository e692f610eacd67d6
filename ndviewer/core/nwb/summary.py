"""What a file is about, in one dictionary: session, subject, namespaces, counts, series.

Feeds the file overview page and ``ndviewer info``. Built from the typed index (so it costs no
extra walk) plus a handful of small header datasets. :func:`find_typed_paths` answers "where
are the objects of this type" from the same index, or from a shallow scan before it is built.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import h5py

from ndviewer.core.model.files import NwbFile
from ndviewer.core.model.index import FileIndex, SeriesFacts, file_index
from ndviewer.core.model.nodes import DAMAGE_ERRORS, read_type_attrs
from ndviewer.core.model.values import decode_value

SESSION_FIELDS = ("session_description", "identifier", "session_start_time")
GENERAL_FIELDS = (
    "experimenter",
    "institution",
    "lab",
    "experiment_description",
    "keywords",
    "related_publications",
    "protocol",
    "notes",
)
SUBJECT_FIELDS = (
    "subject_id",
    "species",
    "sex",
    "age",
    "date_of_birth",
    "strain",
    "genotype",
    "weight",
    "description",
)
_MAX_HEADER_ELEMENTS = 4096
#: Where :func:`find_typed_paths` looks (three levels down) while the typed index is not built.
SCAN_ROOTS = ("intervals", "units", "processing", "acquisition", "analysis", "stimulus")


def parse_iso_datetime(text: str) -> dt.datetime | None:
    """An ISO 8601 date-time, or None if ``text`` is not one."""
    try:
        return dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None


def _small_value(h5: h5py.File, path: str) -> Any:
    """A small header value, or None when absent, too large or unreadable (damaged)."""
    try:
        obj = h5.get(path)
        if not isinstance(obj, h5py.Dataset) or (obj.size or 0) > _MAX_HEADER_ELEMENTS:
            return None
        return decode_value(obj[()], h5)
    except DAMAGE_ERRORS:
        return None


def session_info(file: NwbFile) -> dict[str, Any]:
    """Header fields of the session; problems (e.g. a garbage start time) go to ``file.problems``."""
    h5 = file.h5
    session = {name: _small_value(h5, f"/{name}") for name in SESSION_FIELDS}
    start = session.get("session_start_time")
    if start is not None and parse_iso_datetime(str(start)) is None:
        problem = (
            f"{file.path}: /session_start_time holds {str(start)!r}, which is not an ISO 8601 "
            "date-time (expected e.g. 2024-03-01T09:30:00+01:00)."
        )
        if problem not in file.problems:
            file.problems.append(problem)
    return session


def general_info(file: NwbFile) -> dict[str, Any]:
    return {name: _small_value(file.h5, f"/general/{name}") for name in GENERAL_FIELDS}


def subject_info(file: NwbFile) -> dict[str, Any] | None:
    try:
        if "/general/subject" not in file.h5:
            return None
    except DAMAGE_ERRORS:
        return None
    return {name: _small_value(file.h5, f"/general/subject/{name}") for name in SUBJECT_FIELDS}


def namespace_list(file: NwbFile) -> list[dict[str, str]]:
    return [
        {"name": info.name, "version": info.version} for info in file.catalog.namespaces.values()
    ]


def series_types(file: NwbFile) -> frozenset[str]:
    """Every type that is a TimeSeries in this file's catalogue, extension types included."""
    return frozenset(file.catalog.subtypes("TimeSeries"))


def typed_index(file: NwbFile, use_cache: bool = True, interactive: bool = False) -> FileIndex:
    return file_index(
        file.h5,
        file.identity,
        series_types(file),
        use_cache=use_cache and file.use_cache,
        interactive=interactive,
    )


def find_typed_paths(file: NwbFile, base: str, index: FileIndex | None = None) -> list[str]:
    """Paths of every object whose type is a ``base`` (extension subtypes included).

    With the file's typed ``index`` the answer is complete and costs no read. Without it (the
    index is still being built) the groups below :data:`SCAN_ROOTS` are scanned, down to three
    levels under each root; a group that matches is listed and not looked into.
    """
    catalog = file.catalog
    if index is not None:
        return index.paths_of(base, catalog.is_a)
    found: list[str] = []

    def visit(group: h5py.Group, depth: int) -> None:
        for name in group:
            try:
                item = group[name]
            except (KeyError, OSError):
                continue
            if not isinstance(item, h5py.Group):
                continue
            neurodata_type = read_type_attrs(item.attrs)[0]
            if neurodata_type and catalog.is_a(neurodata_type, base):
                found.append(item.name)
            elif depth < 2:
                visit(item, depth + 1)

    for root in SCAN_ROOTS:
        item = file.h5.get(root)
        if isinstance(item, h5py.Group):
            neurodata_type = read_type_attrs(item.attrs)[0]
            if neurodata_type and catalog.is_a(neurodata_type, base):
                found.append(item.name)
            else:
                visit(item, 0)
    return found


def series_numbers(facts: SeriesFacts, is_image: bool = False) -> dict[str, Any]:
    """n_samples, n_channels, rate, starting_time, duration (s), unit and frame shape.

    Channels: 1 for 1-D data, the second dimension for 2-D data, the product of the non-time
    dimensions beyond that. For an image series (``is_image``) a sample is a frame and
    ``frame_shape`` gives its non-time dimensions (e.g. ``[128, 128]``); it is None for
    other series. An image series kept in external files stores a placeholder ``data`` of
    shape ``(0, 0, 0)``: its frame count comes from ``num_samples``, else from the number of
    timestamps. Duration: samples / rate for a regular series, last - first timestamp for
    an irregular one.
    """
    shape = facts.data_shape
    n_samples = int(shape[0]) if shape else 0
    if n_samples == 0 and facts.num_samples:
        n_samples = facts.num_samples
    elif n_samples == 0 and facts.external_files and facts.timestamps_count:
        n_samples = facts.timestamps_count
    if not shape or len(shape) == 1:
        n_channels = 1
    else:
        n_channels = 1
        for extent in shape[1:]:
            n_channels *= int(extent)
    frame_shape = [int(extent) for extent in shape[1:]] if is_image and shape else None
    if frame_shape is not None and facts.external_files and not any(frame_shape):
        frame_shape = None  # the placeholder says nothing about the video's frames
        n_channels = 1
    duration = None
    starting_time = facts.starting_time
    if facts.rate:
        duration = n_samples / facts.rate
    elif facts.timestamps_count is not None:
        if facts.first_timestamp is not None and facts.last_timestamp is not None:
            duration = facts.last_timestamp - facts.first_timestamp
            starting_time = facts.first_timestamp
        else:
            duration = 0.0
    return {
        "n_samples": n_samples,
        "n_channels": n_channels,
        "rate": facts.rate if facts.timestamps_count is None else None,
        "starting_time": starting_time,
        "duration": duration,
        "unit": facts.unit,
        "frame_shape": frame_shape,
        "external_files": facts.external_files,
    }


def missing_namespace_problems(file: NwbFile, index: FileIndex) -> list[str]:
    """Typed objects whose namespace or type the cached spec does not describe.

    One line per missing namespace (however many objects use it) and one per unknown type,
    each naming the file, the namespace or type, how many objects and an example path.
    """
    catalog = file.catalog
    if catalog.spec_source != "file":
        return []
    covered = catalog.covered_namespaces()
    by_namespace: dict[str, dict[str, list[str]]] = {}
    unknown_types: dict[tuple[str, str], list[str]] = {}
    for entry in index.typed:
        namespace = entry.namespace or ""
        type_name = entry.neurodata_type or ""
        if namespace and namespace not in covered:
            by_namespace.setdefault(namespace, {}).setdefault(type_name, []).append(entry.path)
        elif not catalog.knows(type_name):
            unknown_types.setdefault((namespace, type_name), []).append(entry.path)
    problems = []
    for namespace, types in sorted(by_namespace.items()):
        paths = sorted(path for type_paths in types.values() for path in type_paths)
        count = f"{len(paths)} objects use" if len(paths) > 1 else "1 object uses"
        problems.append(
            f"{file.path}: namespace '{namespace}' is not in the file's cached specification, "
            f"but {count} its types ({', '.join(sorted(types))}), e.g. {paths[0]}."
        )
    for (namespace, type_name), paths in sorted(unknown_types.items()):
        where = f" (namespace '{namespace}')" if namespace else ""
        count = f"{len(paths)} objects use" if len(paths) > 1 else "1 object uses"
        problems.append(
            f"{file.path}: type {type_name}{where} is defined by no cached namespace, but "
            f"{count} it, e.g. {paths[0]}."
        )
    return problems


def file_summary(file: NwbFile, index: FileIndex | None = None) -> dict[str, Any]:
    """The ``ndviewer info --json`` object (see README for the contract)."""
    index = index if index is not None else typed_index(file)
    catalog = file.catalog
    session = session_info(file) if file.is_nwb else dict.fromkeys(SESSION_FIELDS)
    file.problems.extend(
        p
        for p in [*index.problems, *missing_namespace_problems(file, index)]
        if p not in file.problems
    )
    # One pass over the typed entries: at 10^5 series, the path dictionary of every entry
    # (``index.by_path``) and sorting (path, facts) pairs cost ~0.3 s of ``info``'s cold
    # run, next to a ~9 s walk.
    objects = []
    series_types: dict[str, str | None] = {}
    for e in index.typed:
        objects.append(
            {
                "path": e.path,
                "neurodata_type": e.neurodata_type,
                "namespace": e.namespace,
                "kind": e.kind,
                "shape": list(e.shape) if e.shape is not None else None,
                "dtype": e.dtype,
                "link": e.link,
            }
        )
        if e.path in index.series:
            series_types[e.path] = e.neurodata_type
    series = []
    for path in sorted(index.series):
        neurodata_type = series_types.get(path)
        is_image = catalog.is_a(neurodata_type, "ImageSeries")
        series.append(
            {
                "path": path,
                "neurodata_type": neurodata_type,
                **series_numbers(index.series[path], is_image),
            }
        )
    return {
        "file": str(file.path),
        "nwb_version": file.nwb_version,
        "namespaces": namespace_list(file),
        "spec_source": catalog.spec_source,
        "session": session,
        "objects": objects,
        "series": series,
        # what a script needs to tell a described-with-problems file from a clean one
        "problems": [p for p in file.problems if p not in catalog.notices],
    }
