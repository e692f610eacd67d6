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
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar

import h5py
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ndviewer.core.errors import NdviewerError
from ndviewer.core.model.catalog import Catalog
from ndviewer.core.model.files import FileIdentity
from ndviewer.core.model.nodes import Node
from ndviewer.core.nwb.events import (
    EventSource,
    IntervalSource,
    SpikeTrainSource,
    find_time_overlays,
)
from ndviewer.core.nwb.timeseries import TimeSeriesSource, si_prefix
from ndviewer.core.signal.channel_qc import ChannelQC, channel_qc
from ndviewer.core.signal.lod import NeedsPyramid, PyramidStore, TraceLod, pyramid_levels
from ndviewer.core.signal.trace_raster import LaneLayout, rasterize_envelope, samples_to_columns
from ndviewer.core.time_cursor import TimeCursor
from ndviewer.gui.panels.base import Panel, PanelContext
from ndviewer.gui.panels.traces.frames import (
    Frame,
    FrameCache,
    FrameRequest,
    coarse_columns,
    render_frame,
    render_raster,
)
from ndviewer.gui.panels.traces.interval_track import IntervalTrack
from ndviewer.gui.panels.traces.items import (
    Band,
    BandsItem,
    IndexedImageItem,
    Marker,
    MarkersItem,
)
from ndviewer.gui.panels.traces.spectral_view import SpectralView, compute_spectra
from ndviewer.gui.workers import URGENT_PRIORITY

__all__ = ["TracePanel"]

#: Trace colours by electrode group (index 1..8 of the image colour table).
TRACE_COLORS = [
    "#1e2933",
    "#24568a",
    "#7d3424",
    "#2b6039",
    "#5e3a78",
    "#6e5a12",
    "#17606a",
    "#7a2f58",
]
HIGHLIGHT_COLOR = "#e8590c"
BAND_COLORS = ["#4c9be8", "#f0a030", "#5cb85c", "#d9534f", "#9b59b6", "#17a2b8"]
RASTER_COLORS = [
    "#1b2a3a",
    "#1f5fa8",
    "#a3361f",
    "#2c7a3f",
    "#7a3f98",
    "#8a6d00",
    "#006d77",
    "#9c2f6b",
]
EVENT_COLORS = ["#c0392b", "#8e44ad", "#16a085", "#d35400"]
#: Datasets with more values than this get a persisted pyramid for the whole-recording view.
PYRAMID_MIN_VALUES = 20_000_000
MAX_CHANNELS = 4096
#: A pause between page steps this long (ms) means the key was released (auto-repeat sends a
#: step every 25-50 ms): the exact page is rendered then.
SETTLE_MS = 150
#: Frames for the screen start before queued background work (prefetch, overview, overlays).
FRAME_PRIORITY = URGENT_PRIORITY
QC_IDLE_MS = 1500  # quiet time after the last frame before channel QC reads its window
#: While a key is held, coarse pyramid frames are rendered this many pages ahead.
COARSE_PAGES_AHEAD = 3
#: Budget of the coarse stand-in frames (each about half a megabyte).
COARSE_CACHE_BYTES = 4 << 20
#: Below this lane height the automatic spacing grows so that noise does not fill the lanes.
MIN_LANE_PIXELS = 10.0
UNITS_PER_PAGE = 40
MAX_LABELS = 40


@dataclass(frozen=True)
class _Opened:
    """What the opening job hands to the GUI thread."""

    source: TimeSeriesSource
    lod: TraceLod
    baselines: np.ndarray
    sigma: np.ndarray
    pyramid_key: str | None
    seconds: float


class _Progress(QObject):
    """Carries pyramid-build progress from the worker thread to the GUI thread."""

    changed = Signal(float)


class _TraceViewBox(pg.ViewBox):
    """Time-only pan/zoom; Ctrl+wheel changes the gain instead of zooming.

    Signals
    -------
    gain_wheel(int)
        Ctrl+wheel steps (positive: more gain).
    """

    gain_wheel = Signal(int)

    def wheelEvent(self, ev, axis=None) -> None:  # noqa: N802 (Qt API)
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
            self.gain_wheel.emit(1 if delta > 0 else -1)
            ev.accept()
            return
        super().wheelEvent(ev, axis=0)


