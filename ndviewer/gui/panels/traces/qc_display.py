"""Channel QC in the trace panel: dead, saturated and noisy channels, flagged where one looks.

QC reads a bounded window of stored values from the start of the visible window, on a worker
and only once the user pauses (:data:`QC_IDLE_MS` after a frame), never against the frames
being drawn. The flagged channels are summed up in red in the controls and marked on their
lane labels, which this module writes (every lane that fits, and every flagged one).

QC runs only on series it suits (electrophysiology, ``spec/channel_qc.json``): a position
trace parked at the arena's wall or a constant stimulus is data, not a broken channel. The
summary names channels ("QC: ch 7 dead · ch 21 saturated"): bare numbers read as counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QLabel

from ndviewer.core.nwb.timeseries import TimeSeriesSource
from ndviewer.core.signal.channel_qc import ChannelQC, channel_qc
from ndviewer.gui.panels.traces.plot_view import PlotGeometry
from ndviewer.gui.panels.traces.state import TraceState
from ndviewer.gui.workers import WorkerPool

__all__ = ["ChannelQcDisplay", "qc_snapshot"]

QC_IDLE_MS = 1500  # quiet time after the last frame before channel QC reads its window
_SHORT = {"dead": "dead", "saturated": "sat", "noisy": "noisy", "line_noise": "line", "bad": "bad"}


def qc_snapshot(
    source: TimeSeriesSource, t0: float, t1: float, max_values: int = 600_000
) -> ChannelQC:
    """Channel QC on stored values from the start of ``[t0, t1]`` (bounded read)."""
    i0, i1 = source.time_axis.window(t0, t1)
    i1 = max(i1, min(source.n_samples, i0 + 2))
    i1 = min(i1, i0 + max(64, max_values // max(1, source.n_channels)))
    return channel_qc(source.read(i0, i1))


class ChannelQcDisplay(QObject):
    """Runs channel QC for the panel and shows it in ``label`` and on the lane labels.

    Parameters
    ----------
    state
        The panel's state (source, window and channel page are read).
    label
        The red summary line in the controls.
    plot, geometry
        The traces' plot, whose left axis holds the lane labels, and its size in pixels.
    pool, job_key
        The panel's worker pool and its job-key maker.
    on_error
        Called with the exception when the QC read fails.

    Attributes
    ----------
    result : ChannelQC or None
        The last QC, None until one ran.
    """

    def __init__(
        self,
        state: TraceState,
        label: QLabel,
        plot: pg.PlotItem,
        geometry: PlotGeometry,
        pool: WorkerPool,
        job_key: Callable[[str], str],
        on_error: Callable[[Exception], None],
        parent: QObject,
        enabled: bool = True,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.label = label
        self._plot = plot
        self._geometry = geometry
        self._pool = pool
        self._job_key = job_key
        self._on_error = on_error
        self.enabled = enabled
        self.result: ChannelQC | None = None
        # the whole-recording QC (``qc_strip``), once it has run: its verdicts win
        self.external: Callable[[int], str] | None = None
        label.setStyleSheet("color: #c0392b; font-weight: bold;")
        label.setToolTip(
            "Channel QC on the start of the visible window: dead = flat, saturated = samples "
            "piled at the dtype's rail or on a flat plateau at the extreme, noisy = robust SD "
            "> 5× the median channel's. Press Auto to recheck the window on screen."
        )
        self._timer = QTimer(self, singleShot=True, interval=QC_IDLE_MS)
        self._timer.timeout.connect(self.check)

    def frame_shown(self) -> None:
        """A frame is on screen: run the first QC once the user pauses."""
        if self.result is None and self.enabled:
            self._timer.start()

    def check(self) -> None:
        """Flag dead, saturated and noisy channels on the start of the visible window."""
        source = self.state.source
        if source is None or source.n_samples == 0 or not self.enabled:
            return
        t0, t1 = self.state.window

        def job(token) -> ChannelQC:
            return qc_snapshot(source, t0, t1)

        def done(qc: ChannelQC) -> None:
            self.result = qc
            flagged = [(c, qc.label(c)) for c in range(len(qc.spread)) if qc.label(c)]
            names = source.channels
            text = " · ".join(f"ch {names[c].label} {label}" for c, label in flagged[:6])
            more = f" · +{len(flagged) - 6} more" if len(flagged) > 6 else ""
            self.label.setText(f"QC: {text}{more}" if flagged else "")
            self.update_axis()

        self._pool.submit(self._job_key("qc"), job, done, self._on_error)

    def flag(self, channel: int) -> str:
        """``"dead"``, ``"saturated"``, ``"noisy"`` or ``""`` for one channel (the
        whole-recording QC's verdict once there is one)."""
        if self.external is not None:
            return self.external(channel)
        qc = self.result
        return qc.label(channel) if qc is not None and channel < len(qc.spread) else ""

    def lane_label(self, channel: int) -> str:
        """The channel's label, with its flag shortened after it."""
        flag = self.flag(channel)
        label = self.state.source.channels[channel].label
        return f"{label} {_SHORT[flag]}" if flag else label

    def update_axis(self) -> None:
        """Label the page's lanes on the left axis: as many as fit, and every flagged one."""
        source = self.state.source
        if source is None:
            return
        channels = self.state.page_channels
        height = self._geometry.pixels()[1] / self._geometry.ratio()
        step = max(1, math.ceil(len(channels) / max(1.0, height / 14)))
        ticks = [
            (-k, self.lane_label(c))
            for k, c in enumerate(channels)
            if k % step == 0 or self.flag(c)
        ]
        self._plot.getAxis("left").setTicks([ticks, []])
        # what a lane is: an electrode, an ROI (ROI traces once said "electrode"), a
        # coordinate or a plain column
        self._plot.setLabel("left", getattr(source, "channel_kind", "channel"))

    def stop(self) -> None:
        self._timer.stop()
