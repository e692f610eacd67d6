"""The trace panel: any TimeSeries as stacked channels, fluid on files larger than memory.

Data flow: the panel turns its state (window, channel page, gain, spacing, plot size) into a
:class:`~ndviewer.gui.panels.traces.frames.FrameRequest`; a worker renders it (read only the
needed chunks or pyramid rows, decimate to min/max columns, rasterise every channel into one
``uint8`` image) and the GUI thread only wraps that image for one item. Finished frames are
kept in a small cache and the neighbouring pages are rendered ahead, so a page step is
usually served from memory; a newer request replaces an older one, and the last frame stays
on screen while the next loads. For the whole-recording view a min/max pyramid is built in
the background once per dataset and persisted in the user cache.

Overlays share the time axis: interval tables as shaded bands, Units as a raster below the
traces, events as markers. The time cursor (window and time) is shared with every other
time-based panel of the file unless the panel is unlinked.

Keys: ←/→ page (Shift: half page), ↑/↓ channel page, +/- time zoom, Home/End, Ctrl+wheel
gain; mouse drag pans and wheel zooms time.

The panel composes collaborators that each hold their own state, in this package:
:mod:`.state` (what is shown, no Qt), :mod:`.controls` (the toolbar rows), :mod:`.scheduler`
(frame cache, prefetch, coarse stand-ins), :mod:`.pyramid` and :mod:`.overview` (the
whole-recording pyramid and strip), :mod:`.overlays`, :mod:`.qc_display` (channel QC and lane
labels), :mod:`.qc_strip` (whole-recording signal QC, its review and write-back), :mod:`.navigation` (keys), :mod:`.plot_view`, :mod:`.spectral_view` and :mod:`.status_line`. The panel
changes the state and tells each collaborator what to redraw.
"""

from __future__ import annotations

import time
from typing import ClassVar

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeyEvent
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from ndviewer.core.errors import NdviewerError
from ndviewer.core.export.figure import TraceTrack
from ndviewer.core.model.catalog import Catalog
from ndviewer.core.model.nodes import Node
from ndviewer.core.nwb.timeseries import TimeSeriesSource, plottable_channels
from ndviewer.core.signal.channel_qc import qc_applies
from ndviewer.core.signal.lod import TraceLod
from ndviewer.core.time_cursor import TimeCursor
from ndviewer.gui.panels.base import Panel, PanelContext
from ndviewer.gui.panels.traces.controls import TraceControls
from ndviewer.gui.panels.traces.frames import Frame
from ndviewer.gui.panels.traces.items import IndexedImageItem
from ndviewer.gui.panels.traces.navigation import KeyNavigator
from ndviewer.gui.panels.traces.opening import OpenedSeries, open_series, robust_snapshot
from ndviewer.gui.panels.traces.overlays import OverlayLayer
from ndviewer.gui.panels.traces.overview import SessionOverview
from ndviewer.gui.panels.traces.plot_view import PlotGeometry, TraceViewBox
from ndviewer.gui.panels.traces.pyramid import PyramidBuilder
from ndviewer.gui.panels.traces.qc_display import ChannelQcDisplay
from ndviewer.gui.panels.traces.qc_strip import SignalQcStrip
from ndviewer.gui.panels.traces.scheduler import FrameScheduler
from ndviewer.gui.panels.traces.spectral_view import SpectraPane
from ndviewer.gui.panels.traces.state import (
    HIGHLIGHT_COLOR,
    MAX_CHANNELS,
    TRACE_COLORS,
    TraceState,
    default_length,
)
from ndviewer.gui.panels.traces.status_line import StatusLine

__all__ = ["TracePanel"]


