"""Which channels of a recording look dead, saturated or noisy, from a window of samples.

Visual QC is where a lab spots a broken probe shank before sorting hours of data. The flags
are computed from raw samples of the visible window (robust statistics, so spikes and a few
artefacts do not raise them) and shown next to the channel labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A channel is noisy when its robust spread is this many times the median channel's.
NOISY_FACTOR = 5.0
# A channel is saturated when at least this share of its samples sit at its own extreme
# value (a clipped amplifier or ADC rail flattens the trace at one value).
SATURATED_SHARE = 0.01


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
    at_high = np.mean(values == highs, axis=0)
    at_low = np.mean(values == lows, axis=0)
    saturated = ~dead & (np.maximum(at_high, at_low) >= SATURATED_SHARE)
    live = ~dead & ~saturated
    reference = np.median(spread[live]) if live.any() else 0.0
    noisy = live & (reference > 0) & (spread > NOISY_FACTOR * reference)
    return ChannelQC(spread, dead, saturated, noisy)
