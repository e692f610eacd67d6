"""What a worker thread computes for one picture of the trace panel (no Qt here).

A :class:`FrameRequest` is everything that decides the pixels: window, channels, pixel size
and lane geometry. :func:`render_frame` reads through :class:`~ndviewer.core.signal.lod.TraceLod`,
rasterises with :mod:`ndviewer.core.signal.trace_raster` and returns a :class:`Frame` the GUI only
has to wrap in a QImage. Requests are hashable, so finished frames can be cached and the
neighbouring pages rendered ahead of time.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ndviewer.core.nwb.events import SpikeTrainSource
from ndviewer.core.signal.lod import TraceLod
from ndviewer.core.signal.trace_raster import (
    LaneLayout,
    rasterize_envelope,
    rasterize_trains,
    samples_to_columns,
)

__all__ = [
    "Frame",
    "FrameCache",
    "FrameRequest",
    "coarse_columns",
    "render_frame",
    "render_raster",
]


@dataclass(frozen=True)
class FrameRequest:
    """The inputs of one trace picture.

    Attributes
    ----------
    t0, t1 : float
        Visible window (session seconds).
    channels : tuple of int
        Channels of the page, top to bottom.
    width, height : int
        Plot area in device pixels (``width`` bounds the number of columns).
    baselines, gains : tuple of float
        Per channel: physical value at the lane centre and data-y per physical unit.
    colors : tuple of int
        Per channel colour index (1-based; 0 is the background).
    clip : float
        Half-height of each lane's band in lanes (0.5: its own lane), 0 for no clipping.
    """

    t0: float
    t1: float
    channels: tuple[int, ...]
    width: int
    height: int
    baselines: tuple[float, ...]
    gains: tuple[float, ...]
    colors: tuple[int, ...]
    clip: float = 0.0

    @property
    def y_top(self) -> float:
        return 0.5

    @property
    def y_bottom(self) -> float:
        return 0.5 - len(self.channels)

    def shifted(self, dt: float) -> FrameRequest:
        """The same request for the window moved by ``dt`` seconds."""
        return FrameRequest(
            self.t0 + dt,
            self.t1 + dt,
            self.channels,
            self.width,
            self.height,
            self.baselines,
            self.gains,
            self.colors,
            self.clip,
        )


@dataclass(frozen=True)
class Frame:
    """A rendered picture: ``image`` covers ``[x0, x1] × [y_bottom, y_top]`` in data units.

    ``coarse`` frames are drawn from the finest pyramid level with fewer columns than pixels:
    a stand-in shown while keys are held, replaced by the exact frame when they stop.
    """

    request: FrameRequest
    image: np.ndarray
    x0: float
    x1: float
    source: str
    spc: int
    seconds: float
    coarse: bool = False

    @property
    def nbytes(self) -> int:
        return int(self.image.nbytes)


def coarse_columns(lod: TraceLod, request: FrameRequest) -> int | None:
    """Columns of a coarse stand-in for ``request``, or None when there is no cheaper frame.

    A coarse frame reads the finest pyramid level (a few hundred kilobytes) instead of the raw
    samples (tens of megabytes, decoded), so it renders in a few milliseconds; it exists only
    when the exact frame would have to read raw data and the pyramid is there.
    """
    pyramid = lod.pyramid
    if pyramid is None or not pyramid.levels or not lod.source.time_axis.is_regular:
        return None
    width = max(1, int(request.width))
    i0, i1 = lod.source.time_axis.window(request.t0, request.t1)
    n = i1 - i0
    if n <= width or lod.plan(n, width)[1] is not None:
        return None  # exact frame is samples or already from the pyramid: cheap enough
    base = pyramid.levels[0]
    columns = -(-n // base)  # so that the plan's samples per column is exactly ``base``
    if -(-n // columns) < base:
        columns = max(1, n // base)
    return columns if columns < width else None


def render_frame(
    lod: TraceLod,
    request: FrameRequest,
    cancelled: Callable[[], bool] | None = None,
    coarse: bool = False,
) -> Frame:
    """Read, decimate and rasterise one frame (runs on a worker thread).

    With ``coarse`` the frame is drawn from the finest pyramid level when
    :func:`coarse_columns` allows it (else the exact frame is rendered).
    """
    started = time.perf_counter()
    channels = np.asarray(request.channels, dtype=np.int64)
    width = max(1, int(request.width))
    columns = coarse_columns(lod, request) if coarse else None
    coarse = columns is not None
    window = lod.fetch(request.t0, request.t1, channels, columns or width, cancelled)
    if window.kind == "envelope":
        lo, hi = window.lo, window.hi
        x0 = window.col_t0
        x1 = window.col_t0 + window.col_dt * lo.shape[0]
    else:
        dt = (request.t1 - request.t0) / width
        lo, hi = samples_to_columns(window.times, window.values, request.t0, dt, width)
        coarse = False
        x0, x1 = request.t0, request.t1
    n = channels.size
    layout = LaneLayout(
        centers=-np.arange(n, dtype=np.float32),
        baselines=np.asarray(request.baselines, dtype=np.float32),
        gains=np.asarray(request.gains, dtype=np.float32),
        y_top=request.y_top,
        y_bottom=request.y_bottom,
        height=max(1, int(request.height)),
        clip=request.clip,
    )
    image = rasterize_envelope(lo, hi, layout, np.asarray(request.colors, dtype=np.uint8))
    seconds = time.perf_counter() - started
    return Frame(request, image, x0, x1, window.source, window.spc, seconds, coarse)


def render_raster(
    units: SpikeTrainSource,
    rows: list[int],
    t0: float,
    t1: float,
    width: int,
    height: int,
) -> tuple[np.ndarray, int]:
    """Spike raster image of units ``rows`` over ``[t0, t1)`` and the number of spikes."""
    width = max(1, int(width))
    trains = units.query(t0, t1, rows)
    colors = (np.arange(len(rows)) % 8 + 1).astype(np.uint8)
    image = rasterize_trains(trains, t0, (t1 - t0) / width, width, max(1, int(height)), colors)
    return image, int(sum(t.size for t in trains))


class FrameCache:
    """A small LRU of rendered frames, keyed by request (GUI thread only)."""

    def __init__(self, max_bytes: int = 16 << 20) -> None:
        self.max_bytes = max_bytes
        self._frames: OrderedDict[FrameRequest, Frame] = OrderedDict()
        self._bytes = 0

    def get(self, request: FrameRequest) -> Frame | None:
        frame = self._frames.get(request)
        if frame is not None:
            self._frames.move_to_end(request)
        return frame

    def put(self, frame: Frame) -> None:
        old = self._frames.pop(frame.request, None)
        if old is not None:
            self._bytes -= old.nbytes
        self._frames[frame.request] = frame
        self._bytes += frame.nbytes
        while self._bytes > self.max_bytes and len(self._frames) > 1:
            _, dropped = self._frames.popitem(last=False)
            self._bytes -= dropped.nbytes

    def __contains__(self, request: FrameRequest) -> bool:
        return request in self._frames

    def clear(self) -> None:
        self._frames.clear()
        self._bytes = 0