class TracePanel(Panel):
    """Stacked channels of any TimeSeries, with overlays and a synchronised time cursor.

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
        self.source: TimeSeriesSource | None = None
        self.lod: TraceLod | None = None
        self.cursor: TimeCursor = context.time_cursor
        self._window = (0.0, 1.0)
        self._selection = np.zeros(0, dtype=np.int64)
        self._wanted_channels: list[int] | None = None
        self._qc: ChannelQC | None = None
        self._qc_timer = QTimer(self, singleShot=True, interval=QC_IDLE_MS)
        self._qc_timer.timeout.connect(self.check_channels)
        self._page_start = 0
        self._page_size = 64
        self._gain = 1.0
        self._spacing = 1.0
        self._sigma = 1.0
        self._auto_spacing = True
        self._display_scale = 1.0
        self._display_unit = ""
        self._baselines = np.zeros(0)
        self._colors = np.zeros(0, dtype=np.uint8)
        self._highlight: int | None = None
        self._linked = True
        self._cache = FrameCache()
        self._coarse_cache = FrameCache(COARSE_CACHE_BYTES)
        self._coarse_in_flight: FrameRequest | None = None
        self._wanted: FrameRequest | None = None
        self._shown: Frame | None = None
        self._last_step = 1
        self._step_times: deque[float] = deque(maxlen=6)
        self._render_seconds = 0.05
        self._in_flight: FrameRequest | None = None
        self._prefetching: FrameRequest | None = None
        self._setting_range = False
        self._pyramid_progress: float | None = None
        self._waiting_for_pyramid = False
        self._pyramid_key: str | None = None
        self._overview_shown = False
        self._intervals: list[IntervalSource] = []
        self._interval_enabled: dict[str, bool] = {}
        self._events: list[EventSource] = []
        self._units: SpikeTrainSource | None = None
        self._unit_page = 0
        self._band_labels: list[pg.TextItem] = []
        self._request_started: dict[FrameRequest, float] = {}
        self.last_latency: float | None = None
        self._progress = _Progress(self)
        self._progress.changed.connect(self._on_pyramid_progress)
        self._resize_timer = QTimer(self)
        self._resize_timer.setSingleShot(True)
        self._resize_timer.setInterval(60)
        self._resize_timer.timeout.connect(self._on_resized)
        self._settle_timer = QTimer(self)
        self._settle_timer.setSingleShot(True)
        self._settle_timer.setInterval(SETTLE_MS)
        self._settle_timer.timeout.connect(self._on_keys_released)
        self._build_ui()
        # reserve the raster's row now when the file has the usual Units table (one link
        # lookup), so the first frame is not redrawn when the overlays arrive
        with contextlib.suppress(OSError, KeyError, ValueError):
            if isinstance(context.file.h5.get("/units"), h5py.Group):
                self.raster_plot.show()
            if isinstance(context.file.h5.get("/intervals/trials"), h5py.Group):
                self.interval_track.reserve(1)
        self._unsubscribe = self.cursor.subscribe(self._on_cursor)
        self._opened_at = time.perf_counter()
        self.first_paint_seconds: float | None = None
        self.context.pool.submit(
            self.job_key("open"), self._open_job, self._on_opened, self._on_open_error
        )

    # ------------------------------------------------------------------------------------ api
    @classmethod
    def priority(cls, node: Node, catalog: Catalog) -> int:
        """100 for numeric series with up to 4096 channels (images belong elsewhere)."""
        obj = node.h5obj()
        if not isinstance(obj, h5py.Group):
            return -1
        data = obj.get("data")
        if not isinstance(data, h5py.Dataset) or data.dtype.kind not in "iufb" or data.ndim < 1:
            return -1
        channels = int(np.prod(data.shape[1:], dtype=np.int64)) if data.ndim > 1 else 1
        return 100 if 1 <= channels <= MAX_CHANNELS else -1

    @property
    def window(self) -> tuple[float, float]:
        """The visible time window in session seconds."""
        return self._window

    @property
    def page_channels(self) -> list[int]:
        """Channel indices shown, top to bottom."""
        return self._selection[self._page_start : self._page_start + self._page_size].tolist()

    @property
    def shown_frame(self) -> Frame | None:
        return self._shown

    @property
    def gain(self) -> float:
        return self._gain

    @property
    def spacing(self) -> float:
        """Physical units between adjacent lanes."""
        return self._spacing

    @property
    def linked(self) -> bool:
        return self._linked

    def set_window(self, t0: float, t1: float, announce: bool = True, clamp: bool = True) -> None:
        """Show ``[t0, t1]`` and fetch the frame.

        With ``clamp`` (user navigation) the window is kept inside the recording; a window
        adopted from the shared cursor is shown as is, so linked panels agree exactly.
        """
        if self.source is None:
            self._window = (t0, t1)
            return
        length = max(t1 - t0, self._min_window())
        if clamp:
            start, stop = self._bounds()
            length = min(length, max(stop - start, self._min_window()))
            t0 = min(max(t0, start), max(start, stop - length))
        new = (t0, t0 + length)
        if new == self._window and self._shown is not None:
            return
        self._window = new
        self._sync_view_range()
        self._update_controls()
        self.refresh()
        self.window_changed.emit(*new)
        if announce and self._linked:
            self.cursor.set_window(*new)

    def page(self, pages: float) -> None:
        """Move the window by ``pages`` window lengths (negative: back)."""
        t0, t1 = self._window
        direction = 1 if pages >= 0 else -1
        now = time.perf_counter()
        if direction != self._last_step or (self._step_times and now - self._step_times[-1] > 0.3):
            self._step_times.clear()
        self._last_step = direction
        self._step_times.append(now)
        self.set_window(t0 + pages * (t1 - t0), t1 + pages * (t1 - t0))

    def zoom(self, factor: float) -> None:
        """Scale the window length by ``factor`` around its centre."""
        t0, t1 = self._window
        centre, half = (t0 + t1) / 2, (t1 - t0) * factor / 2
        self.set_window(centre - half, centre + half)

    def go_to(self, t: float) -> None:
        """Start the window at ``t`` (keeping its length)."""
        length = self._window[1] - self._window[0]
        self.set_window(t, t + length)

    def go_home(self) -> None:
        self.go_to(self._bounds()[0])

    def go_end(self) -> None:
        self.go_to(self._bounds()[1])

    def channel_page(self, delta: int) -> None:
        """Show the next (``delta`` > 0) or previous channel page."""
        n = self._selection.size
        if n == 0:
            return
        start = self._page_start + delta * self._page_size
        start = min(max(0, start), max(0, n - self._page_size))
        if start != self._page_start:
            self._page_start = start
            self._after_layout_change()

    def set_page_size(self, size: int) -> None:
        """Channels per page."""
        size = max(1, int(size))
        if size != self._page_size:
            self._page_size = size
            self._page_start = min(self._page_start, max(0, self._selection.size - size))
            self._after_layout_change()

    def set_gain(self, gain: float) -> None:
        gain = float(min(max(gain, 1e-3), 1e4))
        if gain != self._gain:
            self._gain = gain
            self._update_controls()
            self._cache.clear()
            self.refresh()

    def set_spacing(self, spacing: float) -> None:
        """Physical units between lanes (the auto value is 8 robust SDs of a typical channel)."""
        if spacing > 0 and spacing != self._spacing:
            self._auto_spacing = False
            self._spacing = float(spacing)
            self._update_controls()
            self._cache.clear()
            self.refresh()

    def select_channels(self, kind: str = "all", value: str | None = None) -> None:
        """Show all channels, or those of one electrode ``group`` or ``location``."""
        if self.source is None:
            return
        channels = self.source.channels
        if kind == "group":
            chosen = [c.index for c in channels if c.group == value]
        elif kind == "location":
            chosen = [c.index for c in channels if c.location == value]
        else:
            chosen = [c.index for c in channels]
        if not chosen:
            raise NdviewerError(f"No channel of {self.source.path} has {kind} {value!r}.")
        self._selection = np.asarray(chosen, dtype=np.int64)
        self._page_start = 0
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
        if not chosen:
            return
        self._selection = np.asarray(chosen, dtype=np.int64)
        self._page_start = 0
        self._after_layout_change()

    def set_linked(self, linked: bool) -> None:
        """Follow (and move) the file's shared time cursor, or not."""
        self._linked = bool(linked)
        self.link_box.setChecked(self._linked)
        if self._linked and self.source is not None:
            self._adopt_cursor(self.cursor)

    def auto_scale(self) -> None:
        """Recompute baselines and spacing from the visible window (robust statistics)."""
        if self.source is None:
            return
        src = self.source
        t0, t1 = self._window

        def job(token) -> tuple[np.ndarray, np.ndarray]:
            return _robust_snapshot(src, t0, t1)

        def done(result) -> None:
            baselines, sigma = result
            self._apply_stats(baselines, sigma)
            self._cache.clear()
            self.refresh()

        self.context.pool.submit(self.job_key("auto"), job, done, self._on_frame_error)
        self.check_channels()

    def refresh(self) -> None:
        """Show the frame for the current state: from the cache, or rendered by a worker.

        At most one frame render runs at a time and it is never cancelled for a newer one
        (cancelling on every key repeat would starve the screen); the newest request waits
        and goes next, and the frame that completes meanwhile is shown when it differs only
        in time, so the picture keeps moving while keys are held.

        When steps outpace exact renders and the pyramid exists, each step instead shows a
        coarse stand-in from the pyramid's finest level (rendered a few pages ahead in a few
        milliseconds each); the exact page follows :data:`SETTLE_MS` after the last step.
        """
        request = self._make_request()
        if request is None:
            return
        self._wanted = request
        self._request_started.setdefault(request, time.perf_counter())
        self._show_or_render(request)
        # overlays after the frame's job is queued: their raster job must not take the free
        # worker ahead of the picture
        self._update_overlays()

    def _show_or_render(self, request: FrameRequest) -> None:
        frame = self._cache.get(request)
        if frame is not None:
            self._show_frame(frame)
            if self._coarse_mode():
                self._coarse_next()  # a held key soon passes the prefetched exact pages
            return
        if self.lod is not None and self.lod.needs_pyramid(
            request.t0, request.t1, len(request.channels), request.width
        ):
            self._waiting_for_pyramid = True
            self._ensure_pyramid()
            self._update_status()
            return
        if self._coarse_mode():
            # a key is held and the exact page needs raw data: show the pyramid's stand-in now
            # (rendered ahead), and the exact page once the presses stop
            coarse = self._coarse_cache.get(request)
            if coarse is not None:
                self._offer(coarse)
            self._settle_timer.start()
            self._drop_exact_renders()
            self._coarse_next()
            if coarse is None:
                self._update_status(loading=True)
            return
        if request in (self._in_flight, self._prefetching):
            return  # already being rendered: it is shown when it lands
        if self._lead_pages() > 1:
            # a key is held: this page will be stale before it renders; render where the
            # presses are going instead, and this page once they stop
            self._settle_timer.start()
            self._fill_lookahead()
        elif self._in_flight is None:
            if self._prefetching is not None:
                # a jump away from the prefetched neighbours: the wanted page gets the core
                self.context.pool.cancel(self.job_key("prefetch"))
                self._prefetching = None
            self._submit_frame(request)
        self._update_status(loading=True)

    def _on_keys_released(self) -> None:
        """No page step for :data:`SETTLE_MS`: the key is up, render the exact page now."""
        self._step_times.clear()
        self.refresh()

    def _coarse_mode(self) -> bool:
        """True while page steps arrive faster than exact frames render (a held key) and the
        wanted page has a cheap coarse stand-in."""
        wanted = self._wanted
        times = self._step_times
        if wanted is None or self.lod is None or len(times) < 2:
            return False
        if time.perf_counter() - times[-1] > SETTLE_MS / 1000:
            return False
        interval = (times[-1] - times[0]) / (len(times) - 1)
        return interval < self._render_seconds and coarse_columns(self.lod, wanted) is not None

    def _drop_exact_renders(self) -> None:
        """Cancel exact renders of pages the held key has already passed: the cores go to
        the coarse frames (the exact page is rendered when the presses stop)."""
        pool = self.context.pool
        if self._in_flight is not None and self._in_flight != self._wanted:
            pool.cancel(self.job_key("frame"))
            self._in_flight = None
        if self._prefetching is not None:
            pool.cancel(self.job_key("prefetch"))
            self._prefetching = None

    def _coarse_next(self) -> None:
        """Render the next missing coarse page: the wanted one, then ahead of the held key."""
        wanted = self._wanted
        if self._coarse_in_flight is not None or wanted is None or self.lod is None:
            return
        length = wanted.t1 - wanted.t0
        start, stop = self._bounds()
        for k in range(COARSE_PAGES_AHEAD + 1):
            target = wanted.shifted(k * self._last_step * length) if k else wanted
            if target.t0 < start - 1e-9 or target.t0 >= stop:
                return
            if target in self._cache or target in self._coarse_cache:
                continue
            if coarse_columns(self.lod, target) is None:
                return
            self._submit_coarse(target)
            return

    def _submit_coarse(self, request: FrameRequest) -> None:
        lod = self.lod
        self._coarse_in_flight = request

        def done(frame: Frame) -> None:
            self._coarse_in_flight = None
            (self._coarse_cache if frame.coarse else self._cache).put(frame)
            self._offer(frame)
            if self._coarse_mode():
                self._coarse_next()

        def failed(exc: Exception) -> None:
            self._coarse_in_flight = None

        self.context.pool.submit(
            self.job_key("coarse"),
            lambda token: render_frame(lod, request, lambda: token.cancelled, coarse=True),
            done,
            failed,
            priority=FRAME_PRIORITY,
        )

    def _fill_lookahead(self) -> None:
        """Give every idle render slot a page ahead of the held key's position."""
        if self._in_flight is None:
            target = self._next_target()
            if target is not None and not self.lod.needs_pyramid(
                target.t0, target.t1, len(target.channels), target.width
            ):
                self._submit_frame(target)
        self._prefetch_next()

    def _next_target(self) -> FrameRequest | None:
        busy = (self._in_flight, self._prefetching)
        return next(
            (r for r in self._prefetch_targets() if r not in self._cache and r not in busy),
            None,
        )

    def _submit_frame(self, request: FrameRequest) -> None:
        lod = self.lod
        self._in_flight = request
        self.context.pool.submit(
            self.job_key("frame"),
            lambda token: render_frame(lod, request, lambda: token.cancelled),
            self._on_frame,
            self._on_frame_error,
            priority=FRAME_PRIORITY,
        )

    def _next_after_render(self) -> None:
        """After a render finished: render the wanted frame if still missing, else prefetch."""
        wanted = self._wanted
        if wanted is None or self.lod is None:
            return
        if self._coarse_mode():
            self._coarse_next()
            return
        if self._lead_pages() > 1:
            self._fill_lookahead()
            return
        missing = wanted not in self._cache and wanted not in (self._in_flight, self._prefetching)
        if missing and not self.lod.needs_pyramid(
            wanted.t0, wanted.t1, len(wanted.channels), wanted.width
        ):
            self._submit_frame(wanted)
            return
        self._prefetch_next()

    # --------------------------------------------------------------------------------- build
    def _build_ui(self) -> None:
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        bar = QHBoxLayout()
        bar.setSpacing(6)

        def spin(decimals: int, lo: float, hi: float, suffix: str, tip: str) -> QDoubleSpinBox:
            box = QDoubleSpinBox(self)
            box.setDecimals(decimals)
            box.setRange(lo, hi)
            box.setSuffix(suffix)
            box.setToolTip(tip)
            box.setKeyboardTracking(False)
            return box

        self.goto_box = spin(4, -1e9, 1e9, " s", "Go to time (session seconds)")
        self.goto_box.valueChanged.connect(lambda v: self.go_to(v))
        self.length_box = spin(4, 1e-6, 1e7, " s", "Window length (seconds)")
        self.length_box.valueChanged.connect(self._on_length_box)
        self.channel_combo = QComboBox(self)
        self.channel_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.channel_combo.setToolTip("Channels to show: all, or one electrode group/location")
        self.channel_combo.activated.connect(self._on_channel_combo)
        self.page_box = QSpinBox(self)
        self.page_box.setRange(1, MAX_CHANNELS)
        self.page_box.setToolTip("Channels per page (↑/↓ change page)")
        self.page_box.setKeyboardTracking(False)
        self.page_box.valueChanged.connect(self.set_page_size)
        self.page_label = QLabel(self)
        self.gain_box = spin(3, 0.001, 10000, " ×", "Gain (Ctrl+wheel)")
        self.gain_box.setSingleStep(0.25)
        self.gain_box.valueChanged.connect(self.set_gain)
        self.spacing_box = spin(3, 1e-9, 1e12, "", "Distance between lanes, physical units")
        self.spacing_box.valueChanged.connect(lambda v: self.set_spacing(v / self._display_scale))
        self.auto_button = QPushButton("Auto", self)
        self.auto_button.setToolTip("Baselines and spacing from the visible window (robust SD)")
        self.auto_button.clicked.connect(self.auto_scale)
        self.overlay_button = QToolButton(self)
        self.overlay_button.setText("Overlays")
        self.overlay_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.overlay_menu = QMenu(self)
        self.overlay_button.setMenu(self.overlay_menu)
        self.spectrum_button = QToolButton(self)
        self.spectrum_button.setText("Spectrum")
        self.spectrum_button.setCheckable(True)
        self.spectrum_button.setToolTip("Welch PSD and spectrogram of the visible window")
        self.spectrum_button.toggled.connect(self._on_spectrum_toggled)
        self.link_box = QCheckBox("Link", self)
        self.link_box.setChecked(True)
        self.link_box.setToolTip("Share the time window with the file's other time panels")
        self.link_box.toggled.connect(self.set_linked)
        # two rows, so that the panel fits beside the tree on a laptop screen
        for label, widget in (("Go to", self.goto_box), ("Window", self.length_box)):
            bar.addWidget(QLabel(label, self))
            bar.addWidget(widget)
        bar.addSpacing(8)
        bar.addWidget(self.channel_combo)
        bar.addWidget(QLabel("per page", self))
        bar.addWidget(self.page_box)
        bar.addWidget(self.page_label)
        bar.addStretch(1)
        self.qc_label = QLabel(self)
        self.qc_label.setStyleSheet("color: #c0392b; font-weight: bold;")
        self.qc_label.setToolTip(
            "Channel QC on the start of the visible window: dead = flat, saturated = stuck "
            "at its extreme for ≥1% of samples, noisy = robust SD > 5× the median channel's. "
            "Press Auto to recheck the window on screen."
        )
        display = QHBoxLayout()
        display.setSpacing(6)
        display.addWidget(QLabel("Gain", self))
        display.addWidget(self.gain_box)
        display.addWidget(QLabel("Spacing", self))
        display.addWidget(self.spacing_box)
        display.addWidget(self.auto_button)
        display.addSpacing(12)
        display.addWidget(self.qc_label)
        display.addStretch(1)
        display.addWidget(self.overlay_button)
        display.addWidget(self.spectrum_button)
        display.addWidget(self.link_box)
        self._display_bar = display

        self.graphics = pg.GraphicsLayoutWidget(self)
        self.graphics.setBackground("#ffffff")
        self.graphics.ci.setSpacing(2)
        self.graphics.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.graphics.installEventFilter(self)
        self.view = _TraceViewBox(enableMenu=False)
        self.view.setMouseEnabled(x=True, y=False)
        self.view.setMenuEnabled(False)
        self.view.disableAutoRange()
        self.view.gain_wheel.connect(lambda step: self.set_gain(self._gain * 1.25**step))
        self.plot = self.graphics.addPlot(row=0, col=0, viewBox=self.view)
        self.plot.hideButtons()
        self.plot.setLabel("bottom", "time", units="s")
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.plot.getAxis("left").setWidth(64)
        self.bands = BandsItem(background=QColor("#ffffff"))
        self.image = IndexedImageItem(self._trace_qcolors())
        self.markers = MarkersItem()
        self.cursor_line = pg.InfiniteLine(
            angle=90, movable=True, pen=pg.mkPen("#e8590c", width=1.5)
        )
        self.cursor_line.setZValue(20)
        self.cursor_line.sigPositionChangeFinished.connect(
            lambda line: self.cursor.set_time(line.value()) if self._linked else None
        )
        for item in (self.bands, self.image, self.markers, self.cursor_line):
            self.plot.addItem(item)
        self.view.sigXRangeChanged.connect(self._on_view_x_range)
        self.view.sigResized.connect(lambda *_: self._resize_timer.start())
        self.plot.scene().sigMouseClicked.connect(self._on_plot_clicked)

        # the interval track: each shown TimeIntervals table as a row of solid bars, readable
        # however densely the traces above cover their faint background bands
        self.interval_track = IntervalTrack(self._add_strip(row=1))

        self.raster_plot = self._add_strip(row=2)
        self.raster_plot.getAxis("bottom").setStyle(showValues=False)
        self.raster_image = IndexedImageItem([QColor(c) for c in RASTER_COLORS])
        self.raster_plot.addItem(self.raster_image)
        self.raster_plot.setMaximumHeight(150)
        self.raster_plot.hide()

        self.overview = self._add_strip(row=3, link_time=False)  # always the whole session
        self.overview.getAxis("left").setStyle(showValues=False)
        self.overview.setMaximumHeight(70)
        self.overview_image = IndexedImageItem([QColor("#55606e")])
        self.overview.addItem(self.overview_image)
        self.overview_region = pg.LinearRegionItem(
            brush=pg.mkBrush(232, 89, 12, 50), pen=pg.mkPen("#e8590c")
        )
        self.overview_region.setZValue(10)
        self.overview_region.sigRegionChangeFinished.connect(self._on_overview_region)
        self.overview.addItem(self.overview_region)
        self.graphics.ci.layout.setRowStretchFactor(0, 10)

        self._spectral: SpectralView | None = None  # built when first shown (two plots)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.graphics)
        self.splitter.setStretchFactor(0, 3)

        self.status = QLabel("Opening…", self)
        self.status.setStyleSheet("QLabel { color: #555; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addLayout(self._display_bar)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.status)
        self._set_controls_enabled(False)

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

    def _set_controls_enabled(self, enabled: bool) -> None:
        for widget in (
            self.goto_box,
            self.length_box,
            self.channel_combo,
            self.page_box,
            self.gain_box,
            self.spacing_box,
            self.auto_button,
            self.spectrum_button,
        ):
            widget.setEnabled(enabled)

    # ------------------------------------------------------------------------------- opening
    def _open_job(self, token) -> _Opened:
        started = time.perf_counter()
        source = TimeSeriesSource(self.node)
        pyramid = None
        key = None
        if pyramid_levels(source.n_samples) and source.path:
            try:
                identity = FileIdentity.of(self.context.file.path)
                key = PyramidStore.key(
                    identity.key(), f"{source.path}/data", source.data_shape, source.dtype
                )
                pyramid = PyramidStore().load(key, source.reader)
            except OSError:
                key = None
        lod = TraceLod(source, pyramid)
        axis = source.time_axis
        t0 = axis.t_start
        baselines, sigma = _robust_snapshot(source, t0, t0 + self._default_length(source))
        return _Opened(source, lod, baselines, sigma, key, time.perf_counter() - started)

    def _on_opened(self, opened: _Opened) -> None:
        src = opened.source
        self.source = src
        self.lod = opened.lod
        self._pyramid_key = opened.pyramid_key
        self._selection = np.arange(src.n_channels, dtype=np.int64)
        self._page_size = min(src.n_channels, 384) or 1
        groups = sorted({c.group for c in src.channels if c.group})
        group_index = {g: k for k, g in enumerate(groups)}
        self._colors = np.asarray(
            [1 + group_index.get(c.group, 0) % len(TRACE_COLORS) for c in src.channels],
            dtype=np.uint8,
        )
        self._apply_stats(opened.baselines, opened.sigma)
        self._fill_channel_combo()
        self.page_box.blockSignals(True)
        self.page_box.setRange(1, max(1, src.n_channels))
        self.page_box.setValue(self._page_size)
        self.page_box.blockSignals(False)
        self._set_controls_enabled(src.n_samples > 0)
        length = self._default_length(src)
        start = src.t_start
        cursor_window = self.cursor.window
        if (
            self._linked
            and cursor_window != (0.0, 1.0)
            and (cursor_window[1] > start and cursor_window[0] < self._bounds()[1])
        ):
            self.set_window(*cursor_window, announce=False, clamp=False)
        else:
            self.set_window(start, start + length)
        self._sync_view_range(force=True)
        self._update_y_axis()
        self.refresh()
        self._load_overlays()
        if self.lod.pyramid is not None or not self._pyramid_key:
            self._request_overview()
        if self._wanted_channels:
            self.show_channels(self._wanted_channels)

    def _on_open_error(self, exc: Exception) -> None:
        message = (
            exc.message
            if isinstance(exc, NdviewerError)
            else f"Cannot read {self.node.path}: {exc}"
        )
        self.status.setText(message)

    def _default_length(self, source: TimeSeriesSource) -> float:
        duration = max(source.t_stop - source.t_start, 0.0)
        rate = source.time_axis.rate
        if rate is None:
            n = max(source.n_samples, 1)
            rate = n / duration if duration > 0 else 1.0
        length = min(max(3000.0 / rate, 1.0), 600.0)
        return min(length, duration) if duration > 0 else length

    def _apply_stats(self, baselines: np.ndarray, sigma: np.ndarray) -> None:
        self._baselines = np.nan_to_num(np.asarray(baselines, dtype=np.float64), nan=0.0)
        finite = sigma[np.isfinite(sigma) & (sigma > 0)]
        self._sigma = float(np.median(finite)) if finite.size else 1.0
        self._auto_spacing = True
        self._spacing = self._auto_spacing_value()
        unit = self.source.unit if self.source is not None else ""
        self._display_unit, self._display_scale = si_prefix(unit, self._spacing)
        self._update_controls()

    def _auto_spacing_value(self) -> float:
        """8 robust SDs of a typical channel per lane, more when lanes are only a few pixels
        tall (dense pages), so traces stay lines instead of filling their lanes."""
        lane_px = self._plot_pixels()[1] / max(1, len(self.page_channels))
        return 8.0 * self._sigma * max(1.0, MIN_LANE_PIXELS / max(lane_px, 1.0))

    def _reapply_auto_spacing(self) -> None:
        if self._auto_spacing and self.source is not None:
            spacing = self._auto_spacing_value()
            if not math.isclose(spacing, self._spacing, rel_tol=1e-3):
                self._spacing = spacing
                self._cache.clear()
                self._update_controls()

    # -------------------------------------------------------------------------------- frames
    def _min_window(self) -> float:
        if self.source is None:
            return 1e-6
        rate = self.source.time_axis.rate
        return 8.0 / rate if rate else 1e-6

    def _bounds(self) -> tuple[float, float]:
        src = self.source
        if src is None:
            return 0.0, 1.0
        rate = src.time_axis.rate
        stop = src.t_stop + (1.0 / rate if rate else 0.0)
        return src.t_start, max(stop, src.t_start + self._min_window())

    def _plot_pixels(self) -> tuple[int, int]:
        rect = self.view.sceneBoundingRect()
        ratio = self.devicePixelRatioF() or 1.0
        width = max(16, int(rect.width() * ratio))
        height = max(16, int(rect.height() * ratio))
        return width, height

    def _make_request(self) -> FrameRequest | None:
        if self.source is None or self.lod is None:
            return None
        channels = self.page_channels
        if not channels:
            return None
        width, height = self._plot_pixels()
        gain = self._gain / self._spacing if self._spacing > 0 else self._gain
        colors = self._colors[channels].copy()
        if self._highlight is not None and self._highlight in channels:
            colors[channels.index(self._highlight)] = len(TRACE_COLORS) + 1
        return FrameRequest(
            float(self._window[0]),
            float(self._window[1]),
            tuple(channels),
            width,
            height,
            tuple(float(self._baselines[c]) for c in channels),
            tuple(gain for _ in channels),
            tuple(int(c) for c in colors),
        )

    def _on_frame(self, frame: Frame) -> None:
        self._in_flight = None
        self._render_seconds = 0.7 * self._render_seconds + 0.3 * frame.seconds
        self._cache.put(frame)
        self._offer(frame)
        self._next_after_render()

    def _offer(self, frame: Frame) -> None:
        """Show a finished frame if it is wanted, or if it only lags the wanted one in time."""
        wanted = self._wanted
        if wanted is None:
            return
        if frame.request == wanted:
            if not frame.coarse:
                self._show_frame(frame)
            elif self._shown is None or self._shown.request != wanted:
                self._show_frame(frame, final=False)
        elif _same_layout(frame.request, wanted) and (
            self._shown is None or _same_layout(self._shown.request, wanted)
        ):
            # a frame between the one on screen and the wanted one: progress while keys are
            # held (never a frame beyond the wanted window)
            d = self._last_step
            shown_t0 = self._shown.request.t0 if self._shown is not None else None
            behind = d * (wanted.t0 - frame.request.t0) >= 0
            ahead_of_shown = shown_t0 is None or d * (frame.request.t0 - shown_t0) > 0
            if behind and ahead_of_shown:
                self._show_frame(frame, final=False)

    def _on_frame_error(self, exc: Exception) -> None:
        self._in_flight = None
        if isinstance(exc, NeedsPyramid):
            self._waiting_for_pyramid = True
            self._ensure_pyramid()
            self._update_status()
            return
        message = exc.message if isinstance(exc, NdviewerError) else str(exc)
        self.status.setText(f"Cannot draw {self.node.path}: {message}")
        self._next_after_render()

    def _show_frame(self, frame: Frame, final: bool = True) -> None:
        req = frame.request
        self.image.set_image(frame.image, frame.x0, frame.x1, req.y_bottom, req.y_top)
        self._shown = frame
        if final:
            started = self._request_started.pop(req, None)
            self._request_started.clear()
            if started is not None:
                self.last_latency = time.perf_counter() - started
        if self.first_paint_seconds is None:
            self.first_paint_seconds = time.perf_counter() - self._opened_at
        if self._qc is None:
            # QC reads a window of raw chunks: only once the user pauses, never against the
            # frames being drawn
            self._qc_timer.start()
        self._update_status(frame=frame)
        self.frame_shown.emit(frame)
        if final:
            self._prefetch_next()

    def _lead_pages(self) -> int:
        """How many pages ahead the prefetcher must work while a key is held.

        When page steps come faster than frames render, the page the user will reach once a
        render finishes lies several pages ahead: render there, so the press that arrives
        finds its frame ready.
        """
        times = self._step_times
        if len(times) < 2 or time.perf_counter() - times[-1] > 0.3:
            return 1
        interval = (times[-1] - times[0]) / (len(times) - 1)
        return int(min(12, math.ceil(self._render_seconds / max(interval, 1e-3)) + 1))

    def _prefetch_targets(self) -> list[FrameRequest]:
        """Pages to render ahead in the direction of travel (and one behind when idle)."""
        wanted = self._wanted
        if wanted is None:
            return []
        length = wanted.t1 - wanted.t0
        start, stop = self._bounds()
        lead = self._lead_pages()
        d = self._last_step
        steps = [d, 2 * d, -d, 3 * d] if lead <= 1 else [lead * d, (lead + 1) * d, (lead + 2) * d]
        out = []
        for step in steps:
            neighbour = wanted.shifted(step * length)
            if neighbour.t0 < start - 1e-9 or neighbour.t0 >= stop:
                continue
            out.append(neighbour)
        if lead <= 1 and self.lod is not None and self.lod.pyramid is not None:
            # when idle, the whole session too (a frequent jump: End of zoom-out, overview)
            whole = FrameRequest(start, start + (stop - start), *_layout_fields(wanted))
            if whole != wanted:
                out.append(whole)
        return out

    def _prefetch_next(self) -> None:
        """Render the first missing neighbour page (one prefetch at a time)."""
        if self.lod is None or self._prefetching is not None or self._coarse_mode():
            return
        if self._in_flight is not None and self._in_flight == self._wanted:
            return  # the page the user waits for gets the cores; prefetch resumes after it
        request = self._next_target()
        if request is None:
            return
        if self.lod.needs_pyramid(request.t0, request.t1, len(request.channels), request.width):
            return
        lod = self.lod
        self._prefetching = request

        def done(frame: Frame) -> None:
            self._prefetching = None
            self._render_seconds = 0.7 * self._render_seconds + 0.3 * frame.seconds
            self._cache.put(frame)
            self._offer(frame)
            self._next_after_render()

        def failed(exc: Exception) -> None:
            self._prefetching = None

        self.context.pool.submit(
            self.job_key("prefetch"),
            lambda token: render_frame(lod, request, lambda: token.cancelled),
            done,
            failed,
        )

    # ------------------------------------------------------------------------------ pyramid
    def _ensure_pyramid(self) -> None:
        if self.lod is None or self.lod.pyramid is not None or self._pyramid_progress is not None:
            return
        if not self._pyramid_key or self.source is None:
            return
        key, reader, progress = self._pyramid_key, self.source.reader, self._progress
        self._pyramid_progress = 0.0

        def job(token):
            return PyramidStore().build(
                key, reader, cancelled=lambda: token.cancelled, progress=progress.changed.emit
            )

        def done(pyramid) -> None:
            self._pyramid_progress = None
            if pyramid is None or self.lod is None:
                return
            self.lod.pyramid = pyramid
            self._waiting_for_pyramid = False
            self._cache.clear()
            self.refresh()
            self._request_overview()

        def failed(exc: Exception) -> None:
            self._pyramid_progress = None
            self.status.setText(f"Overview of {self.node.path} could not be built: {exc}")

        self.context.pool.submit(self.job_key("pyramid"), job, done, failed)

    def _on_pyramid_progress(self, fraction: float) -> None:
        if self._pyramid_progress is not None:
            self._pyramid_progress = fraction
            self._update_status()

    def _maybe_start_pyramid(self) -> None:
        """After the first paint: build the pyramid of a large dataset in the background."""
        src = self.source
        if src is None or self.lod is None or self.lod.pyramid is not None:
            return
        if src.n_samples * src.n_channels >= PYRAMID_MIN_VALUES:
            self._ensure_pyramid()

    def _request_overview(self) -> None:
        """Whole-recording envelope (all page channels folded into one) for the strip."""
        if self.source is None or self.lod is None:
            return
        lod = self.lod
        start, stop = self._bounds()
        channels = np.asarray(self.page_channels, dtype=np.int64)
        width = max(64, self._plot_pixels()[0])
        if lod.needs_pyramid(start, stop, channels.size, width):
            self._ensure_pyramid()
            return

        def job(token):
            win = lod.fetch(start, stop, channels, width, lambda: token.cancelled)
            if win.kind == "envelope":
                lo, hi, x0, dt = win.lo, win.hi, win.col_t0, win.col_dt
            else:
                dt = (stop - start) / width
                lo, hi = samples_to_columns(win.times, win.values, start, dt, width)
                x0 = start
            # activity per column: the median channel's peak-to-peak range, drawn from 0
            spread = np.asarray(hi, np.float64) - np.asarray(lo, np.float64)
            finite = np.isfinite(spread)
            spread[~finite] = 0.0
            activity = np.median(spread, axis=1)
            activity[~finite.any(axis=1)] = np.nan
            return np.zeros_like(activity), activity, x0, dt

        self.context.pool.submit(
            self.job_key("overview"), job, self._show_overview, lambda exc: None
        )

    def _show_overview(self, result) -> None:
        lo, hi, x0, dt = result
        height = max(8, int(self.overview.vb.sceneBoundingRect().height()) or 40)
        finite = hi[np.isfinite(hi)]
        floor, top = np.percentile(finite, [1, 99.5]) if finite.size else (0.0, 1.0)
        span = float(top - floor) if top > floor else 1.0
        # the quietest columns at the bottom edge, the busiest (99.5th percentile) near the
        # top: changes of activity over the session stand out even on a busy recording
        lo = np.full_like(hi, floor)
        layout = LaneLayout(
            np.full(1, -0.48, np.float32),
            np.full(1, floor, np.float32),
            np.full(1, 0.9 / span, np.float32),
            0.5,
            -0.5,
            height,
        )
        image = rasterize_envelope(lo[:, None], hi[:, None], layout, np.ones(1, np.uint8))
        self.overview_image.set_image(image, x0, x0 + dt * lo.size, -0.5, 0.5)
        start, stop = self._bounds()
        self.overview.setXRange(start, stop, padding=0)
        self.overview.setYRange(-0.5, 0.5, padding=0)
        self._overview_shown = True

    # ------------------------------------------------------------------------------ overlays
    def _load_overlays(self) -> None:
        file = self.context.file
        catalog = file.catalog
        index = self.context.index
        entries = None
        if index is not None:
            entries = [
                (e.path, e.neurodata_type)
                for e in index.entries
                if e.kind == "group" and e.neurodata_type
            ]

        def job(token):
            found = find_time_overlays(file.h5, catalog.is_a, entries)
            intervals, events, units = [], [], None
            for path in found.intervals:
                try:
                    intervals.append(IntervalSource(file.h5[path]))
                except (NdviewerError, KeyError, OSError, ValueError):
                    continue
            for path in found.events:
                try:
                    events.append(EventSource(file.h5[path]))
                except (NdviewerError, KeyError, OSError, ValueError):
                    continue
            for path in found.units:
                try:
                    units = SpikeTrainSource(file.h5[path])
                    break
                except (NdviewerError, KeyError, OSError, ValueError):
                    continue
            return intervals, events, units

        self.context.pool.submit(self.job_key("overlays"), job, self._on_overlays, lambda exc: None)

    def _on_overlays(self, result) -> None:
        self._intervals, self._events, self._units = result
        self.overlay_menu.clear()
        for source in self._intervals:
            enabled = source.name != "epochs"  # a session-long epoch would shade everything
            self._interval_enabled.setdefault(source.path, enabled)
            action = QAction(f"{source.name} ({source.n_rows} intervals)", self.overlay_menu)
            action.setCheckable(True)
            action.setChecked(self._interval_enabled[source.path])
            action.toggled.connect(lambda on, p=source.path: self._toggle_interval(p, on))
            self.overlay_menu.addAction(action)
        if self._units is not None:
            action = QAction(f"spike raster ({self._units.n_units} units)", self.overlay_menu)
            action.setCheckable(True)
            action.setChecked(True)
            action.toggled.connect(self._toggle_raster)
            self.overlay_menu.addAction(action)
            self.overlay_menu.addAction("next units page", lambda: self.unit_page(1))
            self.overlay_menu.addAction("previous units page", lambda: self.unit_page(-1))
            self.raster_plot.show()
        self.overlay_button.setEnabled(bool(self._intervals or self._units or self._events))
        self._update_overlays()

    def _toggle_interval(self, path: str, on: bool) -> None:
        self._interval_enabled[path] = on
        self._update_overlays()

    def _toggle_raster(self, on: bool) -> None:
        self.raster_plot.setVisible(on)
        self._update_overlays()

    def unit_page(self, delta: int) -> None:
        """Show the next/previous page of units in the raster."""
        if self._units is None:
            return
        pages = max(1, math.ceil(self._units.n_units / UNITS_PER_PAGE))
        self._unit_page = min(max(0, self._unit_page + delta), pages - 1)
        self._update_overlays()

    def _update_overlays(self) -> None:
        t0, t1 = self._window
        n = len(self.page_channels)
        y0, y1 = 0.5 - n, 0.5
        bands: list[Band] = []
        labels: list[tuple[float, str, QColor]] = []
        rows: list[tuple[str, list[Band]]] = []
        for k, source in enumerate(self._intervals):
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
        self.interval_track.set_rows(rows)
        markers: list[Marker] = []
        for k, source in enumerate(self._events):
            color = QColor(EVENT_COLORS[k % len(EVENT_COLORS)])
            batch = source.query(t0, t1)
            for t, d, label in zip(batch.times, batch.durations, batch.labels, strict=True):
                markers.append(Marker(float(t), float(0.0 if np.isnan(d) else d), color))
                if label:
                    labels.append((float(t), label, color))
        self.markers.set_markers(markers, y0, y1)
        for item in self._band_labels:
            self.plot.removeItem(item)
        self._band_labels = []
        if len(labels) <= MAX_LABELS:
            self._place_labels(sorted(labels, key=lambda item: item[0]), t0, t1, y1)
        self._request_raster()

    def _place_labels(
        self, labels: list[tuple[float, str, QColor]], t0: float, t1: float, y_top: float
    ) -> None:
        """Put labels along the top, moving one down a row when it would overlap."""
        width_px, height_px = self._plot_pixels()
        ratio = self.devicePixelRatioF() or 1.0
        seconds_per_px = (t1 - t0) / max(1.0, width_px / ratio)
        row_height = 16.0 * len(self.page_channels) / max(1.0, height_px / ratio)
        row_ends: list[float] = []
        for x, text, color in labels:
            end = x + (7.0 * len(text) + 8.0) * seconds_per_px
            row = next((k for k, e in enumerate(row_ends) if e <= x), len(row_ends))
            if row == len(row_ends):
                row_ends.append(end)
            else:
                row_ends[row] = end
            item = pg.TextItem(
                text, color=color, anchor=(0, 0), fill=pg.mkBrush(255, 255, 255, 190)
            )
            item.setPos(x, y_top - row * row_height)
            item.setZValue(15)
            self.plot.addItem(item)
            self._band_labels.append(item)

    def _request_raster(self) -> None:
        units = self._units
        if units is None or not self.raster_plot.isVisible():
            return
        first = self._unit_page * UNITS_PER_PAGE
        rows = list(range(first, min(units.n_units, first + UNITS_PER_PAGE)))
        t0, t1 = self._window
        rect = self.raster_plot.vb.sceneBoundingRect()
        width = max(16, int(rect.width()))
        height = max(8, int(rect.height()))

        def job(token):
            return render_raster(units, rows, t0, t1, width, height)

        def done(result) -> None:
            image, _count = result
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

        self.context.pool.submit(self.job_key("raster"), job, done, lambda exc: None)

    # ---------------------------------------------------------------------------------- view
    def _sync_view_range(self, force: bool = False) -> None:
        t0, t1 = self._window
        n = max(1, len(self.page_channels))
        self._setting_range = True
        try:
            self.view.setRange(xRange=(t0, t1), yRange=(0.5 - n, 0.5), padding=0)
        finally:
            self._setting_range = False
        self.overview_region.blockSignals(True)
        self.overview_region.setRegion((t0, t1))
        self.overview_region.blockSignals(False)
        if self.cursor_line.value() < t0 or self.cursor_line.value() > t1:
            if not self._linked or not (t0 <= self.cursor.time <= t1):
                self.cursor_line.setValue(t0)
            else:
                self.cursor_line.setValue(self.cursor.time)

    def _on_view_x_range(self, _view, x_range) -> None:
        if self._setting_range or self.source is None:
            return
        t0, t1 = float(x_range[0]), float(x_range[1])
        if (t0, t1) != self._window:
            self.set_window(t0, t1)

    def _on_overview_region(self) -> None:
        t0, t1 = self.overview_region.getRegion()
        self.set_window(float(t0), float(t1))

    def _after_layout_change(self) -> None:
        self._reapply_auto_spacing()
        self._sync_view_range()
        self._update_y_axis()
        self._update_controls()
        self.refresh()
        self._request_overview()

    def check_channels(self) -> None:
        """Flag dead, saturated and noisy channels on the start of the visible window."""
        if self.source is None or self.source.n_samples == 0:
            return
        source = self.source
        t0, t1 = self._window

        def job(token) -> ChannelQC:
            return _qc_snapshot(source, t0, t1)

        def done(qc: ChannelQC) -> None:
            self._qc = qc
            flagged = [(c, qc.label(c)) for c in range(len(qc.spread)) if qc.label(c)]
            names = source.channels
            text = " · ".join(f"{names[c].label} {label}" for c, label in flagged[:6])
            more = f" · +{len(flagged) - 6} more" if len(flagged) > 6 else ""
            self.qc_label.setText(f"QC: {text}{more}" if flagged else "")
            self._update_y_axis()

        self.context.pool.submit(self.job_key("qc"), job, done, self._on_frame_error)

    def _flag(self, channel: int) -> str:
        qc = self._qc
        return qc.label(channel) if qc is not None and channel < len(qc.spread) else ""

    def _lane_label(self, channel: int) -> str:
        flag = self._flag(channel)
        label = self.source.channels[channel].label
        short = {"dead": "dead", "saturated": "sat", "noisy": "noisy"}[flag] if flag else ""
        return f"{label} {short}" if flag else label

    def _update_y_axis(self) -> None:
        if self.source is None:
            return
        channels = self.page_channels
        height = self._plot_pixels()[1] / (self.devicePixelRatioF() or 1.0)
        step = max(1, math.ceil(len(channels) / max(1.0, height / 14)))
        ticks = [
            (-k, self._lane_label(c))
            for k, c in enumerate(channels)
            if k % step == 0 or self._flag(c)
        ]
        axis = self.plot.getAxis("left")
        axis.setTicks([ticks, []])
        self.plot.setLabel(
            "left", "channel" if self.source.channels[0].row_id is None else "electrode"
        )

    def _update_controls(self) -> None:
        if self.source is None:
            return
        t0, t1 = self._window
        for box, value in (
            (self.goto_box, t0),
            (self.length_box, t1 - t0),
            (self.gain_box, self._gain),
            (self.spacing_box, self._spacing * self._display_scale),
        ):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)
        self.spacing_box.setSuffix(f" {self._display_unit}" if self._display_unit else "")
        if self.page_box.value() != self._page_size:
            self.page_box.blockSignals(True)
            self.page_box.setValue(self._page_size)
            self.page_box.blockSignals(False)
        n = self._selection.size
        first = self._page_start + 1
        last = min(n, self._page_start + self._page_size)
        self.page_label.setText(f"{first}–{last} of {n}")

    def _update_status(self, frame: Frame | None = None, loading: bool = False) -> None:
        src = self.source
        if src is None:
            return
        parts = [f"{src.n_channels} ch × {src.n_samples:,} samples ({src.time_source})"]
        frame = frame or self._shown
        if frame is not None:
            parts.append(
                f"{frame.source}, {frame.spc} samples/column, {frame.seconds * 1000:.0f} ms"
            )
        if loading:
            parts.append("loading…")
        if self._pyramid_progress is not None:
            parts.append(f"building overview {self._pyramid_progress * 100:.0f}%")
        if self._waiting_for_pyramid and self.lod is not None and self.lod.pyramid is None:
            parts.append("this window needs the overview: showing the last frame until it is built")
        self.status.setText(" · ".join(parts))
        if frame is not None and self.first_paint_seconds is not None and loading is False:
            QTimer.singleShot(0, self._maybe_start_pyramid)

    def _fill_channel_combo(self) -> None:
        src = self.source
        self.channel_combo.clear()
        self.channel_combo.addItem(f"All channels ({src.n_channels})", ("all", None))
        for kind in ("group", "location"):
            values = sorted({getattr(c, kind) for c in src.channels if getattr(c, kind)})
            if len(values) > 1 or (values and kind == "group"):
                for value in values:
                    count = sum(1 for c in src.channels if getattr(c, kind) == value)
                    self.channel_combo.addItem(f"{kind}: {value} ({count})", (kind, value))

    def _on_channel_combo(self, row: int) -> None:
        kind, value = self.channel_combo.itemData(row)
        self.select_channels(kind, value)

    def _on_length_box(self, value: float) -> None:
        t0 = self._window[0]
        self.set_window(t0, t0 + value)

    def _on_plot_clicked(self, event) -> None:
        if self.source is None or event.button() != Qt.MouseButton.LeftButton:
            return
        pos = self.view.mapSceneToView(event.scenePos())
        if not self.view.sceneBoundingRect().contains(event.scenePos()):
            return
        lane = int(round(-pos.y()))
        channels = self.page_channels
        if 0 <= lane < len(channels):
            self._highlight = channels[lane]
            self.status.setToolTip(self.source.channels[channels[lane]].describe())
            self.status.setText(
                f"selected {self.source.channels[channels[lane]].describe()} at {pos.x():.4f} s"
            )
        self.cursor_line.setValue(pos.x())
        if self._linked:
            self.cursor.set_time(pos.x())
        self._cache.clear()
        self.refresh()
        if self.spectrum_button.isChecked():
            self._request_spectra()

    @property
    def spectral(self) -> SpectralView:
        """The spectra beside the traces, built on first use: its plots cost a fifth of the
        panel's construction, which the first paint waits for."""
        if self._spectral is None:
            self._spectral = SpectralView(self)
            self._spectral.hide()
            self.splitter.addWidget(self._spectral)
            self.splitter.setStretchFactor(1, 1)
        return self._spectral

    def _on_spectrum_toggled(self, on: bool) -> None:
        if not on and self._spectral is None:
            return
        self.spectral.setVisible(on)
        if on:
            self.splitter.setSizes([3 * self.width() // 4, self.width() // 4])
            self._request_spectra()

    def _request_spectra(self) -> None:
        if self.source is None:
            return
        src = self.source
        t0, t1 = self._window
        channels = self.page_channels
        spec_channel = self._highlight if self._highlight in channels else channels[0]

        def job(token):
            return compute_spectra(src, t0, t1, channels, spec_channel, lambda: token.cancelled)

        self.context.pool.submit(
            self.job_key("spectra"), job, self.spectral.show_result, self._on_frame_error
        )

    # ---------------------------------------------------------------------------- cursor
    def _on_cursor(self, cursor: TimeCursor) -> None:
        if not self._linked or self.source is None:
            return
        self._adopt_cursor(cursor)

    def _adopt_cursor(self, cursor: TimeCursor) -> None:
        if cursor.window != self._window:
            self.set_window(*cursor.window, announce=False, clamp=False)
        t0, t1 = self._window
        if t0 <= cursor.time <= t1:
            self.cursor_line.setValue(cursor.time)

    # ------------------------------------------------------------------------------- events
    def eventFilter(self, watched: QObject, event: Any) -> bool:  # noqa: N802
        if event.type() == event.Type.KeyPress and self._handle_key(event):
            return True
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if not self._handle_key(event):
            super().keyPressEvent(event)

    def _handle_key(self, event: QKeyEvent) -> bool:
        if self.source is None:
            return False
        key = event.key()
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if key == Qt.Key.Key_Right:
            self.page(0.5 if shift else 1.0)
        elif key == Qt.Key.Key_Left:
            self.page(-0.5 if shift else -1.0)
        elif key == Qt.Key.Key_Down:
            self.channel_page(1)
        elif key == Qt.Key.Key_Up:
            self.channel_page(-1)
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom(0.5)
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.zoom(2.0)
        elif key == Qt.Key.Key_Home:
            self.go_home()
        elif key == Qt.Key.Key_End:
            self.go_end()
        else:
            return False
        event.accept()
        return True

    def _on_resized(self) -> None:
        self._reapply_auto_spacing()
        self._update_y_axis()
        self.refresh()
        if self._overview_shown:
            self._request_overview()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._resize_timer.start()

    # ------------------------------------------------------------------------------ shutdown
    def shutdown(self) -> None:
        """Cancel reads (including a pyramid build), unsubscribe, release the file."""
        super().shutdown()
        self._unsubscribe()
        self._resize_timer.stop()
        self._settle_timer.stop()
        self._qc_timer.stop()
        self._cache.clear()
        self._coarse_cache.clear()
        if self.lod is not None:
            self.lod.clear_cache()


def _layout_fields(request: FrameRequest) -> tuple:
    """Everything of a request except its time window, in constructor order."""
    return (
        request.channels,
        request.width,
        request.height,
        request.baselines,
        request.gains,
        request.colors,
    )


def _same_layout(a: FrameRequest, b: FrameRequest) -> bool:
    """True when two requests differ at most in their time window."""
    return (a.channels, a.width, a.height, a.baselines, a.gains, a.colors) == (
        b.channels,
        b.width,
        b.height,
        b.baselines,
        b.gains,
        b.colors,
    )


def _qc_snapshot(source: TimeSeriesSource, t0: float, t1: float, max_values: int = 600_000):
    """Channel QC on stored values from the start of ``[t0, t1]`` (bounded read)."""
    i0, i1 = source.time_axis.window(t0, t1)
    i1 = max(i1, min(source.n_samples, i0 + 2))
    i1 = min(i1, i0 + max(64, max_values // max(1, source.n_channels)))
    return channel_qc(source.read(i0, i1))


def _robust_snapshot(
    source: TimeSeriesSource, t0: float, t1: float, max_values: int = 600_000
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel median and robust SD from the start of ``[t0, t1]`` (bounded read)."""
    if source.n_samples == 0 or source.n_channels == 0:
        return np.zeros(source.n_channels), np.ones(source.n_channels)
    i0, i1 = source.time_axis.window(t0, t1)
    i1 = max(i1, min(source.n_samples, i0 + 2))
    limit = max(64, max_values // max(1, source.n_channels))
    i1 = min(i1, i0 + limit)
    return source.robust_stats(i0, i1)
