"""Spectra of the visible window: Welch PSD per channel and a spectrogram of one channel.

The numbers come from :mod:`ndviewer.core.signal.spectral`, computed on a worker thread by
:func:`compute_spectra`; :class:`SpectralView` only draws them, and :class:`SpectraPane` puts
it beside the traces and asks for the spectra of the trace panel's window.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from ndviewer.core.nwb.timeseries import TimeSeriesSource, unit_symbol
from ndviewer.core.signal.spectral import spectrogram, welch_psd
from ndviewer.gui.panels.traces.state import TraceState
from ndviewer.gui.workers import WorkerPool

__all__ = ["SpectraPane", "SpectraResult", "SpectralView", "compute_spectra"]

#: At most this many values (samples × channels) are read for one PSD.
MAX_SPECTRAL_VALUES = 16_000_000


@dataclass(frozen=True)
class SpectraResult:
    """PSD of the page's channels and the spectrogram of one of them."""

    channels: tuple[int, ...]
    labels: tuple[str, ...]
    freqs: np.ndarray
    psd: np.ndarray  # (freqs, channels)
    spec_channel: int
    spec_freqs: np.ndarray
    spec_times: np.ndarray  # session seconds
    sxx: np.ndarray  # (freqs, segments)
    unit: str
    seconds: float  # length of data analysed


