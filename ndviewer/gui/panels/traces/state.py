"""What the trace panel shows, as plain data: the open series, the window, the channel page,
the scaling and the lane colours, with the arithmetic that turns them into a frame request.

No Qt here: the panel and its collaborators (frame scheduler, overlays, overview, QC
display, controls) share one :class:`TraceState` and read it; the panel alone changes it,
then tells each collaborator what to redraw.
"""

from __future__ import annotations

import math

import numpy as np

from ndviewer.core.export.style import TRACE_COLORS  # one palette for screen and figure
from ndviewer.core.nwb.timeseries import TimeSeriesSource, si_prefix
from ndviewer.core.signal.lod import TraceLod
from ndviewer.gui.panels.traces.frames import FrameRequest

__all__ = ["HIGHLIGHT_COLOR", "MAX_CHANNELS", "TRACE_COLORS", "TraceState", "default_length"]

#: The most channels the panel stacks (series with more are not offered it).
MAX_CHANNELS = 4096

#: The clicked channel's colour (the last index of the image colour table).
HIGHLIGHT_COLOR = "#e8590c"
#: Below this lane height the automatic spacing grows so that noise does not fill the lanes.
MIN_LANE_PIXELS = 10.0
#: Half-height of a lane's band when lanes are clipped (0.5: exactly its own lane).
LANE_CLIP = 0.5
#: Channels per page when a series opens.
FIRST_PAGE_CHANNELS = 384


def default_length(source: TimeSeriesSource) -> float:
    """The first window: about 3000 samples, between 1 s and 10 min, at most the recording."""
    duration = max(source.t_stop - source.t_start, 0.0)
    rate = source.time_axis.rate
    if rate is None:
        n = max(source.n_samples, 1)
        rate = n / duration if duration > 0 else 1.0
    length = min(max(3000.0 / rate, 1.0), 600.0)
    return min(length, duration) if duration > 0 else length


