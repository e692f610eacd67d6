"""What happened during the traces' window, drawn on their time axis.

- interval tables (trials, epochs, invalid times, custom) as faint bands behind the traces and
  as solid bars in the interval track below them, labelled along the top;
- events (annotations, interval series, events tables) as thin ticks on a row of that track
  each; lines across the traces only on request (on 10 s views some 40 thick red bars once hid
  ROI traces and LFP, and could not be switched off);
- the Units table as a spike raster in a strip below, one page of units at a time.

The file's overlays are found and opened on a worker (through the core: no h5py here); the
Overlays menu turns each source on or off, and the labels, which are left out where there is
no room for them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import QMenu, QPushButton, QWidget

from ndviewer.core.export.style import BAND_COLORS, RASTER_COLORS  # shared with figures
from ndviewer.core.model.files import NwbFile
from ndviewer.core.nwb.events import (
    EventSource,
    IntervalSource,
    SpikeTrainSource,
    TimeOverlaySources,
    has_trials_table,
    has_units_table,
    load_time_overlays,
)
from ndviewer.gui.panels.traces.frames import render_raster
from ndviewer.gui.panels.traces.interval_track import IntervalTrack
from ndviewer.gui.panels.traces.items import Band, BandsItem, IndexedImageItem, Marker, MarkersItem
from ndviewer.gui.panels.traces.plot_view import PlotGeometry
from ndviewer.gui.panels.traces.state import TraceState
from ndviewer.gui.workers import WorkerPool

__all__ = ["OverlayLayer"]

EVENT_COLORS = ["#c0392b", "#8e44ad", "#16a085", "#d35400"]
UNITS_PER_PAGE = 40
#: More labels than this in the window and none is drawn (they would cover the traces).
MAX_LABELS = 40
#: Label rows along the top of the traces; a label that would need another row is left out
#: (its event still shows on the track), so labels never stack down over the data.
MAX_LABEL_ROWS = 2


class OverlayLayer(QObject):
    """The overlays of one trace panel: their sources, items, strips and menu.

    Parameters
    ----------
    state
        The panel's state (window and channel page are read).
    plot, geometry
        The traces' plot (bands, markers and labels go there) and its size in pixels.
    track_plot, raster_plot
        Strips under the traces for the interval track and the spike raster.
    button
        The toolbar button that opens the Overlays menu.
    pool, job_key
        The panel's worker pool and its job-key maker.

    Attributes
    ----------
    intervals, events : list
        Open :class:`IntervalSource` and :class:`EventSource` objects.
    units : SpikeTrainSource or None
    bands, markers
        Items for the traces' plot (the panel adds them, in its z order).
    interval_track : IntervalTrack
    raster_plot : pyqtgraph.PlotItem
    raster_image : IndexedImageItem
    labels : list of pyqtgraph.TextItem
        Labels of the bands and markers on the traces' plot.
    menu : QMenu

    Signals
    -------
    failed(str, str, str)
        A background read failed: job (``"overlays"`` or ``"raster"``), what, reason.
    loaded_ok(str)
        That job succeeded (a failure shown for it can go).
    """

    failed = Signal(str, str, str)
    loaded_ok = Signal(str)

    def __init__(
        self,
        state: TraceState,
        plot: pg.PlotItem,
        geometry: PlotGeometry,
        track_plot: pg.PlotItem,
        raster_plot: pg.PlotItem,
        button: QPushButton,
        pool: WorkerPool,
        job_key: Callable[[str], str],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self._plot = plot
        self._geometry = geometry
        self._button = button
        self._pool = pool
        self._job_key = job_key
        self.intervals: list[IntervalSource] = []
        self.events: list[EventSource] = []
        self.units: SpikeTrainSource | None = None
        self._interval_enabled: dict[str, bool] = {}
        # event tables and series: thin ticks on a row of the track each; lines across the
        # traces (once thick bars hiding ROI traces and LFP) only when asked for
        self._event_enabled: dict[str, bool] = {}
        self.event_lines = False
        self.show_labels = True
        self._unit_page = 0
        self.labels: list[pg.TextItem] = []
        self.menu = QMenu(parent)
        button.setMenu(self.menu)
        self.bands = BandsItem(background=QColor("#ffffff"))
        self.markers = MarkersItem()
        # the interval track: each shown TimeIntervals table as a row of solid bars, readable
        # however densely the traces above cover their faint background bands
        self.interval_track = IntervalTrack(track_plot)
        self.raster_plot = raster_plot
        raster_plot.getAxis("bottom").setStyle(showValues=False)
        self.raster_image = IndexedImageItem([QColor(c) for c in RASTER_COLORS])
        raster_plot.addItem(self.raster_image)
        raster_plot.setMaximumHeight(150)
        raster_plot.hide()

    def reserve(self, file: NwbFile) -> None:
        """Make room now for the raster and the trials row when the file has the usual Units
        and trials tables (a lookup each), so the first frame is not redrawn when the
        overlays arrive."""
        if has_units_table(file):
            self.raster_plot.show()
        if has_trials_table(file):
            self.interval_track.reserve(1)

    def load(self, file: NwbFile, index: Any) -> None:
        """Find and open the file's overlays on a worker (the index's typed entries, when
        the file's index is built, spare a walk of the file)."""
        catalog = file.catalog
        entries = None
        if index is not None:
            entries = [
                (e.path, e.neurodata_type)
                for e in index.entries
                if e.kind == "group" and e.neurodata_type
            ]

        def job(token) -> TimeOverlaySources:
            return load_time_overlays(file, catalog.is_a, entries)

        def failed(exc: Exception) -> None:
            self.failed.emit("overlays", "overlays (trials, events, units)", str(exc))

        self._pool.submit(self._job_key("overlays"), job, self._on_loaded, failed)

    def _on_loaded(self, loaded: TimeOverlaySources) -> None:
        self.loaded_ok.emit("overlays")
        self.intervals, self.events, self.units = loaded.intervals, loaded.events, loaded.units
        self.menu.clear()
        for source in self.intervals:
            enabled = source.name != "epochs"  # a session-long epoch would shade everything
            self._interval_enabled.setdefault(source.path, enabled)
            action = QAction(f"{source.name} ({source.n_rows} intervals)", self.menu)
            action.setCheckable(True)
            action.setChecked(self._interval_enabled[source.path])
            action.toggled.connect(lambda on, p=source.path: self.toggle_interval(p, on))
            self.menu.addAction(action)
        if self.events:
            self.menu.addSeparator()
        for source in self.events:
            self._event_enabled.setdefault(source.path, True)
            action = QAction(f"{source.name} ({len(source.times)} events)", self.menu)
            action.setCheckable(True)
            action.setChecked(self._event_enabled[source.path])
            action.toggled.connect(lambda on, p=source.path: self.toggle_events(p, on))
            self.menu.addAction(action)
        if self.events:
            action = QAction("event lines across the traces", self.menu)
            action.setCheckable(True)
            action.setChecked(self.event_lines)
            action.toggled.connect(self.toggle_event_lines)
            self.menu.addAction(action)
        if self.intervals or self.events:
            action = QAction("labels", self.menu)
            action.setCheckable(True)
            action.setChecked(self.show_labels)
            action.toggled.connect(self.toggle_labels)
            self.menu.addAction(action)
            self.menu.addSeparator()
        if self.units is not None:
            action = QAction(f"spike raster ({self.units.n_units} units)", self.menu)
            action.setCheckable(True)
            action.setChecked(True)
            action.toggled.connect(self.toggle_raster)
            self.menu.addAction(action)
            self.menu.addAction("next units page", lambda: self.unit_page(1))
            self.menu.addAction("previous units page", lambda: self.unit_page(-1))
            self.raster_plot.show()
        self._button.setEnabled(bool(self.intervals or self.units or self.events))
        self.update()

    def shown_intervals(self) -> list[str]:
        """Paths of the interval tables switched on (what a figure of the view shades)."""
        return [s.path for s in self.intervals if self._interval_enabled.get(s.path, True)]

    def shown_unit_rows(self) -> list[int]:
        """Rows of the Units table in the raster now (empty when it is hidden)."""
        if self.units is None or not self.raster_plot.isVisible():
            return []
        first = self._unit_page * UNITS_PER_PAGE
        return list(range(first, min(self.units.n_units, first + UNITS_PER_PAGE)))

    def toggle_interval(self, path: str, on: bool) -> None:
        """Show or hide the interval table at ``path``."""
        self._interval_enabled[path] = on
        self.update()

    def toggle_events(self, path: str, on: bool) -> None:
        """Show or hide the events (table or series) at ``path``."""
        self._event_enabled[path] = on
        self.update()

    def toggle_event_lines(self, on: bool) -> None:
        """Also draw each event as a line across the traces (off by default)."""
        self.event_lines = on
        self.update()

    def toggle_labels(self, on: bool) -> None:
        """Show or hide the interval and event labels along the top of the traces."""
        self.show_labels = on
        self.update()

    def toggle_raster(self, on: bool) -> None:
        """Show or hide the spike raster."""
        self.raster_plot.setVisible(on)
        self.update()

    def unit_page(self, delta: int) -> None:
        """Show the next/previous page of units in the raster."""
        if self.units is None:
            return
        pages = max(1, math.ceil(self.units.n_units / UNITS_PER_PAGE))
        self._unit_page = min(max(0, self._unit_page + delta), pages - 1)
        self.update()

    def update(self) -> None:
        """Redraw every overlay for the state's window and channel page."""
        t0, t1 = self.state.window
        n = len(self.state.page_channels)
        y0, y1 = 0.5 - n, 0.5
        bands: list[Band] = []
        labels: list[tuple[float, str, QColor]] = []
        rows: list[tuple[str, list[Band]]] = []
        for k, source in enumerate(self.intervals):
            if not self._interval_enabled.get(source.path, True):
                continue
            color = QColor(BAND_COLORS[k % len(BAND_COLORS)])
            fill = QColor(color)
            fill.setAlpha(40)
            batch = source.query(t0, t1)
            solid: list[Band] = []
            for start, stop, label in zip(batch.starts, batch.stops, batch.labels, strict=True):
                bands.append(Band(float(start), float(max(stop, start)), fill))
                solid.append(Band(float(start), float(max(stop, start)), color))
                if label:
                    labels.append((float(max(start, t0)), f"{source.name}: {label}", color))
            rows.append((source.name, solid))
        self.bands.set_bands(bands, y0, y1)
        markers: list[Marker] = []
        for k, source in enumerate(self.events):
            if not self._event_enabled.get(source.path, True):
                continue
            color = QColor(EVENT_COLORS[k % len(EVENT_COLORS)])
            batch = source.query(t0, t1)
            ticks: list[Band] = []
            for t, d, label in zip(batch.times, batch.durations, batch.labels, strict=True):
                duration = float(0.0 if np.isnan(d) else d)
                ticks.append(Band(float(t), float(t) + duration, color))
                markers.append(Marker(float(t), duration, color))
                if label:
                    labels.append((float(t), label, color))
            rows.append((source.name, ticks))
        self.interval_track.set_rows(rows)
        self.markers.set_markers(markers if self.event_lines else [], y0, y1)
        for item in self.labels:
            self._plot.removeItem(item)
        self.labels = []
        if self.show_labels and len(labels) <= MAX_LABELS:
            self._place_labels(sorted(labels, key=lambda item: item[0]), t0, t1, y1)
        self._request_raster()

    def _place_labels(
        self, labels: list[tuple[float, str, QColor]], t0: float, t1: float, y_top: float
    ) -> None:
        """Put labels along the top, moving one down a row when it would overlap, and
        leaving out those that would need more than :data:`MAX_LABEL_ROWS` rows."""
        width_px, height_px = self._geometry.pixels()
        ratio = self._geometry.ratio()
        seconds_per_px = (t1 - t0) / max(1.0, width_px / ratio)
        row_height = 16.0 * len(self.state.page_channels) / max(1.0, height_px / ratio)
        row_ends: list[float] = []
        for x, text, color in labels:
            end = x + (7.0 * len(text) + 8.0) * seconds_per_px
            row = next((k for k, e in enumerate(row_ends) if e <= x), len(row_ends))
            if row >= MAX_LABEL_ROWS:
                continue  # no room: the track still shows the event
            if row == len(row_ends):
                row_ends.append(end)
            else:
                row_ends[row] = end
            item = pg.TextItem(
                text, color=color, anchor=(0, 0), fill=pg.mkBrush(255, 255, 255, 190)
            )
            item.setPos(x, y_top - row * row_height)
            item.setZValue(15)
            self._plot.addItem(item)
            self.labels.append(item)

    def _request_raster(self) -> None:
        units = self.units
        if units is None or not self.raster_plot.isVisible():
            return
        first = self._unit_page * UNITS_PER_PAGE
        rows = list(range(first, min(units.n_units, first + UNITS_PER_PAGE)))
        t0, t1 = self.state.window
        rect = self.raster_plot.vb.sceneBoundingRect()
        width = max(16, int(rect.width()))
        height = max(8, int(rect.height()))

        def job(token):
            return render_raster(units, rows, t0, t1, width, height)

        def done(result) -> None:
            image, _count = result
            self.loaded_ok.emit("raster")
            self.raster_image.set_image(image, t0, t1, -0.5 - len(rows) + 1, 0.5)
            self.raster_plot.setYRange(-len(rows) + 0.5, 0.5, padding=0)
            step = max(1, math.ceil(len(rows) / max(1, height / 14)))
            ticks = [(-k, units.labels[r]) for k, r in enumerate(rows) if k % step == 0]
            self.raster_plot.getAxis("left").setTicks([ticks, []])
            # the page goes in the tooltip: as an axis title it is taller than the strip
            page = f"units {first + 1}–{first + len(rows)} of {units.n_units}"
            if units.n_units > UNITS_PER_PAGE:
                page += " (Overlays ▸ next units page)"
            self.raster_plot.setToolTip(page)

        def failed(exc: Exception) -> None:
            self.failed.emit("raster", "spike raster", str(exc))

        self._pool.submit(self._job_key("raster"), job, done, failed)

    def retry_raster(self) -> None:
        """Read the spike raster again after a failure."""
        self._request_raster()
