"""One look for the analysis plots (units, PSTH): white background, dark axes, quiet grid."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

#: Spikes on white: light count (1) is already clearly visible, dense pixels get darker.
RASTER_COLORS = ((255, 255, 255), (110, 130, 160), (13, 27, 52))
CURSOR_COLOR = "#d62728"
SELECTION_COLOR = (255, 196, 0, 60)
#: Group colours (colour-blind friendly, Okabe-Ito without yellow).
GROUP_COLORS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#56b4e9", "#e69f00", "#000000"]


def make_plot(
    title: str = "",
    x_label: str = "",
    x_units: str | None = None,
    y_label: str = "",
    y_units: str | None = None,
    x_si_prefix: bool = True,
) -> pg.PlotWidget:
    """A PlotWidget in the shared style.

    ``x_si_prefix=False`` keeps a session-time axis in plain seconds (not "ks").
    """
    plot = pg.PlotWidget(background="#ffffff")
    plot.setMenuEnabled(False)
    plot.showGrid(x=True, y=True, alpha=0.12)
    item = plot.getPlotItem()
    item.hideButtons()
    if title:
        item.setTitle(title, color="#1d2731", size="10pt")
    for name, label, units in (("bottom", x_label, x_units), ("left", y_label, y_units)):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen("#5d6d7e"))
        axis.setTextPen(pg.mkPen("#1d2731"))
        if label:
            axis.setLabel(label, units=units)
    plot.getAxis("bottom").enableAutoSIPrefix(x_si_prefix)
    return plot


def raster_lookup_table(n: int = 256) -> np.ndarray:
    """LUT for spike-count images: 0 white, then from a mid tone to near black."""
    low, mid, high = (np.array(c, dtype=float) for c in RASTER_COLORS)
    lut = np.empty((n, 3), dtype=np.uint8)
    lut[0] = low
    steps = np.linspace(0.0, 1.0, n - 1)[:, None]
    lut[1:] = np.round(mid + (high - mid) * steps).astype(np.uint8)
    return lut


def group_color(k: int) -> QColor:
    return QColor(GROUP_COLORS[k % len(GROUP_COLORS)])
