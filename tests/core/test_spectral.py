"""Welch PSD and spectrogram: checked against an explicit DFT written out in the test."""

from __future__ import annotations

import numpy as np
import pytest

from ndviewer.core.signal.spectral import hann, spectrogram, welch_psd


def reference_welch(x: np.ndarray, fs: float, nperseg: int, noverlap: int) -> np.ndarray:
    """Textbook Welch: periodic Hann, mean removed, |DFT|² density, one-sided, averaged."""
    k = np.arange(nperseg)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * k / nperseg)
    freqs = np.arange(nperseg // 2 + 1)
    dft = np.exp(-2j * np.pi * np.outer(freqs, k) / nperseg)
    step = nperseg - noverlap
    psds = []
    for s in range(0, len(x) - nperseg + 1, step):
        seg = x[s : s + nperseg] - x[s : s + nperseg].mean()
        p = np.abs(dft @ (seg * window)) ** 2 / (fs * np.sum(window**2))
        p[1:] *= 2
        if nperseg % 2 == 0:
            p[-1] /= 2
        psds.append(p)
    return np.mean(psds, axis=0)


@pytest.mark.parametrize(("nperseg", "noverlap"), [(64, 32), (101, 50), (128, 0)])
def test_welch_matches_reference(nperseg: int, noverlap: int) -> None:
    rng = np.random.default_rng(nperseg)
    x = rng.normal(size=(3000, 3))
    freqs, psd = welch_psd(x, 500.0, nperseg, noverlap)
    np.testing.assert_allclose(freqs, np.fft.rfftfreq(nperseg, 1 / 500.0))
    for c in range(3):
        np.testing.assert_allclose(psd[:, c], reference_welch(x[:, c], 500.0, nperseg, noverlap))


def test_welch_finds_a_sine_and_conserves_power() -> None:
    fs = 1000.0
    t = np.arange(20_000) / fs
    x = 3.0 * np.sin(2 * np.pi * 50.0 * t)
    freqs, psd = welch_psd(x, fs, nperseg=1000)
    assert freqs[np.argmax(psd)] == 50.0
    assert np.sum(psd) * (freqs[1] - freqs[0]) == pytest.approx(np.var(x), rel=1e-3)


def test_welch_skips_nan_segments_per_channel() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1024, 2))
    clean = welch_psd(x[:512, 0], 100.0, 128, 64)[1]
    x[600:700, 0] = np.nan
    x[:, 1] = np.nan
    _, psd = welch_psd(x, 100.0, 128, 64)
    # channel 0: segments starting at 0..384 are clean (7 of them); others touching NaN dropped
    starts = [s for s in range(0, 1024 - 128 + 1, 64) if s + 128 <= 600 or s >= 700]
    expected = np.mean([reference_welch(x[s : s + 128, 0], 100.0, 128, 0) for s in starts], 0)
    np.testing.assert_allclose(psd[:, 0], expected)
    assert clean.shape == expected.shape
    assert np.isnan(psd[:, 1]).all()


def test_spectrogram_segments_and_times() -> None:
    fs = 200.0
    t = np.arange(2000) / fs
    x = np.where(t < 5, np.sin(2 * np.pi * 10 * t), np.sin(2 * np.pi * 40 * t))
    freqs, times, sxx = spectrogram(x, fs, nperseg=100, noverlap=50)
    assert sxx.shape == (51, (2000 - 100) // 50 + 1)
    np.testing.assert_allclose(times, (np.arange(sxx.shape[1]) * 50 + 50) / fs)
    assert freqs[np.argmax(sxx[:, 2])] == 10.0
    assert freqs[np.argmax(sxx[:, -2])] == 40.0
    np.testing.assert_allclose(
        sxx[:, 3], reference_welch(x[150:250], fs, 100, 0), rtol=1e-9, atol=1e-12 * sxx.max()
    )


def test_hann_is_periodic_and_empty_input() -> None:
    np.testing.assert_allclose(hann(4), [0.0, 0.5, 1.0, 0.5])
    freqs, psd = welch_psd(np.empty((0, 2)), 10.0)
    assert freqs.size == 0 and psd.shape == (0, 2)
