"""Which channels of a recording look dead, saturated or noisy, from a window of samples.

Visual QC is where a lab spots a broken probe shank before sorting hours of data. The flags
are computed from raw samples of the visible window (robust statistics, so spikes and a few
artefacts do not raise them) and shown next to the channel labels.

Saturation once meant "≥ 1 % of samples at the channel's own extreme", which cried wolf: in a
window of under 100 samples the single peak of a clean sine is 1 %. A clipped amplifier or ADC
instead piles samples up *at* a value: the dtype's rails, or a flat plateau at a repeated
extreme that holds far more samples than the values just inside it (a sine's smooth peak does
not). QC belongs to electrophysiology: which series get it is data in ``spec/channel_qc.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

# A channel is noisy when its robust spread is this many times the median channel's.
NOISY_FACTOR = 5.0
# A channel is saturated when at least this share of its samples (and MIN_PILE of them) sit
# at a dtype rail, or at a repeated extreme that is a plateau: PILE_FACTOR times as many samples
# as in the shoulder just inside it (SHOULDER_SPREADS robust spreads wide, and at least the
# next integer value of integer data).
SATURATED_SHARE = 0.01
MIN_PILE = 8
PILE_FACTOR = 3.0
SHOULDER_SPREADS = 0.05


@dataclass(frozen=True)
class ChannelQC:
    """Per-channel flags and robust spread (MAD-based standard deviation)."""

    spread: np.ndarray
    dead: np.ndarray
    saturated: np.ndarray
    noisy: np.ndarray

    def label(self, channel: int) -> str:
        """ "dead", "saturated", "noisy" or "" for one channel."""
        if self.dead[channel]:
            return "dead"
        if self.saturated[channel]:
            return "saturated"
        if self.noisy[channel]:
            return "noisy"
        return ""


def robust_spread(samples: np.ndarray) -> np.ndarray:
    """1.4826 × median absolute deviation per column: the std of Gaussian noise, spike-proof.

    A column with no finite sample has spread 0.
    """
    values = samples.astype(np.float64, copy=False)
    spread = np.zeros(values.shape[1])
    finite = np.isfinite(values).any(axis=0)
    if finite.any():
        part = values[:, finite]
        median = np.nanmedian(part, axis=0)
        spread[finite] = 1.4826 * np.nanmedian(np.abs(part - median), axis=0)
    return spread


def _rails(dtype: np.dtype) -> tuple[float, float] | None:
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return float(info.min), float(info.max)
    return None


def _saturated(
    values: np.ndarray,
    extreme: np.ndarray,
    spread: np.ndarray,
    sign: float,
    rail: float | None,
    integer: bool,
) -> np.ndarray:
    """Per column: samples pile up at ``extreme`` (``sign`` +1 for the maximum, -1 for the
    minimum), at the dtype's ``rail`` or as a plateau far heavier than its shoulder."""
    n = values.shape[0]
    at = values == extreme
    n_at = at.sum(axis=0)
    enough = n_at >= max(MIN_PILE, SATURATED_SHARE * n)
    on_rail = np.zeros(values.shape[1], dtype=bool) if rail is None else extreme == rail
    quantum = 1.0 if integer else np.finfo(np.float64).tiny
    width = np.maximum(spread * SHOULDER_SPREADS, quantum)
    inside = sign * (extreme - values)  # how far inside the extreme each sample is
    shoulder = ((inside > 0) & (inside <= width)).sum(axis=0)
    median = np.full(values.shape[1], np.nan)
    finite = np.isfinite(values).any(axis=0)
    if finite.any():
        median[finite] = np.nanmedian(values[:, finite], axis=0)
    plateau = (n_at >= PILE_FACTOR * np.maximum(shoulder, 1)) & (extreme != median)
    return enough & (on_rail | plateau)


def channel_qc(samples: np.ndarray) -> ChannelQC:
    """Flags for each column of ``samples`` (time × channels)."""
    data = np.asarray(samples)
    if data.ndim == 1:
        data = data[:, None]
    n_channels = data.shape[1]
    if data.shape[0] < 2:
        empty = np.zeros(n_channels, dtype=bool)
        return ChannelQC(np.zeros(n_channels), empty, empty.copy(), empty.copy())
    values = data.astype(np.float64, copy=False)
    spread = robust_spread(values)
    finite = np.isfinite(values)
    highs = np.where(finite, values, -np.inf).max(axis=0)
    lows = np.where(finite, values, np.inf).min(axis=0)
    dead = ~finite.any(axis=0) | ~(highs > lows)
    rails = _rails(data.dtype)
    saturated = ~dead & (
        _saturated(values, highs, spread, 1.0, rails[1] if rails else None, rails is not None)
        | _saturated(values, lows, spread, -1.0, rails[0] if rails else None, rails is not None)
    )
    live = ~dead & ~saturated
    reference = np.median(spread[live]) if live.any() else 0.0
    noisy = live & (reference > 0) & (spread > NOISY_FACTOR * reference)
    return ChannelQC(spread, dead, saturated, noisy)


@cache
def _qc_types() -> tuple[str, ...]:
    from ndviewer.paths import spec_dir

    raw = json.loads((spec_dir() / "channel_qc.json").read_text(encoding="utf-8"))
    return tuple(raw["types"])


def qc_applies(neurodata_type: str | None, is_a: Callable[[str | None, str], bool]) -> bool:
    """Whether channel QC suits series of this type (electrophysiology, not behaviour or
    imaging traces), through the type's ancestry; ``is_a`` is the catalogue's."""
    return neurodata_type is not None and any(is_a(neurodata_type, t) for t in _qc_types())
