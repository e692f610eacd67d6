"""The two rows of controls above the traces, wired to the trace panel's public API.

Row one moves through time and channels (go to, window length, channel choice, channels per
page); row two scales the traces (gain, spacing, Auto), holds the channel QC summary and the
Overlays, Spectrum and Link switches. Two rows, so that the panel fits beside the tree on a
laptop screen. The boxes show the panel's state without echoing it back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QWidget,
)

from ndviewer.core.nwb.timeseries import TimeSeriesSource
from ndviewer.gui.menu_button import menu_button
from ndviewer.gui.panels.traces.state import MAX_CHANNELS

if TYPE_CHECKING:
    from ndviewer.gui.panels.traces.trace_panel import TracePanel

__all__ = ["ElidedLabel", "TraceControls"]


class ElidedLabel(QLabel):
    """A one-line label that gives up its width first: the text is cut with "…" to the room
    left over (the whole of it in the tooltip), so a long QC verdict never squeezes the
    controls beside it (the channel choice read "All channels (3" in a 1,500 px window)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full_text = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        self._full_text = text
        self.setToolTip(text)
        self._elide()

    def text(self) -> str:
        return self._full_text

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(
            self._full_text, Qt.TextElideMode.ElideRight, max(0, self.contentsRect().width())
        )
        super().setText(shown)


