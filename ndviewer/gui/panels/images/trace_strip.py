"""A small plot under the picture with the selected ROI's trace and the current time.

Clicking an ROI shows its RoiResponseSeries column here at once (the image stays on screen);
"Open in trace panel" asks the main window to show the whole series in the trace panel at
the same time cursor.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class TraceStrip(QWidget):
    """The linked trace of one ROI.

    Signals
    -------
    open_requested(str)
        "Open in trace panel" pressed; carries the RoiResponseSeries path.
    time_picked(float)
        The user clicked in the plot: move the time cursor there.
    """

    open_requested = Signal(str)
    time_picked = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.series_path: str | None = None
        self.times = np.zeros(0)
        self.values = np.zeros(0)
        self.title = QLabel("")
        self.open_button = QPushButton("Open in trace panel")
        self.open_button.clicked.connect(self._on_open)
        self.plot = pg.PlotWidget(background="#ffffff")
        self.plot.setMinimumHeight(110)
        self.plot.setMaximumHeight(170)
        self.plot.setMenuEnabled(False)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.getAxis("bottom").setLabel("time", units="s")
        self.curve = self.plot.plot(pen=pg.mkPen("#1f5fae", width=1.2))
        self.cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen("#d62728", width=1.5))
        self.plot.addItem(self.cursor)
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.plot)

    def show_trace(
        self, series_path: str, label: str, times: np.ndarray, values: np.ndarray
    ) -> None:
        self.series_path = series_path
        self.times = np.asarray(times, dtype=np.float64)
        self.values = np.asarray(values, dtype=np.float64)
        self.title.setText(label)
        self.curve.setData(self.times, self.values)
        self.plot.enableAutoRange()
        self.setVisible(True)

    def set_time(self, t: float) -> None:
        self.cursor.setValue(t)

    def _on_open(self) -> None:
        if self.series_path:
            self.open_requested.emit(self.series_path)

    def _on_click(self, event) -> None:
        if not self.plot.sceneBoundingRect().contains(event.scenePos()):
            return
        point = self.plot.getPlotItem().vb.mapSceneToView(event.scenePos())
        self.time_picked.emit(float(point.x()))
