"""The whole-session strip under the traces: activity over the recording, and the window.

It always spans the whole recording: per column, the peak-to-peak range of the page's median
channel, scaled so that the quietest columns sit at the bottom edge and the busiest near the
top, so changes of activity over a session stand out even on a busy recording. The shaded
region is the window on screen; dragging it moves the window.

A strip that cannot be drawn says so: a failed read (or a recording too long to read raw
whose overview cannot be cached) is logged by the pool, written across the strip and
announced with :attr:`SessionOverview.failed`, so the panel can offer a retry. It once
stayed blank because the job's error handler dropped the error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor

from ndviewer.core.signal.trace_raster import LaneLayout, rasterize_envelope, samples_to_columns
from ndviewer.gui.panels.traces.items import IndexedImageItem
from ndviewer.gui.panels.traces.pyramid import PyramidBuilder
from ndviewer.gui.panels.traces.state import TraceState
from ndviewer.gui.workers import WorkerPool

__all__ = ["SessionOverview"]

log = logging.getLogger(__name__)


class SessionOverview(QObject):
    """Draws the session strip in ``plot`` and keeps its region on the window.

    Attributes
    ----------
    plot : pyqtgraph.PlotItem
    image : IndexedImageItem
    region : pyqtgraph.LinearRegionItem
    shown : bool
        An envelope has been drawn (it is redrawn on resize from then on).

    Signals
    -------
    region_moved(float, float)
        The user dragged the window's region to ``[t0, t1]``.
    failed(str)
        The strip could not be drawn (the reason); :meth:`retry` tries again.
    drawn()
        The strip was drawn (a failure announced before is over).
    """

    region_moved = Signal(float, float)
    failed = Signal(str)
    drawn = Signal()

    def __init__(
        self,
        plot: pg.PlotItem,
        state: TraceState,
        pyramid: PyramidBuilder,
        pool: WorkerPool,
        job_key: Callable[[str], str],
        parent: QObject,
    ) -> None:
        super().__init__(parent)
        self.plot = plot
        self.state = state
        self._pyramid = pyramid
        self._pool = pool
        self._job_key = job_key
        self.shown = False
        self.error: str | None = None
        self._width = 64
        plot.getAxis("left").setStyle(showValues=False)
        plot.setMaximumHeight(70)
        self.image = IndexedImageItem([QColor("#55606e")])
        plot.addItem(self.image)
        self.region = pg.LinearRegionItem(
            brush=pg.mkBrush(232, 89, 12, 50), pen=pg.mkPen("#e8590c")
        )
        self.region.setZValue(10)
        self.region.sigRegionChangeFinished.connect(self._on_region)
        plot.addItem(self.region)
        self.message = pg.TextItem(color="#c0392b", anchor=(0, 0.5))
        self.message.setZValue(20)
        self.message.hide()
        plot.addItem(self.message, ignoreBounds=True)

    def show_window(self, t0: float, t1: float) -> None:
        """Put the region on ``[t0, t1]`` (without announcing a move)."""
        self.region.blockSignals(True)
        self.region.setRegion((t0, t1))
        self.region.blockSignals(False)

    def request(self, plot_width: int) -> None:
        """Whole-recording envelope (all page channels folded into one), ``plot_width``
        device pixels wide at least; asks for the pyramid when raw reads would be too long."""
        lod = self.state.lod
        if self.state.source is None or lod is None:
            return
        start, stop = self.state.bounds()
        channels = np.asarray(self.state.page_channels, dtype=np.int64)
        width = max(64, plot_width)
        self._width = width
        if lod.needs_pyramid(start, stop, channels.size, width):
            if not self._pyramid.key:
                self._fail(
                    "the recording is too long to read whole and its overview cannot be cached"
                )
                return
            self._pyramid.ensure()
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

        self._pool.submit(self._job_key("overview"), job, self._show, self._on_error)

    def retry(self) -> None:
        """Draw the strip again after a failure (the pyramid too, if that failed)."""
        self.error = None
        self.message.hide()
        self.request(self._width)

    def _on_error(self, exc: Exception) -> None:
        self._fail(str(exc) or type(exc).__name__)

    def _fail(self, reason: str) -> None:
        self.error = reason
        start, _stop = self.state.bounds()
        self.message.setText(f"Session strip not drawn: {reason}")
        self.message.setPos(start, 0.0)
        self.message.show()
        self.failed.emit(reason)

    def _show(self, result) -> None:
        try:
            self._draw(result)
        except Exception as exc:  # drawing runs on the GUI thread: report, never lose it
            log.exception("session strip could not be drawn")
            self._on_error(exc)

    def _draw(self, result) -> None:
        self.error = None
        self.message.hide()
        lo, hi, x0, dt = result
        height = max(8, int(self.plot.vb.sceneBoundingRect().height()) or 40)
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
        self.image.set_image(image, x0, x0 + dt * lo.size, -0.5, 0.5)
        start, stop = self.state.bounds()
        self.plot.setXRange(start, stop, padding=0)
        self.plot.setYRange(-0.5, 0.5, padding=0)
        self.shown = True
        self.drawn.emit()

    def _on_region(self) -> None:
        t0, t1 = self.region.getRegion()
        self.region_moved.emit(float(t0), float(t1))