class TraceState:
    """The open series and how it is shown.

    Attributes
    ----------
    source : TimeSeriesSource or None
        None until the opening job has finished.
    lod : TraceLod or None
        The source's levels of detail (raw reads, pyramid).
    window : tuple of float
        The visible time window in session seconds.
    selection : numpy.ndarray
        Channel indices that can be paged through (all, or a group, location or ROI pick).
    page_start, page_size : int
        The page of ``selection`` on screen.
    gain : float
        User gain on top of the spacing.
    spacing : float
        Physical units between adjacent lanes; ``auto_spacing`` when derived from ``sigma``.
    sigma : float
        Robust SD of a typical channel (median over channels).
    display_unit, display_scale
        SI-prefixed unit for the spacing box and the factor to it.
    baselines : numpy.ndarray
        Physical value at each channel's lane centre.
    colors : numpy.ndarray
        Colour index per channel (1-based, by electrode group).
    highlight : int or None
        The clicked channel, drawn in :data:`HIGHLIGHT_COLOR`.
    """

    def __init__(self) -> None:
        self.source: TimeSeriesSource | None = None
        self.lod: TraceLod | None = None
        self.window = (0.0, 1.0)
        self.selection = np.zeros(0, dtype=np.int64)
        self.page_start = 0
        self.page_size = 64
        self.gain = 1.0
        self.spacing = 1.0
        self.sigma = 1.0
        self.auto_spacing = True
        # each trace cut to its own lane, so one loud channel cannot hide its neighbours
        self.clip_lanes = True
        self.display_scale = 1.0
        self.display_unit = ""
        self.baselines = np.zeros(0)
        self.colors = np.zeros(0, dtype=np.uint8)
        self.highlight: int | None = None

    def open(self, source: TimeSeriesSource, lod: TraceLod) -> None:
        """Adopt a freshly opened series: every channel selected, coloured by group."""
        self.source = source
        self.lod = lod
        self.selection = np.arange(source.n_channels, dtype=np.int64)
        self.page_size = min(source.n_channels, FIRST_PAGE_CHANNELS) or 1
        groups = sorted({c.group for c in source.channels if c.group})
        group_index = {g: k for k, g in enumerate(groups)}
        self.colors = np.asarray(
            [1 + group_index.get(c.group, 0) % len(TRACE_COLORS) for c in source.channels],
            dtype=np.uint8,
        )

    # ---------------------------------------------------------------------------------- time
    def min_window(self) -> float:
        """The shortest window: 8 samples (1 µs for timestamped series)."""
        if self.source is None:
            return 1e-6
        rate = self.source.time_axis.rate
        return 8.0 / rate if rate else 1e-6

    def bounds(self) -> tuple[float, float]:
        """Where windows may lie: the recording, through the end of its last sample."""
        src = self.source
        if src is None:
            return 0.0, 1.0
        rate = src.time_axis.rate
        stop = src.t_stop + (1.0 / rate if rate else 0.0)
        return src.t_start, max(stop, src.t_start + self.min_window())

    def fit_window(self, t0: float, t1: float, clamp: bool) -> tuple[float, float]:
        """``[t0, t1]`` at least :meth:`min_window` long and, with ``clamp``, inside the
        recording (moved, not cut, unless longer than the recording)."""
        length = max(t1 - t0, self.min_window())
        if clamp:
            start, stop = self.bounds()
            length = min(length, max(stop - start, self.min_window()))
            t0 = min(max(t0, start), max(start, stop - length))
        return (t0, t0 + length)

    # ------------------------------------------------------------------------------ channels
    @property
    def page_channels(self) -> list[int]:
        """Channel indices shown, top to bottom."""
        return self.selection[self.page_start : self.page_start + self.page_size].tolist()

    def turn_page(self, delta: int) -> bool:
        """Go ``delta`` channel pages on (the last page stays full); True if it moved."""
        n = self.selection.size
        if n == 0:
            return False
        start = self.page_start + delta * self.page_size
        start = min(max(0, start), max(0, n - self.page_size))
        if start == self.page_start:
            return False
        self.page_start = start
        return True

    def resize_page(self, size: int) -> bool:
        """Show ``size`` channels per page; True if that changed."""
        size = max(1, int(size))
        if size == self.page_size:
            return False
        self.page_size = size
        self.page_start = min(self.page_start, max(0, self.selection.size - size))
        return True

    def channels_where(self, kind: str, value: str | None) -> list[int]:
        """Indices of the channels of one electrode ``group`` or ``location`` (else all)."""
        channels = self.source.channels if self.source is not None else []
        if kind == "group":
            return [c.index for c in channels if c.group == value]
        if kind == "location":
            return [c.index for c in channels if c.location == value]
        return [c.index for c in channels]

    def select(self, channels: list[int]) -> None:
        """Page through just these channels, from the first page."""
        self.selection = np.asarray(channels, dtype=np.int64)
        self.page_start = 0

    # ------------------------------------------------------------------------------- scaling
    def apply_stats(self, baselines: np.ndarray, sigma: np.ndarray, plot_height: int) -> None:
        """New baselines and spread; the spacing goes back to automatic."""
        self.baselines = np.nan_to_num(np.asarray(baselines, dtype=np.float64), nan=0.0)
        finite = sigma[np.isfinite(sigma) & (sigma > 0)]
        # the lower median: with an even number of channels the plain median averages the
        # two middle ones, so on a short page one saturated or loud channel set the spacing
        self.sigma = float(np.percentile(finite, 50, method="lower")) if finite.size else 1.0
        self.auto_spacing = True
        self.spacing = self.auto_spacing_value(plot_height)
        unit = self.source.unit if self.source is not None else ""
        self.display_unit, self.display_scale = si_prefix(unit, self.spacing)

    def auto_spacing_value(self, plot_height: int) -> float:
        """8 robust SDs of a typical channel per lane, more when lanes are only a few pixels
        tall (dense pages), so traces stay lines instead of filling their lanes."""
        lane_px = plot_height / max(1, len(self.page_channels))
        return 8.0 * self.sigma * max(1.0, MIN_LANE_PIXELS / max(lane_px, 1.0))

    def reapply_auto_spacing(self, plot_height: int) -> bool:
        """Follow a new page or plot height with the automatic spacing; True if it changed."""
        if not self.auto_spacing or self.source is None:
            return False
        spacing = self.auto_spacing_value(plot_height)
        if math.isclose(spacing, self.spacing, rel_tol=1e-3):
            return False
        self.spacing = spacing
        return True

    # ------------------------------------------------------------------------------- request
    def make_request(self, width: int, height: int) -> FrameRequest | None:
        """The frame for the current state at this plot size (None before opening)."""
        if self.source is None or self.lod is None:
            return None
        channels = self.page_channels
        if not channels:
            return None
        gain = self.gain / self.spacing if self.spacing > 0 else self.gain
        colors = self.colors[channels].copy()
        if self.highlight is not None and self.highlight in channels:
            colors[channels.index(self.highlight)] = len(TRACE_COLORS) + 1
        return FrameRequest(
            float(self.window[0]),
            float(self.window[1]),
            tuple(channels),
            width,
            height,
            tuple(float(self.baselines[c]) for c in channels),
            tuple(gain for _ in channels),
            tuple(int(c) for c in colors),
            LANE_CLIP if self.clip_lanes else 0.0,
        )
