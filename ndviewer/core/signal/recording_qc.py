"""Signal QC of a whole multichannel recording from windows sampled across it.

A lab asks "which channels are broken, and which stretches are unusable?" before spike
sorting hours of data. Reading a 600 s Neuropixels file (14 GB) to answer would take minutes,
while the answer is stable over time: a dead or noisy channel is so everywhere. So QC reads a
few dozen windows spread evenly over the recording (aligned to the storage chunks so no chunk
is decoded for a sliver; by default about 3 % of the samples, everything when the recording is
short) and aggregates per-window statistics:

- RMS of each channel (mean removed, physical units): the noise level labs quote;
- dead: flat (max == min) in most windows, or a robust spread under ``DEAD_FACTOR`` of the
  median channel's (a disconnected input reads almost nothing);
- saturated: clipped, as :mod:`channel_qc` defines it (a pile of samples at the dtype's rails,
  or a plateau at a repeated extreme far heavier than its shoulder), in at least
  ``SATURATED_WINDOWS`` of the windows;
- noisy: a robust outlier vs the other channels (log of the MAD-based spread more than
  ``NOISY_MADS`` robust deviations above the median channel, and at least ``NOISY_FACTOR`` ×);
- line noise: a Welch spectrum per channel (0.5 s Hann segments) whose power at 50 or 60 Hz or
  their 2nd/3rd harmonic stands ``LINE_RATIO`` × above the local floor;
- bad time ranges shared by the channels: *artefacts* (at least ``ARTEFACT_SHARE`` of the live
  channels beyond ``ARTEFACT_SPREADS`` robust spreads at the same sample) and *dropouts*
  (every channel exactly zero for at least ``DROPOUT_MIN_SECONDS``); artefacts get
  ``ARTEFACT_PAD_SECONDS`` either side for their rise and decay. Bad ranges are excluded
  from the channel statistics. They are found only inside the windows read: the result says
  which fraction of the recording that is.

Pure numpy over a ``read(i0, i1)`` callable: no NWB, no h5py, no Qt. Cancellable between
windows; ``progress(done, total)`` is called after each.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ndviewer.core.errors import NdviewerError
from ndviewer.core.signal.channel_qc import MIN_PILE, PILE_FACTOR, SATURATED_SHARE, SHOULDER_SPREADS

__all__ = [
    "ARTEFACT",
    "DROPOUT",
    "QcCancelled",
    "QcSettings",
    "RecordingQC",
    "plan_windows",
    "recording_qc",
]

ARTEFACT = "artefact"
DROPOUT = "dropout"

DEAD_FACTOR = 0.05
DEAD_WINDOWS = 0.5
SATURATED_WINDOWS = 0.25
NOISY_FACTOR = 3.0
NOISY_MADS = 6.0
LINE_RATIO = 10.0
MAINS = (50.0, 60.0)
HARMONICS = 3
ARTEFACT_SPREADS = 10.0
ARTEFACT_SHARE = 0.5
#: Artefact samples closer than this are one range (an artefact's waveform crosses zero).
ARTEFACT_GAP_SECONDS = 0.01
#: Margin added on both sides of an artefact's beyond-threshold samples.
ARTEFACT_PAD_SECONDS = 0.005
DROPOUT_MIN_SECONDS = 0.001
#: Rows used for the per-window median and MAD (every k-th row): plenty for a robust spread.
SPREAD_ROWS = 4096

#: Channels whose statistics are computed together (see ``_analyse_window``).
QC_BAND_CHANNELS = 64


class QcCancelled(NdviewerError):
    """The user stopped QC; nothing was concluded."""


@dataclass(frozen=True)
class QcSettings:
    """How much of the recording QC reads.

    ``fraction`` of the samples, but at least ``min_seconds`` of them (all of a short
    recording), in windows of ``window_seconds`` (the storage chunk length when it is close),
    at most ``max_windows`` of them.
    """

    fraction: float = 0.03
    min_seconds: float = 20.0
    window_seconds: float = 1.0
    max_windows: int = 200


@dataclass
class RecordingQC:
    """What QC concluded, per channel (arrays of length ``n_channels``) and in time.

    ``rms`` and ``spread`` are in physical units; ``line_hz`` is 50 or 60 where a channel has
    line noise, else 0. ``bad_ranges`` are ``(first sample, stop sample, reason)``, half-open.
    ``windows`` are the sample ranges read; ``samples_read`` counts rows × channels.
    """

    n_samples: int
    n_channels: int
    rms: np.ndarray
    spread: np.ndarray
    dead: np.ndarray
    saturated: np.ndarray
    noisy: np.ndarray
    line_noise: np.ndarray
    line_hz: np.ndarray
    line_ratio: np.ndarray
    bad_ranges: list[tuple[int, int, str]] = field(default_factory=list)
    windows: list[tuple[int, int]] = field(default_factory=list)
    samples_read: int = 0

    @property
    def read_fraction(self) -> float:
        """Share of the recording's samples that were read."""
        total = self.n_samples * self.n_channels
        return self.samples_read / total if total else 0.0

    def flags(self, channel: int) -> list[str]:
        """The channel's flags, from ``dead``, ``saturated``, ``noisy``, ``line_noise``."""
        names = []
        for name, mask in (
            ("dead", self.dead),
            ("saturated", self.saturated),
            ("noisy", self.noisy),
            ("line_noise", self.line_noise),
        ):
            if mask[channel]:
                names.append(name)
        return names