class TracePanel(Panel):
    """Stacked channels of any TimeSeries, with overlays and a synchronised time cursor.

    Attributes
    ----------
    state : TraceState
        What is shown; the collaborators below read it.
    controls : TraceControls
    frames : FrameScheduler
    pyramid : PyramidBuilder
    overview : SessionOverview
    overlays : OverlayLayer
    qc : ChannelQcDisplay
    signal_qc : SignalQcStrip
    keys : KeyNavigator
    spectra : SpectraPane
    status : StatusLine

    Signals
    -------
    frame_shown(object)
        A :class:`Frame` was put on screen (after the repaint was requested).
    window_changed(float, float)
        The visible window moved.
    """

    title: ClassVar[str] = "Traces"
    frame_shown = Signal(object)
    window_changed = Signal(float, float)

    def __init__(self, context: PanelContext, node: Node, parent: QWidget | None = None) -> None:
        super().__init__(context, node, parent)
        self.cursor: TimeCursor = context.time_cursor
        self.state = TraceState()
        self._linked = True
        self._wanted_channels: list[int] | None = None
        self._setting_range = False
        self._resize_timer = QTimer(self)
        self._resize_timer.setSingleShot(True)
        self._resize_timer.setInterval(60)
        self._resize_timer.timeout.connect(self._on_resized)
        self._build_ui()
        self.overlays.reserve(context.file)
        self._unsubscribe = self.cursor.subscribe(self._on_cursor)
        self._opened_at = time.perf_counter()
        self.first_paint_seconds: float | None = None
        node, path = self.node, context.file.path
        self.context.pool.submit(
            self.job_key("open"),
            lambda token: open_series(node, path),
            self._on_opened,
            self.status.open_failed,
        )

    # ------------------------------------------------------------------------------------ api
    @classmethod
    def priority(cls, node: Node, catalog: Catalog) -> int:
        """100 for numeric series with up to 4096 channels (images belong elsewhere)."""
        channels = plottable_channels(node)
        return 100 if channels is not None and 1 <= channels <= MAX_CHANNELS else -1

    @property
    def source(self) -> TimeSeriesSource | None:
        return self.state.source

    @property
    def lod(self) -> TraceLod | None:
        return self.state.lod

    @property
    def window(self) -> tuple[float, float]:
        """The visible time window in session seconds."""
        return self.state.window

    @property
    def page_channels(self) -> list[int]:
        """Channel indices shown, top to bottom."""
        return self.state.page_channels

    @property
    def shown_frame(self) -> Frame | None:
        return self.frames.shown

    @property
    def gain(self) -> float:
        return self.state.gain

    @property
    def spacing(self) -> float:
        """Physical units between adjacent lanes."""
        return self.state.spacing

    @property
    def linked(self) -> bool:
        return self._linked

    def export_track(self) -> TraceTrack | None:
        """The series as this panel shows it (channel page, baselines, gain, colours by
        group), for a figure; None before the series is open.

        A spacing the user set is kept; the automatic one is left to the figure, which
        works it out for its own lane height as the view does for its pixels (a view
        squeezed between pinned panes would otherwise flatten the printed traces).
        """
        state = self.state
        if state.source is None or not state.page_channels:
            return None
        channels = state.page_channels
        return TraceTrack(
            state.source.path,
            list(channels),
            [float(state.baselines[c]) for c in channels],
            None if state.auto_spacing else state.spacing,
            [TRACE_COLORS[(int(state.colors[c]) - 1) % len(TRACE_COLORS)] for c in channels],
            state.gain if state.gain > 0 else 1.0,
        )

    def open_export(self):
        """Open the Export dialog for this view (and the tab's other time panels)."""
        from ndviewer.gui.export.dialog import ExportDialog

        dialog = ExportDialog(self, self.context.layout_panels() or [self], self)
        dialog.show()
        return dialog

    def export_overlays(self) -> tuple[list[str], str | None, list[int], list[str]]:
        """``(interval tables, units table, unit rows, event objects)`` shown now."""
        overlays = self.overlays
        rows = overlays.shown_unit_rows()
        units = overlays.units.path if overlays.units is not None and rows else None
        return overlays.shown_intervals(), units, rows, [e.path for e in overlays.events]

    def set_window(self, t0: float, t1: float, announce: bool = True, clamp: bool = True) -> None:
        """Show ``[t0, t1]`` and fetch the frame.

        With ``clamp`` (user navigation) the window is kept inside the recording; a window
        adopted from the shared cursor is shown as is, so linked panels agree exactly.
        """
        state = self.state
        if state.source is None:
            state.window = (t0, t1)
            return
        new = state.fit_window(t0, t1, clamp)
        if new == state.window and self.frames.shown is not None:
            return
        state.window = new
        self._sync_view_range()
        self.controls.update()
        self.refresh()
        self.window_changed.emit(*new)
        if announce and self._linked:
            self.cursor.set_window(*new)

    def page(self, pages: float) -> None:
        """Move the window by ``pages`` window lengths (negative: back)."""
        t0, t1 = self.state.window
        self.frames.note_step(1 if pages >= 0 else -1)
        self.set_window(t0 + pages * (t1 - t0), t1 + pages * (t1 - t0))

    def zoom(self, factor: float) -> None:
        """Scale the window length by ``factor`` around its centre."""
        t0, t1 = self.state.window
        centre, half = (t0 + t1) / 2, (t1 - t0) * factor / 2
        self.set_window(centre - half, centre + half)

    def go_to(self, t: float) -> None:
        """Start the window at ``t`` (keeping its length)."""
        t0, t1 = self.state.window
        self.set_window(t, t + (t1 - t0))

    def go_home(self) -> None:
        self.go_to(self.state.bounds()[0])

    def go_end(self) -> None:
        self.go_to(self.state.bounds()[1])

    def channel_page(self, delta: int) -> None:
        """Show the next (``delta`` > 0) or previous channel page."""
        if self.state.turn_page(delta):
            self._after_layout_change()

    def set_page_size(self, size: int) -> None:
        """Channels per page."""
        if self.state.resize_page(size):
            self._after_layout_change()

    def set_gain(self, gain: float) -> None:
        gain = float(min(max(gain, 1e-3), 1e4))
        if gain != self.state.gain:
            self.state.gain = gain
            self.controls.update()
            self.frames.cache.clear()
            self.refresh()

    def set_spacing(self, spacing: float) -> None:
        """Physical units between lanes (the auto value is 8 robust SDs of a typical channel)."""
        if spacing > 0 and spacing != self.state.spacing:
            self.state.auto_spacing = False
            self.state.spacing = float(spacing)
            self.controls.update()
            self.frames.cache.clear()
            self.refresh()

    def select_channels(self, kind: str = "all", value: str | None = None) -> None:
        """Show all channels, or those of one electrode ``group`` or ``location``."""
        if self.source is None:
            return
        chosen = self.state.channels_where(kind, value)
        if not chosen:
            raise NdviewerError(f"No channel of {self.source.path} has {kind} {value!r}.")
        self.state.select(chosen)
        self._after_layout_change()

    def apply_options(self, options: dict) -> None:
        """``{"channels": [i, ...]}`` shows just those channels (e.g. a clicked ROI's column)."""
        channels = options.get("channels")
        if channels:
            self._wanted_channels = [int(c) for c in channels]
            if self.source is not None:
                self.show_channels(self._wanted_channels)

    def show_channels(self, indices: list[int]) -> None:
        """Show only the channels at these indices (out-of-range ones are ignored)."""
        if self.source is None:
            return
        chosen = [i for i in indices if 0 <= i < self.source.n_channels]
        if chosen:
            self.state.select(chosen)
            self._after_layout_change()

    def set_clip_lanes(self, clip: bool) -> None:
        """Cut each trace to its own lane (the default), or draw every trace in full."""
        self.state.clip_lanes = bool(clip)
        self.controls.clip_box.setChecked(self.state.clip_lanes)
        self.refresh()

    def set_linked(self, linked: bool) -> None:
        """Follow (and move) the file's shared time cursor, or not."""
        self._linked = bool(linked)
        self.controls.link_box.setChecked(self._linked)
        if self._linked and self.source is not None:
            self._adopt_cursor(self.cursor)

    def auto_scale(self) -> None:
        """Recompute baselines and spacing from the visible window (robust statistics)."""
        if self.source is None:
            return
        src = self.source
        t0, t1 = self.state.window

        def done(result) -> None:
            baselines, sigma = result
            self._apply_stats(baselines, sigma)
            self.frames.cache.clear()
            self.refresh()

        self.context.pool.submit(
            self.job_key("auto"),
            lambda token: robust_snapshot(src, t0, t1),
            done,
            self.frames.on_error,
        )
        self.check_channels()

    def check_channels(self) -> None:
        """Flag dead, saturated and noisy channels on the start of the visible window."""
        self.qc.check()

    def unit_page(self, delta: int) -> None:
        """Show the next/previous page of units in the raster."""
        self.overlays.unit_page(delta)

    def refresh(self) -> None:
        """Show the frame for the current state: from the cache, or rendered by a worker
        (see :class:`~ndviewer.gui.panels.traces.scheduler.FrameScheduler`)."""
        request = self.state.make_request(*self.geometry.pixels())
        if request is None:
            return
        self.frames.show(request)
        # overlays after the frame's job is queued: their raster job must not take the free
        # worker ahead of the picture
        self.overlays.update()

    def show_spectra(self, on: bool) -> None:
        """Show (and compute) or hide the spectra of the visible window beside the traces."""
        self.spectra.set_visible(on)

    # --------------------------------------------------------------------------------- build
    def _build_ui(self) -> None:
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.controls = TraceControls(self)
        self.graphics = pg.GraphicsLayoutWidget(self)
        self.graphics.setBackground("#ffffff")
        self.graphics.ci.setSpacing(2)
        self.graphics.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.keys = KeyNavigator(self)
        self.graphics.installEventFilter(self.keys)
        self.view = TraceViewBox(enableMenu=False)
        self.view.setMouseEnabled(x=True, y=False)
        self.view.setMenuEnabled(False)
        self.view.disableAutoRange()
        self.view.gain_wheel.connect(lambda step: self.set_gain(self.state.gain * 1.25**step))
        self.plot = self.graphics.addPlot(row=0, col=0, viewBox=self.view)
        self.plot.hideButtons()
        self.plot.setLabel("bottom", "time", units="s")
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.plot.getAxis("left").setWidth(64)
        self.geometry = PlotGeometry(self.view, self)
        pool, key = self.context.pool, self.job_key
        self.image = IndexedImageItem(self._trace_qcolors())
        self.frames = FrameScheduler(self.state, self.image, pool, key, self)
        self.overlays = OverlayLayer(
            self.state,
            self.plot,
            self.geometry,
            self._add_strip(row=1),
            self._add_strip(row=2),
            self.controls.overlay_button,
            pool,
            key,
            self,
        )
        self.cursor_line = pg.InfiniteLine(
            angle=90, movable=True, pen=pg.mkPen("#e8590c", width=1.5)
        )
        self.cursor_line.setZValue(20)
        self.cursor_line.sigPositionChangeFinished.connect(
            lambda line: self.cursor.set_time(line.value()) if self._linked else None
        )
        for item in (self.overlays.bands, self.image, self.overlays.markers, self.cursor_line):
            self.plot.addItem(item)
        self.view.sigXRangeChanged.connect(self._on_view_x_range)
        self.view.sigResized.connect(lambda *_: self._resize_timer.start())
        self.plot.scene().sigMouseClicked.connect(self._on_plot_clicked)
        self.pyramid = PyramidBuilder(self.state, pool, key, self)
        overview_plot = self._add_strip(row=3, link_time=False)  # always the whole session
        self.overview = SessionOverview(overview_plot, self.state, self.pyramid, pool, key, self)
        self.graphics.ci.layout.setRowStretchFactor(0, 10)
        self.qc = ChannelQcDisplay(
            self.state,
            self.controls.qc_label,
            self.plot,
            self.geometry,
            pool,
            key,
            self.frames.on_error,
            self,
            enabled=qc_applies(self.node.neurodata_type, self.context.file.catalog.is_a),
        )
        self.signal_qc = SignalQcStrip(self, enabled=self.qc.enabled)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.graphics)
        self.splitter.setStretchFactor(0, 3)
        self.spectra = SpectraPane(self.state, self.splitter, pool, key, self.frames.on_error, self)

        self.status = StatusLine(self.state, self.frames, self.pyramid, self.node.path, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for row in self.controls.rows:
            layout.addLayout(row)
        layout.addWidget(self.signal_qc.row)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.status)
        self.controls.set_enabled(False)

        self.frames.frame_shown.connect(self._on_frame_shown)
        self.frames.loading.connect(self.status.show_loading)
        self.frames.pyramid_needed.connect(self.pyramid.need)
        self.frames.failed.connect(self.status.draw_failed)
        self.frames.settled.connect(self.refresh)
        self.pyramid.built.connect(self._on_pyramid_built)
        self.pyramid.changed.connect(self.status.show_state)
        self.pyramid.failed.connect(self.status.pyramid_failed)
        self.overview.region_moved.connect(self.set_window)
        preferences = self.context.settings.get("preferences", {})
        self.state.clip_lanes = bool(preferences.get("clip_lanes", True))
        self.controls.clip_box.setChecked(self.state.clip_lanes)
        self.overlays.event_lines = bool(preferences.get("event_lines", False))
        # no background error vanishes: each failed job stays on the status line with a retry
        self.overview.failed.connect(
            lambda reason: self.status.background_failed("overview", "session strip", reason)
        )
        self.overview.drawn.connect(lambda: self.status.background_ok("overview"))
        self.pyramid.failed.connect(self.overview._fail)
        self.overlays.failed.connect(self.status.background_failed)
        self.overlays.loaded_ok.connect(self.status.background_ok)
        self.status.retry_requested.connect(self._retry)

    def _add_strip(self, row: int, link_time: bool = True) -> pg.PlotItem:
        """A plot row under the traces: no menus or mouse, its left axis as wide as theirs
        (so times line up), its time axis following theirs when ``link_time``."""
        plot = self.graphics.addPlot(row=row, col=0, enableMenu=False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)
        plot.getAxis("left").setWidth(64)
        if link_time:
            plot.setXLink(self.plot)
        return plot

    def _trace_qcolors(self) -> list[QColor]:
        return [QColor(c) for c in TRACE_COLORS] + [QColor(HIGHLIGHT_COLOR)]

    # ------------------------------------------------------------------------------- opening
    def _on_opened(self, opened: OpenedSeries) -> None:
        src = opened.source
        state = self.state
        state.open(src, opened.lod)
        self.pyramid.key = opened.pyramid_key
        self._apply_stats(opened.baselines, opened.sigma)
        self.controls.fill_channels(src)
        self.controls.set_page_range(src.n_channels, state.page_size)
        self.controls.set_enabled(src.n_samples > 0)
        length = default_length(src)
        start = src.t_start
        cursor_window = self.cursor.window
        if (
            self._linked
            and cursor_window != (0.0, 1.0)
            and (cursor_window[1] > start and cursor_window[0] < state.bounds()[1])
        ):
            self.set_window(*cursor_window, announce=False, clamp=False)
        else:
            self.set_window(start, start + length)
        self._sync_view_range()
        self.qc.update_axis()
        self.signal_qc.update_page()
        self.refresh()
        self.overlays.load(self.context.file, self.context.index)
        # the strip asks for the pyramid itself when the whole recording is too long to read
        # raw; it was once only asked for when a pyramid existed, so a series long enough to
        # have one but too short to build it at once (60 s of 64-channel LFP) stayed blank
        self.overview.request(self.geometry.pixels()[0])
        if self._wanted_channels:
            self.show_channels(self._wanted_channels)

    def _apply_stats(self, baselines: np.ndarray, sigma: np.ndarray) -> None:
        self.state.apply_stats(baselines, sigma, self.geometry.pixels()[1])
        self.controls.update()

    def _reapply_auto_spacing(self) -> None:
        if self.state.reapply_auto_spacing(self.geometry.pixels()[1]):
            self.frames.cache.clear()
            self.controls.update()

    # ------------------------------------------------------------------- collaborators' news
    def _on_frame_shown(self, frame: Frame) -> None:
        if self.first_paint_seconds is None:
            self.first_paint_seconds = time.perf_counter() - self._opened_at
        self.qc.frame_shown()
        self.signal_qc.frame_shown()
        self.status.show_state(frame=frame)
        # a large dataset's pyramid is built in the background once the first frame is up
        QTimer.singleShot(0, self.pyramid.maybe_start)
        self.frame_shown.emit(frame)

    def _retry(self, job: str) -> None:
        """The user asked to run a failed background job again (from the status line)."""
        if job == "overview":
            self.overview.retry()
        elif job == "overlays":
            self.overlays.load(self.context.file, self.context.index)
        elif job == "raster":
            self.overlays.retry_raster()

    def _on_pyramid_built(self) -> None:
        self.frames.cache.clear()
        self.refresh()
        self.overview.request(self.geometry.pixels()[0])

    # ---------------------------------------------------------------------------------- view
    def _sync_view_range(self) -> None:
        t0, t1 = self.state.window
        n = max(1, len(self.page_channels))
        self._setting_range = True
        try:
            self.view.setRange(xRange=(t0, t1), yRange=(0.5 - n, 0.5), padding=0)
        finally:
            self._setting_range = False
        self.overview.show_window(t0, t1)
        if self.cursor_line.value() < t0 or self.cursor_line.value() > t1:
            if not self._linked or not (t0 <= self.cursor.time <= t1):
                self.cursor_line.setValue(t0)
            else:
                self.cursor_line.setValue(self.cursor.time)

    def _on_view_x_range(self, _view, x_range) -> None:
        if self._setting_range or self.source is None:
            return
        t0, t1 = float(x_range[0]), float(x_range[1])
        if (t0, t1) != self.state.window:
            self.set_window(t0, t1)

    def _after_layout_change(self) -> None:
        self._reapply_auto_spacing()
        self._sync_view_range()
        self.qc.update_axis()
        self.signal_qc.update_page()
        self.controls.update()
        self.refresh()
        self.overview.request(self.geometry.pixels()[0])

    def _on_plot_clicked(self, event) -> None:
        """A left click selects the lane's channel (highlighted, described in the status
        line, its spectrum shown) and moves the time cursor there."""
        if self.source is None or event.button() != Qt.MouseButton.LeftButton:
            return
        pos = self.view.mapSceneToView(event.scenePos())
        if not self.view.sceneBoundingRect().contains(event.scenePos()):
            return
        lane = int(round(-pos.y()))
        channels = self.page_channels
        if 0 <= lane < len(channels):
            self.state.highlight = channels[lane]
            described = self.source.channels[channels[lane]].describe()
            self.status.setToolTip(described)
            self.status._set(f"selected {described} at {pos.x():.4f} s")
        self.cursor_line.setValue(pos.x())
        if self._linked:
            self.cursor.set_time(pos.x())
        self.frames.cache.clear()
        self.refresh()
        if self.controls.spectrum_button.isChecked():
            self.spectra.request()

    # ---------------------------------------------------------------------------- cursor
    def _on_cursor(self, cursor: TimeCursor) -> None:
        if not self._linked or self.source is None:
            return
        self._adopt_cursor(cursor)

    def _adopt_cursor(self, cursor: TimeCursor) -> None:
        if cursor.window != self.state.window:
            self.set_window(*cursor.window, announce=False, clamp=False)
        t0, t1 = self.state.window
        if t0 <= cursor.time <= t1:
            self.cursor_line.setValue(cursor.time)

    # ------------------------------------------------------------------------------- events
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if not self.keys.handle(event):
            super().keyPressEvent(event)

    def _on_resized(self) -> None:
        self._reapply_auto_spacing()
        self.qc.update_axis()
        self.signal_qc.update_page()
        self.refresh()
        if self.overview.shown:
            self.overview.request(self.geometry.pixels()[0])

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._resize_timer.start()

    # ------------------------------------------------------------------------------ shutdown
    def shutdown(self) -> None:
        """Cancel reads (including a pyramid build), unsubscribe, release the file."""
        super().shutdown()
        self._unsubscribe()
        self._resize_timer.stop()
        self.frames.stop()
        self.qc.stop()
        self.signal_qc.stop()
        if self.lod is not None:
            self.lod.clear_cache()
