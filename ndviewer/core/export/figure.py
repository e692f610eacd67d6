"""The synchronised view as a publication figure: a scene of vector primitives.

One page, tracks stacked on one time axis, as the viewer shows them: each time series as
stacked channels (redrawn from the min/max envelope of about one column per point of
width, or from the raw samples when the window holds fewer samples than that, never from
the screen's bitmap), the interval tables as faint bands behind the traces and solid bars
in a row beneath, the spike raster of a page of units, event markers; then the channel
labels from the electrodes (or ROI) table, a time axis in seconds, and an L-shaped scale
bar per series (time and the series' unit, SI-prefixed: µV, mV, ΔF/F's own unit).

:func:`build_figure` reads what it needs (blocking: call it from a worker or the CLI) and
returns a :class:`~ndviewer.core.export.scene.Scene` plus, in ``scene.notes``, the numbers
it chose (baselines, spacing, bar sizes), which the regenerating script reuses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ndviewer.core.errors import NdviewerError
from ndviewer.core.export.scene import Lines, Rect, Scene, Segments, Text, text_width
from ndviewer.core.export.style import (
    AXIS_COLOR,
    BAND_COLORS,
    EVENT_COLORS,
    RASTER_COLORS,
    TEXT_COLOR,
    TRACE_COLORS,
)
from ndviewer.core.export.window_data import ExportError
from ndviewer.core.model.files import FileIdentity, NwbFile
from ndviewer.core.nwb.events import (
    EventSource,
    IntervalSource,
    SpikeTrainSource,
    find_time_overlays,
)
from ndviewer.core.nwb.timeseries import TimeSeriesSource, si_prefix
from ndviewer.core.signal.lod import PyramidStore, TraceLod, pyramid_levels

__all__ = [
    "FIGURE_SUFFIXES",
    "FigureSpec",
    "TraceTrack",
    "build_figure",
    "default_overlays",
    "nice_step",
]

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
#: Default page: a two-column-wide figure, 7 × 5 inches.
DEFAULT_WIDTH_PT = 504.0
DEFAULT_HEIGHT_PT = 360.0
#: Units in the raster, as one page of the trace view's raster.
UNITS_PER_PAGE = 40
#: Below this lane height (points) the automatic spacing grows, so traces stay lines.
MIN_LANE_PT = 6.0
#: Export reads raw data however long the window (the GUI refuses beyond its budget).
_EXPORT_MAX_RAW_VALUES = 4_000_000_000


@dataclass
class TraceTrack:
    """One time series in the figure.

    Attributes
    ----------
    path : str
        The TimeSeries.
    channels : list of int or None
        Columns shown, top to bottom (None: all).
    baselines : list of float or None
        Physical value at each shown channel's lane centre (None: each channel's median
        over the window).
    spacing : float or None
        Physical units between lanes (None: 8 robust SDs of a typical channel, more when
        lanes are only a few points tall, so traces stay lines).
    colors : list of str or None
        A colour per shown channel (None: by electrode group, as the trace view).
    gain : float
        Traces are drawn ``gain`` times taller than ``spacing`` alone would (the view's gain).
    """

    path: str
    channels: list[int] | None = None
    baselines: list[float] | None = None
    spacing: float | None = None
    colors: list[str] | None = None
    gain: float = 1.0


@dataclass
class FigureSpec:
    """What to draw: a window, the series, the overlays and the page size (points)."""

    t0: float
    t1: float
    traces: list[TraceTrack]
    intervals: list[str] = field(default_factory=list)
    units: str | None = None
    unit_rows: list[int] | None = None
    events: list[str] = field(default_factory=list)
    width: float = DEFAULT_WIDTH_PT
    height: float = DEFAULT_HEIGHT_PT
    title: str | None = None
    #: Envelope columns per point of trace width (1 is finer than print resolves at 1:1).
    columns_per_point: float = 1.0


def default_overlays(file: NwbFile) -> tuple[list[str], str | None, list[str]]:
    """``(interval tables, units table, event objects)`` the trace view shows by default:
    every TimeIntervals table but ``epochs`` (a session-long epoch would shade everything),
    the first Units table and the event objects."""
    is_a = file.catalog.is_a if file.is_nwb else None
    found = find_time_overlays(file.h5, is_a)
    intervals = [p for p in found.intervals if p.rsplit("/", 1)[-1] != "epochs"]
    return intervals, (found.units[0] if found.units else None), found.events


def nice_step(value: float, floor: bool = True) -> float:
    """The 1-2-5 number at or below (``floor``) or nearest ``value``."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    exponent = math.floor(math.log10(value))
    base = 10.0**exponent
    steps = (1.0, 2.0, 5.0, 10.0)
    if floor:
        return max(s for s in steps if s * base <= value * (1 + 1e-9)) * base
    return min(steps, key=lambda s: abs(math.log(s * base / value))) * base


#: Unit attributes that say "no unit": a scale bar then says what the values are.
_NO_UNIT = {"", "n.a.", "n/a", "na", "none", "unknown", "no unit"}


def _bar_unit(source: TimeSeriesSource) -> str:
    """The unit a scale bar names: the series' own, ``ΔF/F`` for a DfOverF series whose
    unit is "n.a." (pynwb's default), else ``a.u.``."""
    unit = (source.unit or "").strip()
    if unit.lower() not in _NO_UNIT:
        return unit
    return "ΔF/F" if "/DfOverF/" in source.path else "a.u."


def _format_quantity(value: float, unit: str) -> str:
    """``200 µV``, ``1 s``, ``0.5 a.u.``: a scale bar's label."""
    label, factor = si_prefix(unit or "", value)
    number = value * factor
    text = f"{number:.3g}"
    return f"{text} {label}".strip() if label else f"{text} a.u."


def _open_lod(file: NwbFile, source: TimeSeriesSource) -> TraceLod:
    """Levels of detail for export: the persisted pyramid when the viewer built one."""
    pyramid = None
    if pyramid_levels(source.n_samples) and source.path:
        try:
            key = PyramidStore.key(
                FileIdentity.of(file.path).key(),
                f"{source.path}/data",
                source.data_shape,
                source.dtype,
            )
            pyramid = PyramidStore().load(key, source.reader)
        except OSError:
            pyramid = None
    return TraceLod(source, pyramid, max_raw_values=_EXPORT_MAX_RAW_VALUES)


def _auto_scale(
    source: TimeSeriesSource, channels: np.ndarray, t0: float, t1: float, lane_pt: float
) -> tuple[np.ndarray, float]:
    """Each channel's median and a lane spacing of 8 robust SDs (more on dense pages), from
    at most ~600 000 values at the start of the window, like the trace view's Auto."""
    i0, i1 = source.time_axis.window(t0, t1)
    i1 = max(i1, min(source.n_samples, i0 + 2))
    i1 = min(i1, i0 + max(64, 600_000 // max(1, channels.size)))
    if i1 <= i0:
        return np.zeros(channels.size), 1.0
    median, sigma = source.robust_stats(i0, i1, channels)
    finite = sigma[np.isfinite(sigma) & (sigma > 0)]
    typical = float(np.median(finite)) if finite.size else 1.0
    spacing = 8.0 * typical * max(1.0, MIN_LANE_PT / max(lane_pt, 1e-3))
    return np.nan_to_num(median, nan=0.0), spacing


def _group_colors(source: TimeSeriesSource, channels: np.ndarray) -> list[str]:
    groups = sorted({c.group for c in source.channels if c.group})
    index = {g: k for k, g in enumerate(groups)}
    return [
        TRACE_COLORS[index.get(source.channels[int(c)].group, 0) % len(TRACE_COLORS)]
        for c in channels
    ]


@dataclass
class _Frame:
    """Where the time axis is on the page."""

    x0: float
    w: float
    t0: float
    t1: float

    def x(self, t: np.ndarray | float) -> np.ndarray | float:
        return self.x0 + (np.asarray(t, dtype=np.float64) - self.t0) * (
            self.w / (self.t1 - self.t0)
        )


def build_figure(
    file: NwbFile,
    spec: FigureSpec,
    lods: dict[str, TraceLod] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Scene:
    """Lay out and read everything ``spec`` asks for; blocking (run it off the GUI thread).

    Parameters
    ----------
    file
        The open file.
    spec
        Window, series, overlays and page size.
    lods
        Already open levels of detail by series path (the trace view's, with its caches and
        pyramid); others are opened here.
    cancelled
        Polled during long reads.

    Raises
    ------
    ExportError
        For an empty window, a series without samples in it, or an unreadable object.
    """
    t0, t1 = float(spec.t0), float(spec.t1)
    if not t1 > t0:
        raise ExportError(f"the window {t0:g}–{t1:g} s is empty: stop must be after start.")
    if not spec.traces and spec.units is None and not spec.intervals:
        raise ExportError("nothing to draw: the figure has no series, raster or intervals.")
    sources: list[TimeSeriesSource] = []
    for track in spec.traces:
        try:
            sources.append(TimeSeriesSource.from_path(file, track.path))
        except NdviewerError as exc:
            raise ExportError(exc.message) from None
    intervals = [_open(IntervalSource.from_path, file, p) for p in spec.intervals]
    events = [_open(EventSource.from_path, file, p) for p in spec.events]
    units = _open(SpikeTrainSource.from_path, file, spec.units) if spec.units else None

    scene = Scene(spec.width, spec.height)
    scene.notes = {"tracks": [], "t0": t0, "t1": t1}
    fs_tick, fs_label, fs_title = 7.0, 7.5, 8.0

    # -- vertical layout ---------------------------------------------------------------------
    top = 6.0 + fs_title + 6.0
    axis_h = 30.0
    interval_rows = [s for s in intervals if s.n_rows]
    track_h_int = 9.0 * len(interval_rows) + (4.0 if interval_rows else 0.0)
    unit_rows: list[int] = []
    if units is not None:
        unit_rows = (
            list(spec.unit_rows)
            if spec.unit_rows is not None
            else list(range(min(units.n_units, UNITS_PER_PAGE)))
        )
        unit_rows = [r for r in unit_rows if 0 <= r < units.n_units]
    available = spec.height - top - axis_h - track_h_int
    raster_h = 0.0
    if unit_rows:
        raster_h = min(0.3 * available, max(36.0, 4.0 * len(unit_rows))) if sources else available
        available -= raster_h + 6.0
    gap = 8.0
    n_tracks = len(sources)
    trace_total = max(0.0, available - gap * max(0, n_tracks - 1))
    if sources and trace_total < 20.0 * n_tracks:
        raise ExportError(
            f"a {spec.width:g} × {spec.height:g} pt page is too small for this figure."
        )

    channel_sets = []
    for track, source in zip(spec.traces, sources, strict=True):
        if source.n_samples == 0:
            raise ExportError(f"{source.path} holds no samples.")
        channels = (
            np.arange(source.n_channels, dtype=np.int64)
            if track.channels is None
            else np.asarray(track.channels, dtype=np.int64)
        )
        if channels.size == 0 or channels.min() < 0 or channels.max() >= source.n_channels:
            raise ExportError(
                f"{source.path} has channels 0 to {source.n_channels - 1}; "
                "the figure asks for others."
            )
        i0, i1 = source.time_axis.window(t0, t1)
        if i1 <= i0:
            raise ExportError(
                f"{source.path} has no sample between {t0:g} and {t1:g} s "
                f"(it covers {source.t_start:g}–{source.t_stop:g} s)."
            )
        channel_sets.append(channels)
    weights = [max(4.0, float(c.size)) ** 0.5 for c in channel_sets]
    heights = [trace_total * w / sum(weights) for w in weights] if weights else []

    # -- horizontal layout ---------------------------------------------------------------------
    label_w = 0.0
    for source, channels in zip(sources, channel_sets, strict=True):
        labels = (
            [series_name(source)]
            if _single_trace(source, channels)
            else [source.channels[int(c)].label for c in channels]
        )
        label_w = max(label_w, max(text_width(label, fs_tick) for label in labels))
    if units is not None and unit_rows:
        label_w = max(label_w, max(text_width(units.labels[r], fs_tick) for r in unit_rows))
    for source in interval_rows:
        label_w = max(label_w, text_width(source.name, fs_tick))
    left = 6.0 + fs_label + 6.0 + label_w + 5.0
    right = 58.0
    frame = _Frame(left, spec.width - left - right, t0, t1)
    if frame.w < 40.0:
        raise ExportError(f"a {spec.width:g} pt wide page is too narrow for this figure.")

    y = top
    track_boxes = []
    for h in heights:
        track_boxes.append((y, h))
        y += h + gap
    if track_boxes:
        y = track_boxes[-1][0] + track_boxes[-1][1] + 4.0
    interval_top = y
    y += track_h_int
    raster_top = y + (2.0 if raster_h else 0.0)
    axis_y = raster_top + raster_h + (2.0 if raster_h else 0.0)
    if not raster_h:
        axis_y = y

    title = spec.title
    if title is None:
        # one series: its path in the title; several: each is named along its track
        names = sources[0].path if len(sources) == 1 else ""
        if not sources and units is not None:
            names = units.path
        parts = [Path(str(file.path)).name, names, f"{t0:.6g}–{t1:.6g} s"]
        title = " · ".join(p for p in parts if p)
    legend_w = sum(text_width(e.path.rsplit("/", 1)[-1], fs_tick) + 13.0 for e in events)
    room = frame.w - (legend_w + 10.0 if events and sources else 0.0)
    if text_width(title, fs_title) > room:  # a long path: keep its end, which names it
        while len(title) > 8 and text_width("…" + title, fs_title) > room:
            title = title[1:]
        title = "…" + title
    scene.add(Text(left, 6.0, title, fs_title, TEXT_COLOR, "left", "top"))

    # -- interval bands behind the traces ------------------------------------------------------
    if track_boxes:
        band_top = track_boxes[0][0]
        band_h = track_boxes[-1][0] + track_boxes[-1][1] - band_top
        clip = (frame.x0, band_top, frame.w, band_h)
        for k, source in enumerate(intervals):
            color = BAND_COLORS[k % len(BAND_COLORS)]
            batch = source.query(t0, t1)
            for start, stop in zip(batch.starts, batch.stops, strict=True):
                xa, xb = frame.x(max(start, t0)), frame.x(min(max(stop, start), t1))
                scene.add(Rect(xa, band_top, max(xb - xa, 0.4), band_h, color, 0.14, clip=clip))

    # -- traces ----------------------------------------------------------------------------------
    for n_track, (track, source, channels, (ty, th)) in enumerate(
        zip(spec.traces, sources, channel_sets, track_boxes, strict=True)
    ):
        lane = th / channels.size
        if track.baselines is not None and track.spacing is not None:
            baselines = np.asarray(track.baselines, dtype=np.float64)
            spacing = float(track.spacing)
        else:
            auto_b, auto_s = _auto_scale(source, channels, t0, t1, lane)
            baselines = (
                np.asarray(track.baselines, np.float64) if track.baselines is not None else auto_b
            )
            spacing = float(track.spacing) if track.spacing is not None else auto_s
        if baselines.shape != (channels.size,):
            raise ExportError(f"{source.path}: one baseline per shown channel is needed.")
        if not spacing > 0:
            spacing = 1.0
        if track.gain > 0:
            spacing /= track.gain
        colors = track.colors or _group_colors(source, channels)
        lod = (lods or {}).get(source.path) or _open_lod(file, source)
        columns = max(16, int(frame.w * spec.columns_per_point))
        window = lod.fetch(t0, t1, channels, columns, cancelled)
        clip = (frame.x0 - 0.5, ty, frame.w + 1.0, th)
        scale = lane / spacing  # points per physical unit
        centres = ty + (np.arange(channels.size) + 0.5) * lane
        line_w = float(min(0.6, max(0.2, lane * 0.12)))
        if window.kind == "envelope":
            xs = frame.x(window.col_t0 + (np.arange(window.lo.shape[0]) + 0.5) * window.col_dt)
            xs = np.repeat(xs, 2)
            for k in range(channels.size):
                ys = np.empty(2 * window.lo.shape[0])
                ys[0::2], ys[1::2] = window.lo[:, k], window.hi[:, k]
                ys = centres[k] - (ys - baselines[k]) * scale
                scene.add(Lines(np.column_stack([xs, ys]), colors[k], line_w, clip))
        else:
            xs = frame.x(window.times)
            for k in range(channels.size):
                ys = centres[k] - (window.values[:, k].astype(np.float64) - baselines[k]) * scale
                scene.add(Lines(np.column_stack([xs, ys]), colors[k], line_w, clip))
        # channel labels, as many as fit, and the series' name along the side
        fs = float(min(fs_tick, max(4.0, lane * 0.9)))
        step = max(1, math.ceil(fs * 1.15 / lane))
        if _single_trace(source, channels):
            # one unlabelled trace (speed, a pupil...): its name beside it, like a row label
            side = series_name(source)
            scene.add(
                Text(frame.x0 - 4.0, centres[0], side, fs_tick, TEXT_COLOR, "right", "middle")
            )
        else:
            for k in range(0, channels.size, step):
                label = source.channels[int(channels[k])].label
                scene.add(
                    Text(frame.x0 - 4.0, centres[k], label, fs, TEXT_COLOR, "right", "middle")
                )
            side, side_size = _side_title(source, th - 4.0, fs_label)
            scene.add(Text(8.0, ty + th / 2, side, side_size, TEXT_COLOR, "center", "top", 90.0))
        # scale bars: an L at the bottom right of the track
        bar_x, bar_y = frame.x0 + frame.w + 8.0, ty + th
        want = min(th * 0.45, max(lane, 24.0))
        value = nice_step(want / scale)
        bar_h = value * scale
        scene.add(Segments(np.array([[bar_x, bar_y, bar_x, bar_y - bar_h]]), AXIS_COLOR, 1.2))
        amp_label = _format_quantity(value, _bar_unit(source))
        scene.add(
            Text(bar_x + 3.0, bar_y - bar_h / 2, amp_label, fs_tick, TEXT_COLOR, "left", "middle")
        )
        bar_note = {"amplitude": value, "amplitude_label": amp_label}
        if n_track == 0:
            seconds = nice_step((t1 - t0) * min(0.2, 44.0 / frame.w))
            bar_w = seconds * frame.w / (t1 - t0)
            scene.add(Segments(np.array([[bar_x, bar_y, bar_x + bar_w, bar_y]]), AXIS_COLOR, 1.2))
            time_label = _format_quantity(seconds, "s")
            scene.add(
                Text(
                    bar_x + bar_w / 2, bar_y + 2.0, time_label, fs_tick, TEXT_COLOR, "center", "top"
                )
            )
            bar_note.update(seconds=seconds, seconds_label=time_label)
        scene.notes["tracks"].append(
            {
                "path": source.path,
                "channels": channels.tolist(),
                "labels": [source.channels[int(c)].label for c in channels],
                "baselines": baselines.tolist(),
                "spacing": spacing,
                "colors": list(colors),
                "kind": window.kind,
                "columns": int(
                    window.lo.shape[0] if window.kind == "envelope" else window.times.size
                ),
                "source": window.source,
                "unit": source.unit,
                "conversion": source.conversion,
                "offset": source.offset,
                "box": (ty, th),
                "side_title": side,
                "single": bool(_single_trace(source, channels)),
                **bar_note,
            }
        )

    # -- events: thin lines across the traces ----------------------------------------------------
    if track_boxes:
        y_a = track_boxes[0][0]
        y_b = track_boxes[-1][0] + track_boxes[-1][1]
        for k, source in enumerate(events):
            batch = source.query(t0, t1)
            if batch.times.size:
                xs = frame.x(batch.times)
                rows = np.column_stack([xs, np.full_like(xs, y_a), xs, np.full_like(xs, y_b)])
                color = EVENT_COLORS[k % len(EVENT_COLORS)]
                scene.add(Segments(rows, color, 0.6, (frame.x0, y_a, frame.w, y_b - y_a)))

        legend_x = frame.x0 + frame.w
        for k in reversed(range(len(events))):
            name = events[k].path.rsplit("/", 1)[-1]
            scene.add(Text(legend_x, 6.0, name, fs_tick, TEXT_COLOR, "right", "top"))
            legend_x -= text_width(name, fs_tick) + 3.0
            mid = 6.0 + fs_tick * 0.55
            color = EVENT_COLORS[k % len(EVENT_COLORS)]
            scene.add(Segments(np.array([[legend_x, mid - 4.0, legend_x, mid + 4.0]]), color, 1.2))
            legend_x -= 10.0

    # -- interval track: solid bars, one row per table -------------------------------------------
    for k, source in enumerate(interval_rows):
        color = BAND_COLORS[intervals.index(source) % len(BAND_COLORS)]
        row_y = interval_top + 9.0 * k
        scene.add(
            Text(frame.x0 - 4.0, row_y + 3.5, source.name, fs_tick, TEXT_COLOR, "right", "middle")
        )
        batch = source.query(t0, t1)
        clip = (frame.x0, row_y, frame.w, 7.0)
        for start, stop, label in zip(batch.starts, batch.stops, batch.labels, strict=True):
            xa, xb = frame.x(max(start, t0)), frame.x(min(max(stop, start), t1))
            scene.add(Rect(xa, row_y, max(xb - xa, 0.6), 7.0, color, 1.0, clip=clip))
            if label and text_width(label, 5.5) + 3.0 < xb - xa:
                scene.add(
                    Text((xa + xb) / 2, row_y + 3.5, label, 5.5, "#ffffff", "center", "middle")
                )

    # -- spike raster ----------------------------------------------------------------------------
    if units is not None and unit_rows:
        n = len(unit_rows)
        row_h = raster_h / n
        trains = units.query(t0, t1, unit_rows)
        by_color: dict[str, list[np.ndarray]] = {}
        for k, train in enumerate(trains):
            if not train.size:
                continue
            xs = frame.x(train)
            ya, yb = raster_top + (k + 0.12) * row_h, raster_top + (k + 0.88) * row_h
            rows = np.column_stack([xs, np.full_like(xs, ya), xs, np.full_like(xs, yb)])
            by_color.setdefault(RASTER_COLORS[k % len(RASTER_COLORS)], []).append(rows)
        tick_w = float(min(0.8, max(0.3, (frame.w / max(1.0, (t1 - t0) * 1000.0)))))
        for color, parts in by_color.items():
            scene.add(Segments(np.concatenate(parts), color, tick_w))
        fs = float(min(fs_tick, max(4.0, row_h * 0.9)))
        step = max(1, math.ceil(fs * 1.15 / row_h))
        for k in range(0, n, step):
            scene.add(
                Text(
                    frame.x0 - 4.0,
                    raster_top + (k + 0.5) * row_h,
                    units.labels[unit_rows[k]],
                    fs,
                    TEXT_COLOR,
                    "right",
                    "middle",
                )
            )
        side = "units" if units.n_units <= n else f"units {unit_rows[0] + 1}–{unit_rows[-1] + 1}"
        scene.add(
            Text(8.0, raster_top + raster_h / 2, side, fs_label, TEXT_COLOR, "center", "top", 90.0)
        )
        scene.notes["units"] = {
            "path": units.path,
            "rows": unit_rows,
            "labels": [units.labels[r] for r in unit_rows],
            "box": (raster_top, raster_h),
        }

    # -- time axis ---------------------------------------------------------------------------------
    step = nice_step((t1 - t0) / max(2.0, frame.w / 70.0), floor=False)
    first = math.ceil(t0 / step - 1e-9) * step
    ticks = np.arange(first, t1 + step * 1e-6, step)
    ticks = ticks[(ticks >= t0 - 1e-12) & (ticks <= t1 + 1e-12)]
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    scene.add(Segments(np.array([[frame.x0, axis_y, frame.x0 + frame.w, axis_y]]), AXIS_COLOR, 0.6))
    xs = frame.x(ticks)
    scene.add(
        Segments(
            np.column_stack([xs, np.full_like(xs, axis_y), xs, np.full_like(xs, axis_y + 3.0)]),
            AXIS_COLOR,
            0.6,
        )
    )
    for x, t in zip(xs, ticks, strict=True):
        scene.add(
            Text(float(x), axis_y + 4.5, f"{t:.{decimals}f}", fs_tick, TEXT_COLOR, "center", "top")
        )
    scene.add(
        Text(
            frame.x0 + frame.w / 2, axis_y + 15.0, "time (s)", fs_label, TEXT_COLOR, "center", "top"
        )
    )
    scene.notes.update(
        frame=(frame.x0, frame.w),
        axis_y=axis_y,
        intervals=[
            {
                "path": s.path,
                "name": s.name,
                "label_column": s.label_column,
                "color": BAND_COLORS[k % len(BAND_COLORS)],
                "row": interval_rows.index(s) if s in interval_rows else None,
            }
            for k, s in enumerate(intervals)
        ],
        interval_top=interval_top,
        events=[
            {
                "path": s.path,
                "name": s.path.rsplit("/", 1)[-1],
                "color": EVENT_COLORS[k % len(EVENT_COLORS)],
            }
            for k, s in enumerate(events)
        ],
        page=(spec.width, spec.height),
        title=title,
    )
    return scene


def _single_trace(source: TimeSeriesSource, channels: np.ndarray) -> bool:
    """One channel with no table row behind it: named, not numbered."""
    return channels.size == 1 and source.channels[int(channels[0])].row_id is None


def series_name(source: TimeSeriesSource) -> str:
    """A short name that tells series apart: the series' own, or its container's when the
    series is named after its type (``DfOverF`` rather than ``RoiResponseSeries``)."""
    parts = source.path.strip("/").split("/")
    if source.name == source.neurodata_type and len(parts) >= 2:
        parent = parts[-2]
        if parent not in ("acquisition", "processing", "stimulus", "presentation"):
            return parent
    return source.name


def _side_title(source: TimeSeriesSource, room: float, size: float) -> tuple[str, float]:
    """The series' name along its track and its font size: with what the channel labels
    are (electrode or ROI ids) when that fits in ``room`` points, else the name alone, in a
    smaller size if need be, shortened with an ellipsis only when nothing else fits."""
    name = series_name(source)
    labelled = any(c.row_id is not None for c in source.channels)
    candidates = [(name, size), (name, 6.0)]
    if labelled:
        kind = "ROI id" if "roi" in source.neurodata_type.lower() else "electrode id"
        candidates.insert(0, (f"{name} ({kind})", size))
    for text, text_size in candidates:
        if text_width(text, text_size) <= room:
            return text, text_size
    while len(name) > 2 and text_width(name + "…", 6.0) > room:
        name = name[:-1]
    return name + "…", 6.0


def _open(opener, file: NwbFile, path: str):
    try:
        return opener(file, path)
    except NdviewerError as exc:
        raise ExportError(exc.message) from None


def with_size(spec: FigureSpec, width_pt: float, height_pt: float) -> FigureSpec:
    """The same figure on a page of another size."""
    return replace(spec, width=float(width_pt), height=float(height_pt))