def compute_spectra(
    source: TimeSeriesSource,
    t0: float,
    t1: float,
    channels: list[int],
    spec_channel: int,
    cancelled=lambda: False,
) -> SpectraResult | None:
    """Read the window's raw samples (bounded) and compute PSDs and one spectrogram.

    Returns None for series without a regular sampling rate (Welch needs one).
    """
    rate = source.time_axis.rate
    if rate is None or not channels:
        return None
    i0, i1 = source.time_axis.window(t0, t1)
    limit = max(256, MAX_SPECTRAL_VALUES // max(1, len(channels)))
    i1 = min(i1, i0 + limit)
    n = i1 - i0
    if n < 16:
        return None
    nperseg = int(min(n, max(256, 2 ** math.floor(math.log2(max(n / 8, 1))))))
    nperseg = min(nperseg, 1 << 16)
    psds = []
    freqs = np.empty(0)
    for k in range(0, len(channels), 16):  # a few channels at a time: bounded memory
        if cancelled():
            return None
        batch = np.asarray(channels[k : k + 16])
        values = source.read_physical(i0, i1, batch)
        freqs, psd = welch_psd(values, rate, nperseg)
        psds.append(psd)
    values = source.read_physical(i0, i1, np.array([spec_channel]))[:, 0]
    seg = int(min(4096, max(64, 2 ** math.floor(math.log2(max(n / 64, 1))))))
    seg = min(seg, n)
    sfreqs, stimes, sxx = spectrogram(values, rate, seg)
    return SpectraResult(
        tuple(channels),
        tuple(source.channels[c].label for c in channels),
        freqs,
        np.concatenate(psds, axis=1),
        spec_channel,
        sfreqs,
        stimes + source.time_axis.time_of(i0),
        sxx,
        source.unit,
        n / rate,
    )


class SpectralView(QWidget):
    """PSD plot (one curve per channel of the page) above a spectrogram of one channel."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Spectrum of the visible window")
        self.psd_plot = pg.PlotWidget(background="#ffffff")
        self.psd_plot.setLogMode(x=False, y=True)
        # powers of ten on a log axis, the unit in the title: an SI prefix on the axis read
        # "(x1e-06)" where V²/Hz was meant
        self.psd_plot.getAxis("left").enableAutoSIPrefix(False)
        self.psd_plot.setLabel("bottom", "frequency", units="Hz")
        self.psd_plot.showGrid(x=True, y=True, alpha=0.2)
        self.spec_plot = pg.PlotWidget(background="#ffffff")
        self.spec_plot.setLabel("bottom", "time", units="s")
        self.spec_plot.setLabel("left", "frequency", units="Hz")
        self.spec_image = pg.ImageItem()
        self.spec_image.setColorMap(pg.colormap.get("viridis"))
        self.spec_plot.addItem(self.spec_image)
        self.colorbar = pg.ColorBarItem(
            colorMap=pg.colormap.get("viridis"), interactive=False, width=12
        )
        self.colorbar.setImageItem(self.spec_image, insert_in=self.spec_plot.getPlotItem())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.psd_plot, 1)
        layout.addWidget(self.spec_plot, 1)
        self.result: SpectraResult | None = None

    def show_result(self, result: SpectraResult | None) -> None:
        """Draw ``result`` (None: say the series has no spectrum)."""
        self.result = result
        self.psd_plot.clear()
        if result is None:
            self.title.setText("No spectrum: the series needs a sampling rate and 16+ samples.")
            self.spec_image.clear()
            return
        unit = f"{unit_symbol(result.unit)}²/Hz" if result.unit else "unit²/Hz"
        self.title.setText(
            f"Welch PSD of {result.seconds:.3g} s ({unit}); spectrogram of channel "
            f"{result.labels[result.channels.index(result.spec_channel)]}"
            if result.spec_channel in result.channels
            else f"Welch PSD of {result.seconds:.3g} s"
        )
        self.psd_plot.setLabel("left", f"PSD ({unit}, log)")
        keep = result.freqs > 0
        for k in range(min(result.psd.shape[1], 64)):
            color = pg.intColor(
                k, hues=max(8, min(64, result.psd.shape[1])), values=1, maxValue=200
            )
            y = result.psd[keep, k]
            finite = np.isfinite(y) & (y > 0)
            if finite.any():
                self.psd_plot.plot(result.freqs[keep][finite], y[finite], pen=pg.mkPen(color))
        sxx = result.sxx
        if sxx.size:
            with np.errstate(divide="ignore"):
                db = 10 * np.log10(np.where(sxx > 0, sxx, np.nan))
            finite = db[np.isfinite(db)]
            levels = (
                (float(np.percentile(finite, 5)), float(np.percentile(finite, 99.5)))
                if finite.size
                else (0.0, 1.0)
            )
            self.spec_image.setImage(np.nan_to_num(db, nan=levels[0]).T, levels=levels)
            self.colorbar.setLevels(levels)
            self.colorbar.axis.setLabel(f"dB re 1 {unit}")
            t0 = float(result.spec_times[0]) if result.spec_times.size else 0.0
            dt = (
                float(result.spec_times[1] - result.spec_times[0])
                if result.spec_times.size > 1
                else 1.0
            )
            df = (
                float(result.spec_freqs[1] - result.spec_freqs[0])
                if result.spec_freqs.size > 1
                else 1.0
            )
            self.spec_image.setRect(t0 - dt / 2, -df / 2, dt * sxx.shape[1], df * sxx.shape[0])
            self.spec_plot.autoRange()


class SpectraPane(QObject):
    """The spectra beside the traces, in the right part of ``splitter``.

    The view is built on first use: its plots cost a fifth of the trace panel's
    construction, which the first paint waits for. The spectrogram is of the highlighted
    channel when it is on the page, else of the page's first channel.

    Parameters
    ----------
    state
        The trace panel's state (source, window, page and highlight are read).
    splitter
        Holds the traces on the left.
    pool, job_key
        The panel's worker pool and its job-key maker.
    on_error
        Called with the exception when the spectra cannot be computed.
    parent
        The trace panel (the view's first parent; its width splits the splitter).
    """

    def __init__(
        self,
        state: TraceState,
        splitter: QSplitter,
        pool: WorkerPool,
        job_key: Callable[[str], str],
        on_error: Callable[[Exception], None],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self._splitter = splitter
        self._pool = pool
        self._job_key = job_key
        self._on_error = on_error
        self._panel = parent
        self._view: SpectralView | None = None

    @property
    def view(self) -> SpectralView:
        """The spectra widget (built, hidden, on first access)."""
        if self._view is None:
            self._view = SpectralView(self._panel)
            self._view.hide()
            self._splitter.addWidget(self._view)
            self._splitter.setStretchFactor(1, 1)
        return self._view

    def set_visible(self, on: bool) -> None:
        """Show the pane (a quarter of the width) and compute its spectra, or hide it."""
        if not on and self._view is None:
            return
        self.view.setVisible(on)
        if on:
            width = self._panel.width()
            self._splitter.setSizes([3 * width // 4, width // 4])
            self.request()

    def request(self) -> None:
        """Compute the spectra of the visible window and page on a worker, then draw them."""
        src = self.state.source
        if src is None:
            return
        t0, t1 = self.state.window
        channels = self.state.page_channels
        highlight = self.state.highlight
        spec_channel = highlight if highlight in channels else channels[0]

        def job(token):
            return compute_spectra(src, t0, t1, channels, spec_channel, lambda: token.cancelled)

        self._pool.submit(self._job_key("spectra"), job, self.view.show_result, self._on_error)
