"""Signal QC maths (``core.signal.recording_qc``) on in-memory recordings with planted defects
and on their clean twins, and the sampling budget on a long recording."""

from __future__ import annotations

import numpy as np
import pytest

from ndviewer.core.signal.recording_qc import (
    QcCancelled,
    QcSettings,
    plan_windows,
    recording_qc,
)
from tests.core import qc_fixtures as fx


def _qc(data: np.ndarray, **kwargs):
    return recording_qc(
        lambda a, b: data[a:b],
        data.shape[0],
        data.shape[1],
        data.dtype,
        rate=kwargs.pop("rate", fx.RATE),
        scale=kwargs.pop("scale", fx.CONVERSION),
        **kwargs,
    )


def _flagged(result, name: str) -> list[int]:
    return np.flatnonzero(getattr(result, name)).tolist()


@pytest.fixture(scope="module")
def defective():
    return _qc(fx.defective_recording())


def test_every_planted_channel_defect_is_found_at_its_channel(defective):
    assert _flagged(defective, "dead") == [fx.FLAT]
    assert _flagged(defective, "saturated") == [fx.RAIL_CLIPPED, fx.PLATEAU_CLIPPED]
    assert _flagged(defective, "noisy") == [fx.NOISY]
    assert _flagged(defective, "line_noise") == list(fx.LINE_CHANNELS)
    assert set(defective.line_hz[list(fx.LINE_CHANNELS)]) == {60.0}


def test_planted_artefact_and_dropout_are_found_at_their_times(defective):
    found = [(a / fx.RATE, b / fx.RATE, reason) for a, b, reason in defective.bad_ranges]
    assert [reason for *_, reason in found] == ["artefact", "dropout"]
    (a0, a1, _), (d0, d1, _) = found
    # the planted artefact with its rise and decay, and at most ~10 ms more
    assert fx.ARTEFACT[0] - 0.01 <= a0 <= fx.ARTEFACT[0]
    assert fx.ARTEFACT[1] <= a1 <= fx.ARTEFACT[1] + 0.01
    assert (d0, d1) == pytest.approx(fx.DROPOUT, abs=1e-9)


def test_rms_is_in_physical_units(defective):
    data = fx.defective_recording()
    quiet = slice(0, int(3.9 * fx.RATE))  # before the artefact
    expected = data[quiet, 0].astype(float).std() * fx.CONVERSION
    assert defective.rms[0] == pytest.approx(expected, rel=0.05)
    assert 2e-6 < defective.rms[0] < 8e-6  # ~20 LSB of 0.195 µV
    assert defective.spread[fx.NOISY] > 6 * np.median(defective.spread)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_clean_twin_has_no_finding(seed):
    result = _qc(fx.clean_recording(seed))
    for name in ("dead", "saturated", "noisy", "line_noise"):
        assert _flagged(result, name) == [], name
    assert result.bad_ranges == []
    assert result.line_ratio.max() < 4  # far from the 10x threshold


def test_fifty_hz_mains_is_named():
    data = fx.clean_recording(4).astype(float)
    t = np.arange(data.shape[0]) / fx.RATE
    data[:, 5] += 10 * np.sin(2 * np.pi * 100.0 * t)  # 2nd harmonic of 50 Hz only
    result = _qc(np.round(data).astype(np.int16))
    assert _flagged(result, "line_noise") == [5]
    assert result.line_hz[5] == 50.0


def test_float_data_with_nan_channel_and_no_rate():
    rng = np.random.default_rng(0)
    data = rng.normal(0, 1e-5, (20_000, 6))
    data[:, 2] = np.nan
    data[:, 4] *= 40
    result = _qc(data, rate=None, scale=1.0)
    assert _flagged(result, "dead") == [2]
    assert _flagged(result, "noisy") == [4]
    assert not result.line_noise.any()


def test_one_channel_series():
    rng = np.random.default_rng(0)
    result = _qc(rng.normal(0, 20, (30_000, 1)).astype(np.int16))
    assert result.flags(0) == []


def test_long_recording_reads_under_five_percent_spread_over_it():
    """600 s at 2 kHz: the windows cover the whole span, are chunk aligned, < 5 % read."""
    rate, seconds, chunk = 2_000.0, 600, 2_000
    n = int(rate * seconds)
    rng = np.random.default_rng(5)
    block = rng.normal(0, 20, (chunk * 4, 8)).astype(np.int16)
    reads: list[tuple[int, int]] = []

    def read(a: int, b: int) -> np.ndarray:
        reads.append((a, b))
        return np.resize(block, (b - a, 8))

    result = recording_qc(read, n, 8, np.int16, rate=rate, chunk_rows=chunk)
    assert result.read_fraction < 0.05
    assert result.samples_read == sum(b - a for a, b in reads) * 8
    starts = [a for a, _ in reads]
    assert all(a % chunk == 0 for a in starts)
    assert starts[0] == 0 and reads[-1][1] >= n - chunk
    assert len(reads) >= 10
    assert not any(result.flags(c) for c in range(8))


def test_short_recording_is_read_whole():
    windows = plan_windows(100_000, 10_000.0, 10_000, QcSettings())
    assert windows[0] == (0, 10_000) and windows[-1][1] == 100_000 and len(windows) == 10


def test_cancel_between_windows_and_progress():
    data = fx.clean_recording(1)
    seen: list[tuple[int, int]] = []
    with pytest.raises(QcCancelled):
        _qc(data, progress=lambda k, n: seen.append((k, n)), cancelled=lambda: len(seen) >= 2)
    assert seen == [(1, 10), (2, 10)]