class TraceControls(QObject):
    """Builds the controls (as children of ``panel``) and keeps them in step with its state.

    Attributes
    ----------
    rows : tuple of QHBoxLayout
        The two rows, for the panel's layout.
    goto_box, length_box, gain_box, spacing_box : QDoubleSpinBox
    channel_combo : QComboBox
    page_box : QSpinBox
    page_label, qc_label : QLabel
    auto_button : QPushButton
    overlay_button : QPushButton
        Opens the Overlays menu.
    spectrum_button : QToolButton
    link_box : QCheckBox
    """

    def __init__(self, panel: TracePanel) -> None:
        super().__init__(panel)
        self._panel = panel
        state = panel.state

        def spin(decimals: int, lo: float, hi: float, suffix: str, tip: str) -> QDoubleSpinBox:
            box = QDoubleSpinBox(panel)
            box.setDecimals(decimals)
            box.setRange(lo, hi)
            box.setSuffix(suffix)
            box.setToolTip(tip)
            box.setKeyboardTracking(False)
            return box

        self.goto_box = spin(4, -1e9, 1e9, " s", "Go to time (session seconds)")
        self.goto_box.valueChanged.connect(lambda v: panel.go_to(v))
        self.length_box = spin(4, 1e-6, 1e7, " s", "Window length (seconds)")
        self.length_box.valueChanged.connect(self._on_length_box)
        self.channel_combo = QComboBox(panel)
        self.channel_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.channel_combo.setToolTip("Channels to show: all, or one electrode group/location")
        self.channel_combo.activated.connect(self._on_channel_combo)
        self.page_box = QSpinBox(panel)
        self.page_box.setRange(1, MAX_CHANNELS)
        self.page_box.setToolTip("Channels per page (↑/↓ change page)")
        self.page_box.setKeyboardTracking(False)
        self.page_box.valueChanged.connect(panel.set_page_size)
        self.page_label = QLabel(panel)
        self.gain_box = spin(3, 0.001, 10000, " ×", "Gain (Ctrl+wheel)")
        self.gain_box.setSingleStep(0.25)
        self.gain_box.valueChanged.connect(panel.set_gain)
        self.spacing_box = spin(3, 1e-9, 1e12, "", "Distance between lanes, physical units")
        self.spacing_box.valueChanged.connect(lambda v: panel.set_spacing(v / state.display_scale))
        self.auto_button = QPushButton("Auto", panel)
        self.auto_button.setToolTip("Baselines and spacing from the visible window (robust SD)")
        self.auto_button.clicked.connect(panel.auto_scale)
        self.overlay_button = menu_button("Overlays", panel)
        self.spectrum_button = QToolButton(panel)
        self.spectrum_button.setText("Spectrum")
        self.spectrum_button.setCheckable(True)
        self.spectrum_button.setToolTip("Welch PSD and spectrogram of the visible window")
        self.spectrum_button.toggled.connect(panel.show_spectra)
        self.clip_box = QCheckBox("Clip", panel)
        self.clip_box.setChecked(True)
        self.clip_box.setToolTip(
            "Cut each trace to its own lane, so a saturated or very loud channel does not "
            "hide the channels around it"
        )
        self.clip_box.toggled.connect(panel.set_clip_lanes)
        self.export_button = QToolButton(panel)
        self.export_button.setText("Export…")
        self.export_button.setToolTip(
            "Figure (PDF, SVG, PNG, clipboard) of this view or of the pinned time panels, "
            "or the visible window's samples (CSV, NPY, NPZ)"
        )
        self.export_button.clicked.connect(panel.open_export)
        self.link_box = QCheckBox("Link", panel)
        self.link_box.setChecked(True)
        self.link_box.setToolTip("Share the time window with the file's other time panels")
        self.link_box.toggled.connect(panel.set_linked)

        bar = QHBoxLayout()
        bar.setSpacing(6)
        for label, widget in (("Go to", self.goto_box), ("Window", self.length_box)):
            bar.addWidget(QLabel(label, panel))
            bar.addWidget(widget)
        bar.addSpacing(8)
        bar.addWidget(self.channel_combo)
        bar.addWidget(QLabel("per page", panel))
        bar.addWidget(self.page_box)
        bar.addWidget(self.page_label)
        bar.addSpacing(12)
        # the QC verdict sits on the first row, which has room: on the second it pushed the
        # Export and Link buttons out of a panel beside the tree in a 1,500 px window
        self.qc_label = ElidedLabel(panel)  # filled by the panel's channel QC
        bar.addWidget(self.qc_label, 1)  # takes the rest of the row, and gives it up first
        display = QHBoxLayout()
        display.setSpacing(6)
        display.addWidget(QLabel("Gain", panel))
        display.addWidget(self.gain_box)
        display.addWidget(QLabel("Spacing", panel))
        display.addWidget(self.spacing_box)
        display.addWidget(self.auto_button)
        display.addWidget(self.clip_box)
        display.addStretch(1)
        display.addWidget(self.overlay_button)
        display.addWidget(self.spectrum_button)
        display.addWidget(self.export_button)
        display.addWidget(self.link_box)
        self.rows = (bar, display)

    def update(self) -> None:
        """Show the panel's window, scaling and channel page (without emitting changes)."""
        state = self._panel.state
        if state.source is None:
            return
        t0, t1 = state.window
        for box, value in (
            (self.goto_box, t0),
            (self.length_box, t1 - t0),
            (self.gain_box, state.gain),
            (self.spacing_box, state.spacing * state.display_scale),
        ):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)
        self.spacing_box.setSuffix(f" {state.display_unit}" if state.display_unit else "")
        if self.page_box.value() != state.page_size:
            self.page_box.blockSignals(True)
            self.page_box.setValue(state.page_size)
            self.page_box.blockSignals(False)
        n = state.selection.size
        first = state.page_start + 1
        last = min(n, state.page_start + state.page_size)
        self.page_label.setText(f"{first}–{last} of {n}")

    def fill_channels(self, src: TimeSeriesSource) -> None:
        """Offer all channels and each electrode group (and location, when several)."""
        self.channel_combo.clear()
        self.channel_combo.addItem(f"All channels ({src.n_channels})", ("all", None))
        for kind in ("group", "location"):
            values = sorted({getattr(c, kind) for c in src.channels if getattr(c, kind)})
            if len(values) > 1 or (values and kind == "group"):
                for value in values:
                    count = sum(1 for c in src.channels if getattr(c, kind) == value)
                    self.channel_combo.addItem(f"{kind}: {value} ({count})", (kind, value))

    def set_page_range(self, n_channels: int, page_size: int) -> None:
        """Allow 1 to ``n_channels`` per page, showing ``page_size``."""
        self.page_box.blockSignals(True)
        self.page_box.setRange(1, max(1, n_channels))
        self.page_box.setValue(page_size)
        self.page_box.blockSignals(False)

    def set_enabled(self, enabled: bool) -> None:
        """Enable the controls that need data (Overlays and Link are handled elsewhere)."""
        for widget in (
            self.goto_box,
            self.length_box,
            self.channel_combo,
            self.page_box,
            self.gain_box,
            self.spacing_box,
            self.auto_button,
            self.spectrum_button,
            self.export_button,
        ):
            widget.setEnabled(enabled)

    def _on_channel_combo(self, row: int) -> None:
        kind, value = self.channel_combo.itemData(row)
        self._panel.select_channels(kind, value)

    def _on_length_box(self, value: float) -> None:
        t0 = self._panel.state.window[0]
        self._panel.set_window(t0, t0 + value)
