"""Best-practice rules over the typed index, in the spirit of nwbinspector.

Each rule's severity, message, types and field are a row of ``spec/checks.json`` (see
``rules``); the code here decides only *whether* the rule fires and with which values. Rules
read metadata and small header values; time checks read timestamps only up to
``MAX_TIME_READ`` elements (nwbinspector reads 200) and table time columns up to the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import h5py
import numpy as np

from ndviewer.core.checks.findings import Finding
from ndviewer.core.checks.h5meta import Meta
from ndviewer.core.checks.rules import rule
from ndviewer.core.edit import validators
from ndviewer.core.model.catalog import Catalog
from ndviewer.core.model.index import FileIndex, IndexEntry, SeriesFacts
from ndviewer.core.model.values import decode_value

_DAMAGE = (RuntimeError, OSError, KeyError, ValueError, TypeError, UnicodeDecodeError)
#: Timestamps and table time columns longer than this are checked on their first elements.
MAX_TIME_READ = 100_000
_SMALL = 4096
_PLACEHOLDERS = {"", "no description", "no desc", "none", "placeholder", "todo", "tbd", "n/a"}
_YEAR = 31_557_600.0
#: Chunk sizes outside [MIN, MAX] bytes make the common reads slow (see _chunk_findings).
MIN_CHUNK_BYTES = 16 * 1024
MAX_CHUNK_BYTES = 64 * 1024 * 1024
TARGET_CHUNK_BYTES = 1024 * 1024
_ITEM_BYTES = {
    f"{kind}{bits}": bits // 8 for kind in ("int", "uint", "float") for bits in (8, 16, 32, 64)
}


def _join(path: str, name: str) -> str:
    return f"/{name}" if path == "/" else f"{path}/{name}"


class RuleRunner:
    """Runs every rule on one open file; ``findings`` collects the result."""

    def __init__(
        self, h5: h5py.File, catalog: Catalog, index: FileIndex, meta: Meta | None = None
    ) -> None:
        self.h5 = h5
        self.meta = meta or Meta(h5)
        self.catalog = catalog
        self.index = index
        self.findings: list[Finding] = []
        self._dispatch: dict[tuple[str, str], list[Callable[[IndexEntry], None]]] = {}

    def add(self, check: str, path: str, field: str | None = None, **values: Any) -> None:
        self.findings.append(rule(check).finding(path, field, **values))

    def small(self, path: str) -> Any:
        """A small value (dataset or None when absent/large/unreadable), decoded."""
        if not self.meta.has_link(path):
            return None
        try:
            obj = self.h5.get(path)
            if not isinstance(obj, h5py.Dataset) or (obj.size or 0) > _SMALL:
                return None
            return decode_value(obj[()], self.h5)
        except _DAMAGE:
            return None

    def attr(self, path: str, name: str) -> Any:
        return self.meta.attr(path, name)

    def run(self) -> list[Finding]:
        for entry in self.index.typed:
            self.check_entry(entry)
        return self.findings

    def _methods(self, type_name: str, kind: str) -> list[Callable[[IndexEntry], None]]:
        """The rule methods that apply to a type (through inheritance), worked out once."""
        key = (type_name, kind)
        methods = self._dispatch.get(key)
        if methods is None:
            is_a = self.catalog.is_a
            methods = [
                method
                for base, method in (
                    ("NWBFile", self.nwbfile),
                    ("Subject", self.subject),
                    ("TimeSeries", self.time_series),
                    ("ElectricalSeries", self.electrical_series),
                    ("TimeIntervals", self.time_intervals),
                    ("DynamicTable", self.dynamic_table),
                )
                if is_a(type_name, base)
            ]
            if kind == "group" and (
                is_a(type_name, "NWBContainer") or is_a(type_name, "DynamicTable")
            ):
                methods.append(self.description)
            self._dispatch[key] = methods
        return methods

    def check_entry(self, entry: IndexEntry) -> None:
        if not entry.neurodata_type or entry.kind == "unreadable":
            return
        for method in self._methods(entry.neurodata_type, entry.kind):
            try:
                method(entry)
            except _DAMAGE:
                continue  # damage is the schema validator's to report

    # -- the file ------------------------------------------------------------------------------
    def nwbfile(self, entry: IndexEntry) -> None:
        root = entry.path
        general = _join(root, "general")
        try:
            subject_group = self.h5.get(_join(general, "subject"))
        except _DAMAGE:
            subject_group = None
        if subject_group is None:
            self.add("subject_missing", root)
        description = self.small(_join(root, "session_description"))
        if description is not None:
            text = str(description).strip()
            if text.strip(".").lower() in _PLACEHOLDERS:
                self.add("session_description_placeholder", root, value=text)
        start = self.small(_join(root, "session_start_time"))
        if start is not None:
            problem = validators.check_datetime_tz(str(start))
            if problem:
                self.add("session_start_no_timezone", root, detail=problem)
            future = validators.check_not_future(str(start))
            if future:
                self.add("session_start_future", root, detail=future)
        session_id = self.small(_join(general, "session_id"))
        if session_id is not None:
            problem = validators.check_no_slash(str(session_id))
            if problem:
                self.add("session_id_slash", root, detail=f"session_id {problem}")
        experimenter = self.small(_join(general, "experimenter"))
        if experimenter in (None, [], ""):
            self.add("experimenter_missing", root)
        else:
            problem = validators.check_experimenter(experimenter)
            if problem:
                self.add("experimenter_form", root, detail=problem)
        publications = self.small(_join(general, "related_publications"))
        if publications not in (None, [], ""):
            problem = validators.check_doi(publications)
            if problem:
                self.add("publication_not_doi", root, detail=problem)

    def subject(self, entry: IndexEntry) -> None:
        path = entry.path
        subject_id = self.small(_join(path, "subject_id"))
        if subject_id is None or not str(subject_id).strip():
            self.add("subject_id_missing", path)
        else:
            problem = validators.check_no_slash(str(subject_id))
            if problem:
                self.add("subject_id_slash", path, detail=f"subject_id {problem}")
        species = self.small(_join(path, "species"))
        if species is None or not str(species).strip():
            self.add("species_missing", path)
        else:
            problem = validators.check_species(str(species))
            if problem:
                self.add("species_form", path, detail=problem)
        age = self.small(_join(path, "age"))
        birth = self.small(_join(path, "date_of_birth"))
        if (age is None or not str(age).strip()) and birth is None:
            self.add("age_missing", path)
        elif age is not None and str(age).strip():
            problem = validators.check_age(str(age))
            if problem:
                self.add("age_form", path, detail=problem)
        sex = self.small(_join(path, "sex"))
        if sex is not None:
            problem = validators.check_sex(str(sex))
            if problem:
                self.add("sex_form", path, detail=problem)
        weight = self.small(_join(path, "weight"))
        if weight is not None and str(weight).strip():
            problem = validators.check_weight(str(weight))
            if problem:
                self.add("weight_form", path, detail=problem)

    # -- time series ---------------------------------------------------------------------------
    def time_series(self, entry: IndexEntry) -> None:
        path = entry.path
        facts = self.index.series.get(path) or SeriesFacts()
        data_entry = self.index.by_path.get(_join(path, "data"))
        shape = facts.data_shape or (data_entry.shape if data_entry else None)
        samples = int(shape[0]) if shape else 0
        has_external = bool(facts.external_files)
        if self.catalog.is_a(entry.neurodata_type, "TimeSeries"):
            unit = self.meta.text_attr(_join(path, "data"), "unit")
            if shape is not None and (unit is None or not str(unit).strip()):
                self.add("unit_missing", path)
            resolution = self.meta.float_attr(_join(path, "data"), "resolution")
            if (
                isinstance(resolution, int | float)
                and not math.isnan(resolution)
                and resolution != -1.0
                and resolution <= 0
            ):
                self.add("resolution_invalid", path, value=float(resolution))
        if shape is not None and not has_external:
            if math.prod(shape) == 0:
                self.add("data_empty", path, shape=tuple(shape))
            elif (
                len(shape) > 1
                and any(extent > shape[0] for extent in shape[1:])
                # (events, channels, waveform samples): more samples than events is normal
                and not self.catalog.is_a(entry.neurodata_type, "SpikeEventSeries")
            ):
                longest = int(np.argmax(shape))
                order = [longest, *[a for a in range(len(shape)) if a != longest]]
                suggested = tuple(int(shape[a]) for a in order)
                self.add("time_axis_transposed", path, shape=tuple(shape), suggested=suggested)
        rate = facts.rate
        if facts.timestamps_count is None and rate is not None:
            if rate == 0 and samples > 1:
                self.add("rate_zero", path, samples=samples)
            elif rate < 0:
                self.add("rate_negative", path, rate=rate, abs_rate=abs(rate))
            if facts.starting_time is not None and facts.starting_time < 0:
                self.add("negative_start", path, field="starting_time", start=facts.starting_time)
            if rate > 0 and samples > 1 and (samples - 1) / rate > _YEAR:
                duration = (samples - 1) / rate
                self.add(
                    "duration_too_long",
                    path,
                    field="starting_time",
                    duration=duration,
                    years=duration / _YEAR,
                )
        if facts.timestamps_count is not None:
            self.timestamps(path, facts, shape, has_external)
        if data_entry is not None and shape is not None and samples > 1:
            self.chunks(path, entry, data_entry, shape, rate, facts)

    def timestamps(
        self, path: str, facts: SeriesFacts, shape: tuple[int, ...] | None, has_external: bool
    ) -> None:
        count = facts.timestamps_count or 0
        samples = int(shape[0]) if shape else None
        if samples is not None and count != samples and not (has_external and samples == 0):
            self.add("timestamps_length", path, count=count, samples=samples)
        if count == 0:
            return
        try:
            dataset = self.h5[_join(path, "timestamps")]
            values = np.asarray(dataset[: min(count, MAX_TIME_READ)], dtype=np.float64)
        except _DAMAGE:
            return
        if values.ndim != 1 or not values.size:
            return
        nan = np.flatnonzero(np.isnan(values))
        if nan.size:
            self.add("timestamps_nan", path, where=int(nan[0]))
        finite = values[~np.isnan(values)]
        if finite.size and finite[0] < 0:
            self.add("negative_start", path, field="timestamps", start=float(finite[0]))
        if finite.size > 1:
            steps = np.diff(finite)
            backwards = np.flatnonzero(steps < 0)
            if backwards.size:
                where = int(backwards[0])
                self.add(
                    "timestamps_not_ascending",
                    path,
                    where=where + 1,
                    before=float(finite[where]),
                    after=float(finite[where + 1]),
                )
            # nwbinspector: more than 2 timestamps, one unique step at 9 decimals, step != 0
            if (
                count > 2
                and not nan.size
                and np.unique(np.round(steps, 9)).size == 1
                and steps[0] != 0
            ):
                step = float(steps[0])
                self.add(
                    "timestamps_regular",
                    path,
                    count=count,
                    step=step,
                    start=float(finite[0]),
                    rate=1.0 / step,
                )
            duration = float(
                (facts.last_timestamp if facts.last_timestamp is not None else finite[-1])
                - finite[0]
            )
            if duration > _YEAR:
                self.add(
                    "duration_too_long",
                    path,
                    field="timestamps",
                    duration=duration,
                    years=duration / _YEAR,
                )

    def chunks(
        self,
        path: str,
        entry: IndexEntry,
        data_entry: IndexEntry,
        shape: tuple[int, ...],
        rate: float | None,
        facts: SeriesFacts,
    ) -> None:
        """Chunks that make the two common reads slow: a time window of every channel (the
        trace panel, one frame of an image series) and the whole of one channel."""
        width = _ITEM_BYTES.get(data_entry.dtype or "", 8)
        if math.prod(shape) * width < 4 * MIN_CHUNK_BYTES:
            return  # small data: any layout reads fast (and the layout is not even asked)
        try:
            chunks, itemsize = self.meta.chunks(data_entry.path)
        except _DAMAGE:
            return
        if not chunks or len(chunks) != len(shape):
            return
        chunk_bytes = math.prod(chunks) * itemsize
        is_image = self.catalog.is_a(entry.neurodata_type, "ImageSeries")
        suggested = _suggest_chunks(shape, itemsize, is_image)
        h5repack = "x".join(str(c) for c in suggested)
        suggested_kib = math.prod(suggested) * itemsize / 1024
        if chunk_bytes < MIN_CHUNK_BYTES:
            if is_image:
                window = "one frame"
                touched = math.prod(math.ceil(s / c) for s, c in zip(shape[1:], chunks[1:]))
            else:
                seconds = 10.0
                span = int(min(shape[0], max(1, (rate or 1000.0) * seconds)))
                window = f"a {seconds:g} s window of every channel"
                touched = math.ceil(span / chunks[0]) * math.prod(
                    math.ceil(s / c) for s, c in zip(shape[1:], chunks[1:])
                )
            if touched >= 64:
                self.add(
                    "chunks_too_small",
                    path,
                    chunks=tuple(chunks),
                    chunk_kib=chunk_bytes / 1024,
                    window=window,
                    touched=touched,
                    suggested=tuple(suggested),
                    suggested_h5repack=h5repack,
                    data_path=data_entry.path,
                    suggested_kib=suggested_kib,
                )
        elif chunk_bytes > MAX_CHUNK_BYTES:
            read = "showing one frame" if is_image else "showing a short window of one channel"
            self.add(
                "chunks_too_large",
                path,
                chunks=tuple(chunks),
                chunk_mib=chunk_bytes / 1024 / 1024,
                read=read,
                suggested=tuple(suggested),
                suggested_h5repack=h5repack,
                data_path=data_entry.path,
                suggested_kib=suggested_kib,
            )

    def electrical_series(self, entry: IndexEntry) -> None:
        path = entry.path
        facts = self.index.series.get(path)
        shape = facts.data_shape if facts else None
        if not shape or len(shape) < 2:
            return
        region = self.index.by_path.get(_join(path, "electrodes"))
        if region is None or not region.shape:
            return
        if int(shape[1]) != int(region.shape[0]):
            self.add(
                "electrodes_mismatch", path, channels=int(shape[1]), electrodes=region.shape[0]
            )

    # -- tables --------------------------------------------------------------------------------
    def dynamic_table(self, entry: IndexEntry) -> None:
        ids = self.index.by_path.get(_join(entry.path, "id"))
        if ids is not None and ids.shape is not None and ids.shape[:1] == (0,):
            self.add("empty_table", entry.path)

    def time_intervals(self, entry: IndexEntry) -> None:
        path = entry.path
        try:
            start = self.h5.get(_join(path, "start_time"))
            stop = self.h5.get(_join(path, "stop_time"))
            if not isinstance(start, h5py.Dataset) or start.ndim != 1:
                return
            n = min(start.shape[0], MAX_TIME_READ)
            starts = np.asarray(start[:n], dtype=np.float64)
            stops = (
                np.asarray(stop[:n], dtype=np.float64)
                if isinstance(stop, h5py.Dataset) and stop.ndim == 1 and stop.shape[0] >= n
                else None
            )
        except _DAMAGE:
            return
        if starts.size > 1:
            backwards = np.flatnonzero(np.diff(starts) < 0)
            if backwards.size:
                where = int(backwards[0])
                self.add(
                    "intervals_start_not_ascending",
                    path,
                    where=where + 1,
                    before=float(starts[where]),
                    after=float(starts[where + 1]),
                )
        if stops is not None and starts.size:
            bad = np.flatnonzero(stops < starts)
            if bad.size:
                where = int(bad[0])
                self.add(
                    "intervals_stop_before_start",
                    path,
                    where=where,
                    start=float(starts[where]),
                    stop=float(stops[where]),
                )

    # -- any container -------------------------------------------------------------------------
    def description(self, entry: IndexEntry) -> None:
        value = self.meta.text_attr(entry.path, "description")
        if value is None:
            value = self.small(_join(entry.path, "description"))
            if value is None:
                return
        text = str(value).strip()
        if not text:
            self.add("description_empty", entry.path, what="empty")
        elif text.strip(".").lower() in ("no description", "no desc", "placeholder"):
            self.add("description_empty", entry.path, what=f"the placeholder '{text}'")


def _suggest_chunks(shape: tuple[int, ...], itemsize: int, is_image: bool) -> list[int]:
    """About ``TARGET_CHUNK_BYTES`` per chunk: whole frames for images (one frame per read),
    every channel of a time span for other series (a window of all channels per read)."""
    if is_image:
        frame = int(np.prod(shape[1:])) * itemsize
        frames = max(1, min(shape[0], TARGET_CHUNK_BYTES // max(frame, 1)))
        return [frames, *[int(s) for s in shape[1:]]]
    row = int(np.prod(shape[1:])) * itemsize
    if row > TARGET_CHUNK_BYTES:
        channels = max(1, TARGET_CHUNK_BYTES // (itemsize * 1024))
        rest = [min(int(s), channels) for s in shape[1:2]] + [int(s) for s in shape[2:]]
        return [1024, *rest]
    samples = max(1, min(shape[0], TARGET_CHUNK_BYTES // max(row, 1)))
    return [samples, *[int(s) for s in shape[1:]]]


def run_rules(h5: h5py.File, catalog: Catalog, index: FileIndex) -> list[Finding]:
    """Every best-practice finding of the file (see ``spec/checks.json`` for the rules)."""
    return RuleRunner(h5, catalog, index).run()
