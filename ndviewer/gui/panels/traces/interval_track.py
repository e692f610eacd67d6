"""The interval track under the traces: one row of solid bars per shown TimeIntervals table.

Behind 384 stacked channels the traces cover the translucent bands of trials entirely (every
lane is a pixel or two high), so the same intervals are also drawn here, opaque, one row per
table, named on the left, on the traces' time axis.
"""

from __future__ import annotations

import pyqtgraph as pg

from ndviewer.gui.panels.traces.items import Band, BandsItem

__all__ = ["IntervalTrack"]

#: Height of one table's row (pixels).
ROW_PX = 14


class IntervalTrack:
    """Owns a strip plot (time-linked by the caller) and its rows of bars."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        self._items: list[BandsItem] = []
        self._names: list[str] = []
        plot.hideAxis("bottom")
        plot.hide()

    @property
    def rows(self) -> dict[str, list[Band]]:
        """The shown tables' bars, by table name."""
        return {name: item.bands for name, item in zip(self._names, self._items, strict=False)}

    def reserve(self, n: int) -> None:
        """Size the strip for ``n`` rows now (hidden for none), so that the traces above keep
        their height when the tables arrive."""
        self.plot.setVisible(n > 0)
        if n:
            height = ROW_PX * n + 4
            self.plot.setMinimumHeight(height)
            self.plot.setMaximumHeight(height)
            self.plot.setYRange(0.5 - n, 0.5, padding=0)

    def set_rows(self, rows: list[tuple[str, list[Band]]]) -> None:
        """Show ``(table name, bars)`` rows, top to bottom."""
        while len(self._items) < len(rows):
            item = BandsItem()
            self.plot.addItem(item)
            self._items.append(item)
        for k, item in enumerate(self._items):
            item.set_bands(rows[k][1] if k < len(rows) else [], -k - 0.38, -k + 0.38)
        self._names = [name for name, _ in rows]
        wanted_height = ROW_PX * len(rows) + 4
        if self.plot.isVisible() != bool(rows) or (
            rows and self.plot.maximumHeight() != wanted_height
        ):
            self.reserve(len(rows))
        self.plot.getAxis("left").setTicks([[(-k, name) for k, name in enumerate(self._names)], []])
