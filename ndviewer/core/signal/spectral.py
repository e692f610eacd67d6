"""Power spectra of a visible window: Welch PSD per channel and a spectrogram of one channel.

Plain numpy (no scipy in the app). Conventions follow ``scipy.signal.welch`` defaults so that
numbers match what users compute elsewhere: periodic Hann window, constant detrend, 50 %
overlap, one-sided density in unit²/Hz (``2 |X|² / (fs Σw²)``, DC and Nyquist not doubled),
averaged with the mean over segments. Segments containing NaN are skipped (per channel).
"""

from __future__ import annotations

import numpy as np

__all__ = ["hann", "spectrogram", "welch_psd"]


def hann(n: int) -> np.ndarray:
    """Periodic Hann window of ``n`` points (the one spectral estimators use)."""
    if n <= 1:
        return np.ones(max(n, 0))
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def _segments(n: int, nperseg: int, noverlap: int) -> np.ndarray:
    step = nperseg - noverlap
    if step <= 0:
        raise ValueError(f"overlap ({noverlap}) must be smaller than the segment ({nperseg})")
    return np.arange(0, n - nperseg + 1, step)


_BATCH_BYTES = 32 << 20


def _iter_periodograms(x: np.ndarray, fs: float, nperseg: int, noverlap: int):
    """Yield ``(first_segment, P[seg, freq, ch])`` batches of one-sided density periodograms.

    Segments are processed a few megabytes at a time, so memory does not grow with the
    window; segments containing NaN come out as NaN.
    """
    window = hann(nperseg)
    starts = _segments(x.shape[0], nperseg, noverlap)
    scale = 1.0 / (fs * np.sum(window**2))
    views = np.lib.stride_tricks.sliding_window_view(x, nperseg, axis=0)  # (n-L+1, ch, L)
    per_segment = max(1, x.shape[1] * nperseg * 16)
    batch = max(1, _BATCH_BYTES // per_segment)
    for k in range(0, starts.size, batch):
        seg = views[starts[k : k + batch]].astype(np.float64)  # (b, ch, L)
        seg -= seg.mean(axis=2, keepdims=True)
        spec = np.fft.rfft(seg * window, axis=2)
        power = (spec.real**2 + spec.imag**2) * scale
        if nperseg % 2 == 0:
            power[:, :, 1:-1] *= 2.0
        else:
            power[:, :, 1:] *= 2.0
        yield k, power.transpose(0, 2, 1)  # (b, freq, ch)


def welch_psd(
    x: np.ndarray,
    fs: float,
    nperseg: int | None = None,
    noverlap: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density.

    Parameters
    ----------
    x
        Samples ``(n,)`` or ``(n, channels)``.
    fs
        Sampling rate in Hz.
    nperseg
        Samples per segment; default ``min(n, 256)`` like scipy, more for long windows is the
        caller's choice (frequency resolution is ``fs / nperseg``).
    noverlap
        Overlap between segments; default half a segment.

    Returns
    -------
    freqs, psd
        ``(nfreq,)`` frequencies and ``(nfreq,)`` or ``(nfreq, channels)`` densities. A channel
        whose every segment holds NaN gets NaN.
    """
    x = np.asarray(x)
    one = x.ndim == 1
    x2 = x[:, None] if one else x.reshape(x.shape[0], int(np.prod(x.shape[1:])))
    n = x2.shape[0]
    if n == 0:
        empty = np.empty((0,) if one else (0, x2.shape[1]))
        return np.empty(0), empty
    nperseg = min(n, nperseg or 256)
    noverlap = nperseg // 2 if noverlap is None else noverlap
    freqs = np.fft.rfftfreq(nperseg, 1.0 / fs)
    total = np.zeros((freqs.size, x2.shape[1]))
    count = np.zeros(x2.shape[1])
    for _, power in _iter_periodograms(x2, fs, nperseg, noverlap):
        finite = np.isfinite(power).all(axis=1)  # (b, ch): segment usable for this channel
        total += np.where(finite[:, None, :], power, 0.0).sum(axis=0)
        count += finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        psd = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return freqs, psd[:, 0] if one else psd


def spectrogram(
    x: np.ndarray,
    fs: float,
    nperseg: int = 256,
    noverlap: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Density spectrogram of one channel.

    Returns
    -------
    freqs, times, sxx
        ``(nfreq,)``, ``(nseg,)`` segment-centre times in seconds from ``x[0]``, and
        ``(nfreq, nseg)`` densities (NaN for segments containing NaN).
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    nperseg = max(1, min(x.size, nperseg))
    noverlap = nperseg // 2 if noverlap is None else noverlap
    if x.size == 0:
        return np.empty(0), np.empty(0), np.empty((0, 0))
    freqs = np.fft.rfftfreq(nperseg, 1.0 / fs)
    starts = _segments(x.size, nperseg, noverlap)
    sxx = np.empty((freqs.size, starts.size))
    for k, power in _iter_periodograms(x[:, None], fs, nperseg, noverlap):
        sxx[:, k : k + power.shape[0]] = power[:, :, 0].T
    times = (starts + nperseg / 2.0) / fs
    return freqs, times, sxx
