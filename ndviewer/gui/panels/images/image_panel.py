"""The image panel: frames of an ImageSeries (or the pictures of Images / Image) with
playback, contrast, orientation, projections and ROI overlays, tied to the time cursor.

Data flow: :class:`FramePlayer` decides which frame is on screen and reads ahead in the
decode pool; the panel maps the frame to 8-bit display values (contrast settings, decimated
to the zoom) and hands it to the :class:`ImageCanvas`. Projections and ROI masks are read by
``context.pool`` workers. The shared time cursor moves when the shown frame changes, and the
shown frame follows the cursor when another panel moves it.
"""

from __future__ import annotations

import math
import time
from typing import ClassVar

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ndviewer.core.errors import NdviewerError
from ndviewer.core.model.catalog import Catalog
from ndviewer.core.model.nodes import Node
from ndviewer.core.nwb.images import (
    ImageSource,
    SeriesSource,
    is_viewable_image,
    open_image_source,
)
from ndviewer.core.nwb.masks import (
    RoiMasks,
    RoiTrace,
    find_plane_segmentations,
    load_plane_segmentation,
    read_roi_trace,
)
from ndviewer.core.signal.projections import compute_projections
from ndviewer.gui.panels.base import Panel, PanelContext, short_path
from ndviewer.gui.panels.images.canvas import ImageCanvas
from ndviewer.gui.panels.images.contrast import (
    ContrastSettings,
    DisplayMapper,
    histogram,
    percentile_levels,
)
from ndviewer.gui.panels.images.controls import ContrastControls, PlaybackBar, colormap_lut
from ndviewer.gui.panels.images.overlay import MODES, RoiOverlay
from ndviewer.gui.panels.images.player import FramePlayer
from ndviewer.gui.panels.images.trace_strip import TraceStrip
from ndviewer.gui.panels.images.video import ExternalVideoView

#: Frame cache budget per panel (bounded memory whatever the stack size); the context's
#: ``settings["image_cache_bytes"]`` overrides it. 64 MB: 8 frames of 2048² uint16, 128 of
#: 512². Playing a 2048² gzip stack the process peaked at 463 MB with 256 MB, 555-591 MB
#: with 128 MB under load (frames in flight and being painted come on top of the cache), at
#: the same frame rate: the cache only serves stepping back, so it stays small.
CACHE_BYTES = 64 * 1024 * 1024
#: The histogram follows the picture this long after it changes (ms): repainting the plot
#: with every frame would delay the frame itself (a seek paints in ~2 ms, the plot in ~10).
HISTOGRAM_DELAY_MS = 150
CURSOR_UPDATE_INTERVAL = 0.05
#: While playing, the slider and frame caption refresh at most this often (s): at hundreds of
#: frames per second, repainting them for every frame costs more than the frame itself.
BAR_UPDATE_INTERVAL = 1 / 30
PROJECTIONS = ("Frames", "Mean", "Max", "Min", "Std")


