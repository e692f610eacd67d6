"""The image panel's controls: contrast (histogram, levels, gamma, colour map) and playback.

Widgets only: they hold no data. The panel feeds them (histogram counts, frame count, the
current frame) and listens to their signals.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ndviewer.gui.panels.images.contrast import ContrastSettings, gray_palette

#: Colour maps offered, by pyqtgraph name ("gray" is built in code).
COLORMAPS = ("gray", "viridis", "magma", "inferno", "plasma", "cividis", "turbo")
#: Auto-contrast percentile pairs offered.
PERCENTILES = {"0.5 – 99.5 %": (0.5, 99.5), "1 – 99 %": (1.0, 99.0), "min – max": (0.0, 100.0)}
#: Playback speeds (multiples of the recording rate); 0 = as fast as decoding allows.
SPEEDS = {"0.1×": 0.1, "0.25×": 0.25, "0.5×": 0.5, "1×": 1.0, "2×": 2.0, "4×": 4.0,
          "10×": 10.0, "max": 0.0}  # fmt: skip


def colormap_lut(name: str) -> np.ndarray:
    """``(256, 3)`` uint8 palette for a colour map name."""
    if name == "gray":
        return gray_palette()
    return pg.colormap.get(name).getLookupTable(nPts=256, alpha=False).astype(np.uint8)


class ContrastControls(QWidget):
    """Histogram with a draggable level range, level boxes, auto, gamma, invert, colour map.

    Signals
    -------
    settings_changed(object)
        New :class:`ContrastSettings` (levels, gamma, invert).
    colormap_changed(str)
        Another colour map was picked.
    auto_requested(float, float)
        "Auto" pressed: levels from these percentiles of the current picture, please.
    """

    settings_changed = Signal(object)
    colormap_changed = Signal(str)
    auto_requested = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._updating = False
        self.plot = pg.PlotWidget(background="#ffffff")
        self.plot.setMinimumHeight(110)
        self.plot.setMaximumHeight(150)
        self.plot.hideAxis("left")
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.getAxis("bottom").setStyle(tickLength=-4)
        self.curve = pg.PlotCurveItem(
            x=np.array([0.0, 1.0]),
            y=np.array([0.0]),
            stepMode="center",
            fillLevel=0,
            brush=(90, 110, 140, 120),
            pen=pg.mkPen("#4d5b70"),
        )
        self.plot.addItem(self.curve)
        self.region = pg.LinearRegionItem(values=(0, 1), brush=(255, 170, 0, 40))
        self.region.setZValue(10)
        self.plot.addItem(self.region)
        self.region.sigRegionChangeFinished.connect(self._on_region)

        self.low = self._spin()
        self.high = self._spin()
        self.gamma = QDoubleSpinBox()
        self.gamma.setRange(0.1, 5.0)
        self.gamma.setSingleStep(0.1)
        self.gamma.setDecimals(2)
        self.gamma.setValue(1.0)
        self.invert = QCheckBox("Invert")
        self.colormap = QComboBox()
        self.colormap.addItems(COLORMAPS)
        self.percentiles = QComboBox()
        self.percentiles.addItems(list(PERCENTILES))
        self.auto = QPushButton("Auto")
        self.auto.setToolTip("Set the levels from percentiles of the picture on screen")
        self.auto.clicked.connect(self._on_auto)
        for spin in (self.low, self.high, self.gamma):
            spin.editingFinished.connect(self._emit_settings)
        self.invert.toggled.connect(self._emit_settings)
        self.colormap.currentTextChanged.connect(self.colormap_changed)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Black", self.low)
        form.addRow("White", self.high)
        auto_row = QHBoxLayout()
        auto_row.addWidget(self.auto)
        auto_row.addWidget(self.percentiles, 1)
        form.addRow("", auto_row)
        form.addRow("Gamma", self.gamma)
        form.addRow("Colours", self.colormap)
        form.addRow("", self.invert)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel("<b>Contrast</b>")
        layout.addWidget(title)
        layout.addWidget(self.plot)
        layout.addLayout(form)
        layout.addStretch(1)

    @staticmethod
    def _spin() -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setRange(-1e12, 1e12)
        spin.setDecimals(3)
        spin.setKeyboardTracking(False)
        return spin

    def settings(self) -> ContrastSettings:
        return ContrastSettings(
            (self.low.value(), self.high.value()), self.gamma.value(), self.invert.isChecked()
        )

    def set_levels(self, low: float, high: float) -> None:
        """Show new levels (from auto contrast) without echoing a change per widget."""
        self._updating = True
        self.low.setValue(low)
        self.high.setValue(high)
        self.region.setRegion((low, high))
        self._updating = False
        self._emit_settings()

    def set_histogram(self, counts: np.ndarray, edges: np.ndarray) -> None:
        self.curve.setData(edges, counts.astype(np.float64))
        low, high = self.low.value(), self.high.value()
        span_lo = min(float(edges[0]), low)
        span_hi = max(float(edges[-1]), high)
        pad = 0.02 * (span_hi - span_lo or 1.0)
        self.plot.setXRange(span_lo - pad, span_hi + pad, padding=0)
        self.plot.setYRange(0, float(counts.max() or 1) * 1.05, padding=0)

    def _on_region(self) -> None:
        if self._updating:
            return
        low, high = self.region.getRegion()
        self._updating = True
        self.low.setValue(low)
        self.high.setValue(high)
        self._updating = False
        self._emit_settings()

    def _on_auto(self) -> None:
        self.auto_requested.emit(*PERCENTILES[self.percentiles.currentText()])

    def _emit_settings(self) -> None:
        if self._updating:
            return
        self._updating = True
        self.region.setRegion((self.low.value(), self.high.value()))
        self._updating = False
        self.settings_changed.emit(self.settings())


class PlaybackBar(QWidget):
    """Play/pause, step, frame slider with the frame's session time, speed, depth plane.

    Signals
    -------
    frame_requested(int)
        The user moved the slider or pressed a step button.
    play_toggled()
        Play/pause pressed.
    speed_changed(float)
        New speed (multiple of the recording rate, 0 = as fast as possible).
    plane_changed(int)
        New depth plane for volumetric frames.
    """

    frame_requested = Signal(int)
    play_toggled = Signal()
    speed_changed = Signal(float)
    plane_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        style = self.style()
        self._play_icon = style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay)
        self._pause_icon = style.standardIcon(QStyle.StandardPixmap.SP_MediaPause)
        self.play = self._button(self._play_icon, "Play / pause (Space)")
        self.back = self._button(
            style.standardIcon(QStyle.StandardPixmap.SP_MediaSeekBackward), "Previous frame (,)"
        )
        self.forward = self._button(
            style.standardIcon(QStyle.StandardPixmap.SP_MediaSeekForward), "Next frame (.)"
        )
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setMinimumWidth(160)
        self.slider.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.label = QLabel("")
        self.label.setMinimumWidth(190)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.speed = QComboBox()
        self.speed.addItems(list(SPEEDS))
        self.speed.setCurrentText("1×")
        self.speed.setToolTip("Playback speed (× the recording rate)")
        self.fps = QLabel("")
        self.fps.setMinimumWidth(64)
        self.plane_label = QLabel("z")
        self.plane = QSlider(Qt.Orientation.Horizontal)
        self.plane.setMaximumWidth(120)
        self.plane.setToolTip("Depth plane")
        self.plane_value = QLabel("0")

        self.play.clicked.connect(self.play_toggled)
        self.back.clicked.connect(lambda: self.frame_requested.emit(self.slider.value() - 1))
        self.forward.clicked.connect(lambda: self.frame_requested.emit(self.slider.value() + 1))
        self.slider.valueChanged.connect(self._on_slider)
        self.speed.currentTextChanged.connect(lambda t: self.speed_changed.emit(SPEEDS[t]))
        self.plane.valueChanged.connect(self._on_plane)
        self._quiet = False

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.play, self.back, self.forward):
            layout.addWidget(widget)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.speed)
        layout.addWidget(self.fps)
        for widget in (self.plane_label, self.plane, self.plane_value):
            layout.addWidget(widget)
        self.set_planes(1)

    @staticmethod
    def _button(icon, tip: str) -> QToolButton:
        button = QToolButton()
        button.setIcon(icon)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        return button

    def set_frame_count(self, n: int) -> None:
        self._quiet = True
        self.slider.setRange(0, max(0, n - 1))
        self._quiet = False
        movable = n > 1
        for widget in (self.play, self.back, self.forward, self.slider, self.speed):
            widget.setEnabled(movable)

    def set_planes(self, n: int) -> None:
        self.plane.setRange(0, max(0, n - 1))
        for widget in (self.plane_label, self.plane, self.plane_value):
            widget.setVisible(n > 1)

    def show_frame(self, index: int, caption: str) -> None:
        """Reflect the frame on screen without re-requesting it."""
        self._quiet = True
        self.slider.setValue(index)
        self._quiet = False
        self.label.setText(caption)

    def set_playing(self, playing: bool) -> None:
        self.play.setIcon(self._pause_icon if playing else self._play_icon)
        if not playing:
            self.fps.setText("")

    def set_fps(self, fps: float) -> None:
        self.fps.setText(f"{fps:.0f} fps")

    def _on_slider(self, value: int) -> None:
        if not self._quiet:
            self.frame_requested.emit(value)

    def _on_plane(self, value: int) -> None:
        self.plane_value.setText(str(value))
        self.plane_changed.emit(value)