def plan_windows(
    n_samples: int, rate: float | None, chunk_rows: int | None, settings: QcSettings
) -> list[tuple[int, int]]:
    """Sample ranges to read: evenly spread, chunk-aligned, within the settings' budget."""
    if n_samples <= 0:
        return []
    rate = rate if rate and rate > 0 else 1000.0
    length = max(256, round(settings.window_seconds * rate))
    if chunk_rows and length / 4 <= chunk_rows <= 4 * length:
        length = int(chunk_rows)
    length = min(length, n_samples)
    budget = max(settings.min_seconds * rate, settings.fraction * n_samples)
    if budget >= n_samples or n_samples <= length:
        return [(s, min(s + length, n_samples)) for s in range(0, n_samples, length)]
    count = int(min(settings.max_windows, max(1, budget // length)))
    grid = int(chunk_rows) if chunk_rows and length % int(chunk_rows) == 0 else 1
    starts = np.linspace(0, n_samples - length, count)
    aligned = sorted({int(s // grid) * grid for s in starts})
    return [(s, min(s + length, n_samples)) for s in aligned]


def _runs(mask: np.ndarray, min_length: int = 1, max_gap: int = 0) -> list[tuple[int, int]]:
    """Half-open ``(start, stop)`` runs of True, gaps up to ``max_gap`` bridged."""
    if not mask.any():
        return []
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    runs = list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))
    merged: list[list[int]] = []
    for start, stop in runs:
        if merged and start - merged[-1][1] <= max_gap:
            merged[-1][1] = stop
        else:
            merged.append([start, stop])
    return [(a, b) for a, b in merged if b - a >= min_length]


@dataclass
class _Accumulator:
    n_channels: int
    rails: tuple[float, float] | None
    integer: bool
    windows: int = 0
    sum_sq: np.ndarray = None  # type: ignore[assignment]
    count: np.ndarray = None  # type: ignore[assignment]
    flat: np.ndarray = None  # type: ignore[assignment]
    clipped: np.ndarray = None  # type: ignore[assignment]
    spreads: list[np.ndarray] = field(default_factory=list)
    power: np.ndarray | None = None
    freqs: np.ndarray | None = None
    segments: int = 0

    def __post_init__(self) -> None:
        c = self.n_channels
        self.sum_sq = np.zeros(c)
        self.count = np.zeros(c)
        self.flat = np.zeros(c, dtype=np.int64)
        self.clipped = np.zeros(c, dtype=np.int64)


def _center_and_spread(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    step = max(1, x.shape[0] // SPREAD_ROWS)
    # channels × rows, contiguous: the median partitions each row in cache
    work_dtype = np.float64 if x.dtype == np.float64 else np.float32
    sub = np.ascontiguousarray(x[::step].T, dtype=work_dtype)
    if np.issubdtype(sub.dtype, np.floating) and not np.isfinite(sub).all():
        median = np.nanmedian(sub, axis=1)
        spread = 1.4826 * np.nanmedian(np.abs(sub - median[:, None]), axis=1)
    else:
        median = np.median(sub, axis=1)
        spread = 1.4826 * np.median(np.abs(sub - median[:, None]), axis=1)
    return np.nan_to_num(median).astype(np.float64), np.nan_to_num(spread).astype(np.float64)


def _clipped(
    work: np.ndarray, highs: np.ndarray, lows: np.ndarray, spread: np.ndarray, acc: _Accumulator
) -> np.ndarray:
    """Per channel: samples pile up at an extreme (see :mod:`channel_qc`)."""
    n = work.shape[0]
    result = np.zeros(work.shape[1], dtype=bool)
    quantum = 1.0 if acc.integer else np.finfo(np.float64).tiny
    width = np.maximum(spread * SHOULDER_SPREADS, quantum).astype(work.dtype)
    for sign, extreme, rail in (
        (1.0, highs, acc.rails[1] if acc.rails else None),
        (-1.0, lows, acc.rails[0] if acc.rails else None),
    ):
        at = work == extreme
        n_at = at.sum(axis=0)
        enough = n_at >= max(MIN_PILE, SATURATED_SHARE * n)
        if not enough.any():
            continue
        cols = np.flatnonzero(enough)
        part = work[:, cols]
        inside = sign * (extreme[cols] - part)
        shoulder = ((inside > 0) & (inside <= width[cols])).sum(axis=0)
        on_rail = np.zeros(cols.size, bool) if rail is None else extreme[cols] == rail
        plateau = n_at[cols] >= PILE_FACTOR * np.maximum(shoulder, 1)
        result[cols] |= on_rail | plateau
    return result


def _line_power(work: np.ndarray, rate: float, acc: _Accumulator, max_segments: int) -> None:
    """Add Hann-tapered power spectra of 0.5 s segments to ``acc``. Segments are first
    averaged down to >= 1 kHz (boxcar): mains and its first harmonics stay (>= 95 % at
    180 Hz) and the FFT shrinks 30-fold at 30 kHz."""
    length = round(rate / 2)
    factor = max(1, int(rate // 1000))
    usable = (length // factor) * factor
    if usable // factor < 64 or work.shape[0] < length or acc.segments >= max_segments:
        return
    taper = np.hanning(usable // factor).astype(np.float32)[:, None]
    for start in range(0, work.shape[0] - length + 1, length):
        if acc.segments >= max_segments:
            return
        seg = work[start : start + usable]
        seg = seg.reshape(usable // factor, factor, seg.shape[1]).mean(axis=1, dtype=np.float32)
        if not np.isfinite(seg).all():
            seg = np.nan_to_num(seg - np.nanmean(seg, axis=0))
        else:
            seg = seg - seg.mean(axis=0)
        power = np.abs(np.fft.rfft(seg * taper, axis=0)) ** 2
        acc.power = power if acc.power is None else acc.power + power
        acc.freqs = np.fft.rfftfreq(usable // factor, factor / rate)
        acc.segments += 1


def _line_scores(acc: _Accumulator, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Per channel: the strongest mains peak-to-floor ratio and its mains frequency."""
    c = acc.n_channels
    best_ratio, best_hz = np.zeros(c), np.zeros(c)
    if acc.power is None or acc.segments == 0:
        return best_ratio, best_hz
    freqs = acc.freqs
    nyquist = float(freqs[-1])
    for mains in MAINS:
        ratio = np.zeros(c)
        for h in range(1, HARMONICS + 1):
            f0 = mains * h
            if f0 + 14 >= nyquist:
                break
            distance = np.abs(freqs - f0)
            peak_bins = distance <= 2.5
            floor_bins = (distance >= 4.0) & (distance <= 14.0)
            if not peak_bins.any() or floor_bins.sum() < 3:
                continue
            peak = acc.power[peak_bins].max(axis=0)
            floor = np.median(acc.power[floor_bins], axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                here = np.where(floor > 0, peak / floor, 0.0)
            ratio = np.maximum(ratio, here)
        better = ratio > best_ratio
        best_ratio[better] = ratio[better]
        best_hz[better] = mains
    return best_ratio, best_hz


def _analyse_window(
    x: np.ndarray,
    i0: int,
    rate: float | None,
    acc: _Accumulator,
    bad: list[tuple[int, int, str]],
    line_segments: int,
) -> None:
    n = x.shape[0]
    float_data = x.dtype.kind == "f"
    # Dropouts: every channel exactly zero (or nothing finite).
    if float_data:
        empty_rows = ~np.any((x != 0) & np.isfinite(x), axis=1)
    else:
        empty_rows = ~np.any(x != 0, axis=1)
    min_drop = max(3, round(DROPOUT_MIN_SECONDS * rate)) if rate else 3
    drops = _runs(empty_rows, min_length=min_drop)
    for a, b in drops:
        bad.append((i0 + a, i0 + b, DROPOUT))
    bad_rows = np.zeros(n, dtype=bool)
    for a, b in drops:
        bad_rows[a:b] = True
    if len(drops) and bad_rows.all():
        acc.windows += 1
        return
    rows_for_stats = x[~bad_rows] if bad_rows.any() else x
    center, spread = _center_and_spread(rows_for_stats)
    # Artefacts: most live channels far out at the same sample.
    live = spread > 0
    if live.sum() >= 2:
        cols = np.flatnonzero(live)
        hi = center[cols] + ARTEFACT_SPREADS * spread[cols]
        lo = center[cols] - ARTEFACT_SPREADS * spread[cols]
        if x.dtype.kind in "iu":
            # integer thresholds (x > hi ⟺ x > floor(hi)): compare without converting x
            info = np.iinfo(x.dtype)
            hi = np.clip(np.floor(hi), info.min, info.max).astype(x.dtype)
            lo = np.clip(np.ceil(lo), info.min, info.max).astype(x.dtype)
        else:
            hi, lo = hi.astype(x.dtype), lo.astype(x.dtype)
        part = x[:, cols] if cols.size < x.shape[1] else x
        out = ((part > hi) | (part < lo)).sum(axis=1)
        artefact_rows = (out >= ARTEFACT_SHARE * cols.size) & ~bad_rows
        gap = round(ARTEFACT_GAP_SECONDS * rate) if rate else 10
        pad = round(ARTEFACT_PAD_SECONDS * rate) if rate else 5
        for a, b in _runs(artefact_rows, max_gap=gap):
            # the samples beyond threshold are the artefact's peak; its rise and decay
            # (still far from clean signal) reach a few ms either side
            a, b = max(0, a - pad), min(n, b + pad)
            bad.append((i0 + a, i0 + b, ARTEFACT))
            bad_rows[a:b] = True
    good = x[~bad_rows] if bad_rows.any() else x
    if good.shape[0] < 2:
        acc.windows += 1
        return
    if good is not rows_for_stats:
        center, spread = _center_and_spread(good)
    acc.spreads.append(spread)
    # The per-channel statistics go a band of channels at a time: a float copy of a whole
    # window (384 channels x 30 000 rows) and its centred copy were ~90 MB at once, which,
    # beside a pyramid build, took the trace panel past its 400 MB ceiling on a gzip file.
    # Each channel's arithmetic is the same as on the whole window.
    work_dtype = np.float64 if good.dtype == np.float64 else np.float32
    for c0 in range(0, good.shape[1], QC_BAND_CHANNELS):
        c1 = min(good.shape[1], c0 + QC_BAND_CHANNELS)
        _channel_stats(good[:, c0:c1], work_dtype, spread[c0:c1], acc, c0, float_data)
    acc.windows += 1
    if rate and not bad_rows.any():
        # integer samples go in as stored: the segments' float32 means are the same
        _line_power(
            good if good.dtype.kind in "iu" else good.astype(work_dtype, copy=False),
            rate,
            acc,
            line_segments,
        )


def _channel_stats(
    band: np.ndarray,
    work_dtype: type,
    spread: np.ndarray,
    acc: _Accumulator,
    c0: int,
    float_data: bool,
) -> None:
    """Flat, clipped and variance sums of channels ``c0 : c0 + band.shape[1]``."""
    c1 = c0 + band.shape[1]
    work = band.astype(work_dtype)
    if float_data:
        highs = np.nanmax(work, axis=0)
        lows = np.nanmin(work, axis=0)
    else:
        highs = band.max(axis=0).astype(work.dtype)
        lows = band.min(axis=0).astype(work.dtype)
    flat = ~(highs > lows)
    acc.flat[c0:c1] += flat
    acc.clipped[c0:c1] += _clipped(work, highs, lows, spread, acc) & ~flat
    if float_data:
        mean = np.nanmean(work, axis=0)
        centred = np.nan_to_num(work - mean, copy=False)
        acc.count[c0:c1] += np.isfinite(work).sum(axis=0)
    else:
        centred = work - work.mean(axis=0, dtype=np.float64).astype(work.dtype)
        acc.count[c0:c1] += band.shape[0]
    acc.sum_sq[c0:c1] += np.einsum("ij,ij->j", centred, centred, dtype=np.float64)


def recording_qc(
    read: Callable[[int, int], np.ndarray],
    n_samples: int,
    n_channels: int,
    dtype: np.dtype,
    *,
    rate: float | None,
    scale: np.ndarray | float = 1.0,
    chunk_rows: int | None = None,
    settings: QcSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> RecordingQC:
    """QC of a recording whose stored samples ``read(i0, i1)`` returns (time × channels).

    ``scale`` maps stored values to physical units per channel (conversion ×
    channel_conversion; the offset does not change spreads). ``rate`` in Hz (None when the
    series has no time base: no line-noise check, durations in samples). Raises
    ``QcCancelled`` when ``cancelled()`` turns true between windows.
    """
    settings = settings or QcSettings()
    dtype = np.dtype(dtype)
    windows = plan_windows(n_samples, rate, chunk_rows, settings)
    rails = None
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        rails = (float(info.min), float(info.max))
    acc = _Accumulator(n_channels, rails, dtype.kind in "iub")
    bad: list[tuple[int, int, str]] = []
    samples_read = 0
    # Spectra from at most 32 half-second segments, taken from windows spread over the file.
    line_segments = 32
    stride = max(1, math.ceil(len(windows) / 16))
    total = len(windows)
    with ThreadPoolExecutor(1, thread_name_prefix="ndviewer-qc-read") as prefetch:
        pending = prefetch.submit(read, *windows[0]) if windows else None
        for k, (i0, _) in enumerate(windows):
            if cancelled is not None and cancelled():
                pending.cancel()
                raise QcCancelled("Signal QC was cancelled.")
            block = np.asarray(pending.result())
            if block.ndim == 1:
                block = block[:, None]
            pending = prefetch.submit(read, *windows[k + 1]) if k + 1 < total else None
            samples_read += block.size
            with warnings.catch_warnings():
                # all-NaN channels are expected (dead); their NaN statistics are handled
                warnings.simplefilter("ignore", RuntimeWarning)
                segments = line_segments if k % stride == 0 else 0
                _analyse_window(block, i0, rate, acc, bad, segments)
            if progress is not None:
                progress(k + 1, total)
    return _conclude(acc, bad, windows, samples_read, n_samples, n_channels, rate, scale)


def _merge_ranges(bad: list[tuple[int, int, str]], gap: int) -> list[tuple[int, int, str]]:
    merged: list[list] = []
    for start, stop, reason in sorted(bad):
        if merged and merged[-1][2] == reason and start - merged[-1][1] <= gap:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop, reason])
    return [(a, b, r) for a, b, r in merged]


def _conclude(
    acc: _Accumulator,
    bad: list[tuple[int, int, str]],
    windows: list[tuple[int, int]],
    samples_read: int,
    n_samples: int,
    n_channels: int,
    rate: float | None,
    scale: np.ndarray | float,
) -> RecordingQC:
    factor = np.abs(np.broadcast_to(np.asarray(scale, dtype=np.float64), (n_channels,)))
    used = max(acc.windows, 1)
    if acc.spreads:
        spread = np.median(np.vstack(acc.spreads), axis=0) * factor
    else:
        spread = np.zeros(n_channels)
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.where(acc.count > 0, np.sqrt(acc.sum_sq / np.maximum(acc.count, 1)), 0.0)
    rms = rms * factor
    flat = acc.flat >= DEAD_WINDOWS * used
    saturated = (acc.clipped >= max(1, SATURATED_WINDOWS * used)) & ~flat
    candidates = ~flat & ~saturated & (spread > 0)
    reference = float(np.median(spread[candidates])) if candidates.any() else 0.0
    dead = flat | (~saturated & (reference > 0) & (spread < DEAD_FACTOR * reference))
    if not acc.spreads:
        dead = np.zeros(n_channels, bool)
    live = ~dead & ~saturated & (spread > 0)
    noisy = np.zeros(n_channels, dtype=bool)
    if live.sum() >= 3:
        logs = np.log(spread[live])
        middle = float(np.median(logs))
        mad = 1.4826 * float(np.median(np.abs(logs - middle)))
        limit = max(math.log(NOISY_FACTOR), NOISY_MADS * mad)
        noisy[live] = logs - middle > limit
    ratio, hz = _line_scores(acc, rate) if rate else (np.zeros(n_channels), np.zeros(n_channels))
    # a clipped channel's harmonics are not mains pickup
    line = (ratio >= LINE_RATIO) & ~dead & ~saturated
    gap = round(ARTEFACT_GAP_SECONDS * rate) if rate else 10
    return RecordingQC(
        n_samples=n_samples,
        n_channels=n_channels,
        rms=rms,
        spread=spread,
        dead=dead,
        saturated=saturated,
        noisy=noisy,
        line_noise=line,
        line_hz=np.where(line, hz, 0.0),
        line_ratio=ratio,
        bad_ranges=_merge_ranges(bad, gap),
        windows=windows,
        samples_read=samples_read,
    )