class ImagePanel(Panel):
    """Frames, contrast, projections and ROIs of one image object.

    Signals
    -------
    frame_shown(int)
        A frame was drawn (its index).
    roi_selected(int, int)
        An ROI was clicked: its PlaneSegmentation row and its id.
    trace_shown(str, int)
        The linked trace strip now shows this RoiResponseSeries column.
    """

    title: ClassVar[str] = "Image"
    frame_shown = Signal(int)
    roi_selected = Signal(int, int)
    trace_shown = Signal(str, int)
    _projection_progress = Signal(int, int)

    @classmethod
    def priority(cls, node: Node, catalog: Catalog) -> int:
        return 100 if is_viewable_image(node, catalog.is_a) else -1

    def __init__(self, context: PanelContext, node: Node, parent: QWidget | None = None) -> None:
        super().__init__(context, node, parent)
        self.source: ImageSource | None = None
        self.player: FramePlayer | None = None
        self.frame: np.ndarray | None = None
        self.picture: np.ndarray | None = None  # the raw 2-D picture on screen
        self.projection: tuple[str, np.ndarray] | None = None
        self.masks: RoiMasks | None = None
        self.traces: list[RoiTrace] = []
        self.plane = 0
        self.mapper = DisplayMapper()
        self.contrast_settings: ContrastSettings | None = None
        self.lut = colormap_lut("gray")
        self._projections: dict[tuple[str, int, int], np.ndarray] = {}
        self._histogram_timer = QTimer(self)
        self._histogram_timer.setSingleShot(True)
        self._histogram_timer.setInterval(HISTOGRAM_DELAY_MS)
        self._histogram_timer.timeout.connect(self._update_histogram)
        self._last_cursor_update = 0.0
        self._last_bar_update = 0.0
        self._unsubscribe = lambda: None
        self.video_view: ExternalVideoView | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #8a1f11; padding: 4px;")
        self.message.hide()
        layout.addWidget(self.message)
        try:
            self.source = open_image_source(node)
        except (NdviewerError, OSError, KeyError, ValueError) as exc:
            self._show_message(getattr(exc, "message", None) or f"{node.path}: {exc}")
            return
        if self.source.n_frames == 0:
            self.video_view = ExternalVideoView(self.source.external_files, node.path, self)
            layout.addWidget(self.video_view, 1)
            return
        self._build(layout)
        self._start()

    # ------------------------------------------------------------------ layout
    def _build(self, layout: QVBoxLayout) -> None:
        source = self.source
        geometry = source.frame_geometry(0)
        toolbar = QHBoxLayout()
        toolbar.setSpacing(6)
        self.mode = QComboBox()
        self.mode.addItems(PROJECTIONS)
        self.mode.setToolTip("Show frames, or a projection over a frame range")
        self.range_start = QSpinBox()
        self.range_stop = QSpinBox()
        for spin in (self.range_start, self.range_stop):
            spin.setRange(0, source.n_frames)
            spin.setKeyboardTracking(False)
        self.range_stop.setValue(source.n_frames)
        self.range_label = QLabel("frames")
        self.range_to = QLabel("to")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(True)
        self.cancel = QPushButton("Cancel")
        self.rotate_left = self._tool("↺", "Rotate 90° anticlockwise")
        self.rotate_right = self._tool("↻", "Rotate 90° clockwise")
        self.flip_h = self._tool("⇆", "Mirror left–right", checkable=True)
        self.flip_v = self._tool("⇅", "Mirror top–bottom", checkable=True)
        self.fit = self._tool("Fit", "Fit the picture in the view")
        self.export_button = self._tool(
            "Export…", "Figure of the picture (PDF, SVG, PNG, clipboard) or its values (TIFF, PNG)"
        )
        self.roi_label = QLabel("ROIs")
        self.roi_source = QComboBox()
        self.roi_source.setToolTip("PlaneSegmentation drawn over the picture")
        self.roi_mode = QComboBox()
        self.roi_mode.addItems(MODES)
        toolbar.addWidget(QLabel("Show"))
        toolbar.addWidget(self.mode)
        for widget in (self.range_label, self.range_start, self.range_to, self.range_stop):
            toolbar.addWidget(widget)
        toolbar.addWidget(self.progress)
        toolbar.addWidget(self.cancel)
        toolbar.addSpacing(12)
        for widget in (self.rotate_left, self.rotate_right, self.flip_h, self.flip_v, self.fit):
            toolbar.addWidget(widget)
        toolbar.addWidget(self.export_button)
        toolbar.addStretch(1)
        for widget in (self.roi_label, self.roi_source, self.roi_mode):
            toolbar.addWidget(widget)
        layout.addLayout(toolbar)

        self.canvas = ImageCanvas(self)
        self.canvas.setMinimumSize(240, 200)
        self.overlay = RoiOverlay(self.canvas.root)
        self.contrast = ContrastControls(self)
        self.contrast.setFixedWidth(250)
        self.info = QLabel(self._describe_source())
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setStyleSheet("color: #444; padding-top: 10px;")
        self.contrast.layout().insertWidget(self.contrast.layout().count() - 1, self.info)
        self.trace_strip = TraceStrip(self)
        self.trace_strip.hide()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.canvas, 1)
        left_layout.addWidget(self.trace_strip)
        body = QHBoxLayout()
        body.addWidget(left, 1)
        body.addWidget(self.contrast)
        layout.addLayout(body, 1)

        self.playback = PlaybackBar(self)
        self.playback.set_frame_count(source.n_frames)
        self.playback.set_planes(geometry.n_planes)
        layout.addWidget(self.playback)
        self.status = QLabel(" ")
        self.status.setStyleSheet("color: #555;")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)

        is_series = isinstance(source, SeriesSource)
        self.mode.setVisible(is_series)
        self._set_range_visible(False)
        self._set_progress_visible(False)
        self._set_roi_controls_visible(False)

        self.mode.currentTextChanged.connect(self._on_mode)
        self.range_start.valueChanged.connect(self._on_range)
        self.range_stop.valueChanged.connect(self._on_range)
        self.cancel.clicked.connect(self._cancel_projection)
        self.rotate_left.clicked.connect(lambda: self._rotate(-90))
        self.rotate_right.clicked.connect(lambda: self._rotate(90))
        self.flip_h.toggled.connect(self._apply_orientation)
        self.flip_v.toggled.connect(self._apply_orientation)
        self.fit.clicked.connect(self.canvas.fit)
        self.export_button.clicked.connect(self.open_export)
        self.roi_source.currentIndexChanged.connect(self._on_roi_source)
        self.roi_mode.currentTextChanged.connect(self.overlay.set_mode)
        self.contrast.settings_changed.connect(self._on_contrast)
        self.contrast.colormap_changed.connect(self._on_colormap)
        self.contrast.auto_requested.connect(self.auto_contrast)
        self.canvas.stride_changed.connect(lambda _s: self._render())
        self.canvas.hovered.connect(self._on_hover)
        self.canvas.clicked.connect(self._on_click)
        self.canvas.double_clicked.connect(self._on_double_click)
        self.trace_strip.open_requested.connect(self._open_selected_trace)
        self.trace_strip.time_picked.connect(self.context.time_cursor.set_time)
        self._projection_progress.connect(self._on_projection_progress)
        for key, slot in ((",", lambda: self.step(-1)), (".", lambda: self.step(1)),
                          ("Space", self.toggle_play)):  # fmt: skip
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

    def _describe_source(self) -> str:
        """A few facts for the side column: size, type, frames, rate, storage."""
        source = self.source
        geometry = source.frame_geometry(0)
        nx, ny = geometry.size
        lines = ["<b>Data</b>", f"{nx} × {ny} px · {source.dtype}"]
        if geometry.n_planes > 1:
            lines.append(f"{geometry.n_planes} depth planes")
        if geometry.is_color:
            lines.append("RGBA" if geometry.channels == 4 else "RGB")
        noun = "pictures" if source.labels else "frames"
        lines.append(f"{source.n_frames} {noun}")
        if source.time is not None and source.time.frame_rate:
            timing = "rate" if source.time.regular else "timestamps, median"
            lines.append(f"{source.time.frame_rate:.4g} Hz ({timing})")
        if isinstance(source, SeriesSource) and source.reader is not None:
            reader = source.reader
            chunks = "×".join(map(str, reader.chunks)) if reader.chunks else "contiguous"
            lines.append(f"chunks {chunks}")
            lines.append("parallel decode" if reader.parallel else "decoded by HDF5")
        if source.unit and source.unit != "n.a.":
            lines.append(f"unit {source.unit}")
        return "<br>".join(lines)

    @staticmethod
    def _tool(text: str, tip: str, checkable: bool = False) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setCheckable(checkable)
        button.setAutoRaise(True)
        button.setMinimumWidth(28)
        return button

    def _start(self) -> None:
        source = self.source
        self.canvas.set_size(source.frame_geometry(0).size)
        budget = int(self.context.settings.get("image_cache_bytes", CACHE_BYTES))
        self.player = FramePlayer(source, budget, self)
        self.player.frame_changed.connect(self._on_frame)
        self.player.playing_changed.connect(self._on_playing_changed)
        self.player.fps_changed.connect(self.playback.set_fps)
        self.player.read_failed.connect(lambda _i, text: self._set_status(text))
        self.playback.frame_requested.connect(self.seek)
        self.playback.play_toggled.connect(self.toggle_play)
        self.playback.speed_changed.connect(self.player.set_speed)
        self.playback.plane_changed.connect(self._on_plane)
        self._unsubscribe = self.context.time_cursor.subscribe(self._on_cursor)
        start = 0
        if source.time is not None:
            start = source.time.index_at(self.context.time_cursor.time)
        self.player.seek(start)
        if isinstance(source, SeriesSource):
            self._find_segmentations()

    # ------------------------------------------------------------------ public control
    def seek(self, index: int) -> None:
        """Show frame ``index``."""
        if self.player is not None:
            self.player.seek(index)

    def step(self, delta: int) -> None:
        if self.player is not None:
            self.player.step(delta)

    def toggle_play(self) -> None:
        if self.player is not None and self.projection is None:
            self.player.toggle()

    def auto_contrast(self, low: float = 0.5, high: float = 99.5) -> None:
        """Levels from percentiles of the picture on screen."""
        if self.picture is not None:
            self.contrast.set_levels(*percentile_levels(self.picture, low, high))

    def open_export(self):
        """Open the Export dialog for the picture on screen."""
        from ndviewer.gui.export.dialog import ExportDialog

        dialog = ExportDialog(self, [self], self)
        dialog.show()
        return dialog

    def export_values(self) -> np.ndarray | None:
        """The shown frame plane or projection as stored, rows of y (as files hold them)."""
        if self.picture is None:
            return None
        picture = self.picture
        return np.ascontiguousarray(picture.transpose(1, 0, 2) if picture.ndim == 3 else picture.T)

    def export_picture(self) -> tuple[np.ndarray, str]:
        """The shown picture in screen colours (contrast and colour map applied, full
        resolution), rows of y, and a caption naming it."""
        if self.picture is None or self.contrast_settings is None:
            raise NdviewerError("No picture is shown yet.")
        colors = self.mapper.map(self.picture, self.contrast_settings, self.lut)
        if self.projection is not None:
            what = f"{self.projection[0]} projection"
        else:
            what = self.source.frame_label(max(self.current_index, 0))
        return np.ascontiguousarray(colors.T), f"{self.node.path} · {what}"

    @property
    def current_index(self) -> int:
        return self.player.index if self.player is not None else -1

    # ------------------------------------------------------------------ frames
    def _on_frame(self, index: int, frame: np.ndarray) -> None:
        self.frame = frame
        if self.source.labels:  # pictures of an Images container may differ in size
            self._update_geometry(index)
        now = time.perf_counter()
        if not self.player.playing or now - self._last_bar_update >= BAR_UPDATE_INTERVAL:
            self._last_bar_update = now
            self.playback.show_frame(index, self.source.frame_label(index))
        if self.projection is None:
            self._render()
        self.frame_shown.emit(index)
        self._publish_time(index)

    def _on_playing_changed(self, playing: bool) -> None:
        self.playback.set_playing(playing)
        index = self.current_index
        if not playing and index >= 0:  # show where playback stopped, exactly
            self.playback.show_frame(index, self.source.frame_label(index))
            self._publish_time(index)

    def _update_geometry(self, index: int) -> None:
        geometry = self.source.frame_geometry(index)
        self.canvas.set_size(geometry.size)
        self.playback.set_planes(geometry.n_planes)

    def _render(self) -> None:
        if self.projection is not None:
            picture = self.projection[1]
        elif self.frame is not None:
            geometry = self.source.frame_geometry(max(self.current_index, 0))
            picture = geometry.plane(self.frame, self.plane)
        else:
            return
        self.picture = picture
        if self.contrast_settings is None:  # first picture: automatic contrast
            self.contrast_settings = ContrastSettings(percentile_levels(picture))
            self.contrast.set_levels(*self.contrast_settings.levels)
            self._update_histogram()
        stride = self.canvas.stride
        shown = picture[::stride, ::stride] if stride > 1 else picture
        self.canvas.show_picture(self.mapper.map(shown, self.contrast_settings, self.lut))
        if not self._histogram_timer.isActive():
            self._histogram_timer.start()

    def _update_histogram(self) -> None:
        if self.picture is not None:
            self.contrast.set_histogram(*histogram(self.picture))

    def _on_contrast(self, settings: ContrastSettings) -> None:
        self.contrast_settings = settings
        self._render()

    def _on_colormap(self, name: str) -> None:
        self.lut = colormap_lut(name)
        self._render()

    def _on_plane(self, plane: int) -> None:
        self.plane = plane
        self.overlay.set_plane(plane)
        self._render()

    # ------------------------------------------------------------------ orientation
    def _rotate(self, degrees: int) -> None:
        self.canvas.rotation = (self.canvas.rotation + degrees) % 360
        self._apply_orientation()

    def _apply_orientation(self) -> None:
        self.canvas.set_orientation(
            self.canvas.rotation, self.flip_h.isChecked(), self.flip_v.isChecked()
        )

    # ------------------------------------------------------------------ time cursor
    def _publish_time(self, index: int) -> None:
        axis = self.source.time
        if axis is None:
            return
        t = float(axis.time_of(index))
        now = time.perf_counter()
        if self.player.playing and now - self._last_cursor_update < CURSOR_UPDATE_INTERVAL:
            return
        self._last_cursor_update = now
        self.trace_strip.set_time(t)
        self.context.time_cursor.set_time(t)

    def _on_cursor(self, cursor) -> None:
        axis = self.source.time if self.source is not None else None
        if axis is None or self.player is None:
            return
        index = axis.index_at(cursor.time)
        if index != self.player.index:
            if self.player.playing:
                self.player.pause()
            self.player.seek(index)

    # ------------------------------------------------------------------ projections
    def _on_mode(self, text: str) -> None:
        if text == "Frames":
            self._cancel_projection()
            self.projection = None
            self._set_range_visible(False)
            self.playback.setEnabled(True)
            self._render()
            # the status once kept saying "max projection of …" while frames were shown
            self._set_status(f"frames: {self.source.n_frames} in all (play, or step with ←/→)")
            return
        if self.player is not None:
            self.player.pause()
        self.playback.setEnabled(False)
        self._set_range_visible(True)
        self._request_projection()

    def _on_range(self, _value: int) -> None:
        if self.mode.currentText() != "Frames":
            self._request_projection()

    def _request_projection(self) -> None:
        kind = self.mode.currentText().lower()
        start, stop = self.range_start.value(), self.range_stop.value()
        if stop <= start:
            self._set_status("The projection range is empty: 'to' must exceed 'from'.")
            return
        cached = self._projections.get((kind, start, stop))
        if cached is not None:
            self._show_projection(kind, cached)
            return
        reader = self.source.reader
        emit = self._projection_progress.emit

        def work(token):
            return compute_projections(
                reader, [kind], start, stop, progress=emit, cancelled=lambda: token.cancelled
            )

        def done(result) -> None:
            self._set_progress_visible(False)
            if result is None:
                return
            image = result[kind]
            self._projections[(kind, start, stop)] = image
            if self.mode.currentText().lower() == kind:
                self._show_projection(kind, image)

        def failed(exc: Exception) -> None:
            self._set_progress_visible(False)
            self._set_status(f"The {kind} projection failed: {exc}")

        self.progress.setRange(0, stop - start)
        self.progress.setValue(0)
        self.progress.setFormat(f"{kind} %p%")
        self._set_progress_visible(True)
        self.context.pool.submit(self.job_key("projection"), work, done, failed)

    def _show_projection(self, kind: str, image: np.ndarray) -> None:
        geometry = self.source.frame_geometry(0)
        self.projection = (kind, geometry.plane(image, self.plane))
        self.contrast_settings = None  # new value range: automatic contrast again
        self._render()
        start, stop = self.range_start.value(), self.range_stop.value()
        self._set_status(f"{kind} projection of frames {start} to {stop - 1}")

    def _on_projection_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _cancel_projection(self) -> None:
        self.context.pool.cancel(self.job_key("projection"))
        self._set_progress_visible(False)

    # ------------------------------------------------------------------ ROIs
    def _find_segmentations(self) -> None:
        node = self.node

        def done(paths: list[str]) -> None:
            if not paths:
                return
            self.roi_source.blockSignals(True)
            self.roi_source.addItem("none", None)
            for path in paths:
                self.roi_source.addItem(short_path(path), path)
            self.roi_source.setCurrentIndex(1)
            self.roi_source.blockSignals(False)
            self._set_roi_controls_visible(True)
            self._on_roi_source(1)

        self.context.pool.submit(
            self.job_key("segmentations"),
            lambda _t: find_plane_segmentations(node),
            done,
            lambda exc: self._set_status(f"Cannot look for ROIs: {exc}"),
        )

    def _on_roi_source(self, row: int) -> None:
        path = self.roi_source.itemData(row)
        if path is None:
            self.masks = None
            self.traces = []
            self.overlay.set_masks(None)
            return
        file = self.context.file
        geometry = self.source.frame_geometry(0)
        shape = geometry.size if geometry.n_planes == 1 else (*geometry.size, geometry.n_planes)

        def work(_token):
            masks, traces = load_plane_segmentation(file, path, shape)
            masks.outlines()  # warm the label image and outlines off the GUI thread
            masks.label_image(0 if masks.is_volumetric else None)
            return masks, traces

        def done(result) -> None:
            self.masks, self.traces = result
            self.overlay.set_masks(self.masks, self.plane)
            self._set_status(f"{self.masks.n_rois} ROIs from {path}")

        def failed(exc: Exception) -> None:
            self._set_status(getattr(exc, "message", None) or f"ROIs of {path}: {exc}")

        self.context.pool.submit(self.job_key("masks"), work, done, failed)

    def _on_hover(self, x: float, y: float) -> None:
        if math.isnan(x) or self.picture is None:
            self.overlay.set_hovered(None)
            self._set_status(" ")
            return
        ix, iy = int(x), int(y)
        parts = [f"x {ix}, y {iy}"]
        if ix < self.picture.shape[0] and iy < self.picture.shape[1]:
            value = self.picture[ix, iy]
            text = ", ".join(f"{v:g}" for v in np.ravel(value)) if np.ndim(value) else f"{value:g}"
            parts.append(f"value {text}")
        row = self.overlay.roi_at(x, y)
        self.overlay.set_hovered(row)
        if row is not None:
            parts.append(f"ROI id {int(self.masks.ids[row])}")
        self._set_status("  ·  ".join(parts))

    def _on_click(self, x: float, y: float) -> None:
        row = self.overlay.roi_at(x, y)
        if row is not None:
            self.select_roi(row)

    def _on_double_click(self, x: float, y: float) -> None:
        row = self.overlay.roi_at(x, y)
        if row is not None:
            self.select_roi(row)
            trace = self._trace_for(row)
            if trace is not None:
                self.open_trace(trace.path, trace.column_of(row))

    def select_roi(self, row: int) -> None:
        """Highlight ROI ``row`` and show its trace in the linked strip."""
        if self.masks is None:
            return
        self.overlay.set_selected(row)
        roi_id = int(self.masks.ids[row])
        self.roi_selected.emit(row, roi_id)
        trace = self._trace_for(row)
        if trace is None:
            self._set_status(f"ROI id {roi_id} has no RoiResponseSeries")
            return
        column = trace.column_of(row)
        file = self.context.file

        def work(_token):
            return read_roi_trace(file, trace.path, column)

        def done(result) -> None:
            times, values = result
            name = short_path(trace.path)
            self.trace_strip.show_trace(trace.path, f"ROI id {roi_id} · {name}", times, values)
            if self.source.time is not None and self.current_index >= 0:
                t = float(self.source.time.time_of(self.current_index))
                self.trace_strip.set_time(t)
                self.context.time_cursor.set_time(t)
            self.trace_shown.emit(trace.path, column)

        self.context.pool.submit(
            self.job_key("trace"),
            work,
            done,
            lambda exc: self._set_status(f"Cannot read the trace of ROI id {roi_id}: {exc}"),
        )

    def _trace_for(self, row: int) -> RoiTrace | None:
        for trace in self.traces:
            if trace.column_of(row) is not None:
                return trace
        return None

    def _open_selected_trace(self, path: str) -> None:
        row = self.overlay.selected if self.masks is not None else None
        trace = self._trace_for(row) if row is not None else None
        self.open_trace(path, trace.column_of(row) if trace is not None else None)

    def open_trace(self, path: str, column: int | None = None) -> None:
        """Show ``path`` in a trace pane beside this image, at the current time, on the
        selected ROI's column."""
        if self.source.time is not None and self.current_index >= 0:
            self.context.time_cursor.set_time(float(self.source.time.time_of(self.current_index)))
        options = {"channels": [column]} if column is not None else {}
        self.context.open_linked(path, options)

    # ------------------------------------------------------------------ misc
    def _set_status(self, text: str) -> None:
        self.status.setText(text)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()

    def _set_range_visible(self, visible: bool) -> None:
        for widget in (self.range_label, self.range_start, self.range_to, self.range_stop):
            widget.setVisible(visible)

    def _set_progress_visible(self, visible: bool) -> None:
        self.progress.setVisible(visible)
        self.cancel.setVisible(visible)

    def _set_roi_controls_visible(self, visible: bool) -> None:
        for widget in (self.roi_label, self.roi_source, self.roi_mode):
            widget.setVisible(visible)

    def shutdown(self) -> None:
        """Stop playback, cancel reads and projections, stop following the cursor."""
        self._unsubscribe()
        self._unsubscribe = lambda: None
        if self.player is not None:
            self.player.close()
        if self.video_view is not None:
            self.video_view.shutdown()
        super().shutdown()
