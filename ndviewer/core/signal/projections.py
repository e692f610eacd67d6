"""Mean / max / min / std projections over a frame range of an image stack.

A projection reads every frame in the range once, so its cost is one read of the stack: the
pass walks the dataset's own chunk grid (no chunk decoded twice), decodes several slabs ahead
in the decode pool and reduces each slab in the pool too, so both the inflate and the
arithmetic use every core. Memory stays at a few slabs plus the accumulators.

Means of integer stacks are exact int64 sums. The standard deviation is computed in one pass
with *shifted* sums: every frame has the first
frame of the range subtracted before summing ``d`` and ``d**2``. For integer data those sums
are exact in float64 (below 2**53), and the shift removes the cancellation that plain
``E[x**2] - E[x]**2`` suffers when the mean is large and the spread small; the result matches
``numpy.std(stack, axis=0)`` (ddof 0) to rounding.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from ndviewer.core.signal.chunk_reader import ChunkReader, map_slabs

#: Projection kinds understood by :func:`compute_projections`.
PROJECTION_KINDS = ("mean", "max", "min", "std")

#: Target decoded size of one slab; big enough that per-slab overhead vanishes, small enough
#: that a few in flight stay cheap. Frames of half this size or more go one chunk row at a
#: time, which the chunk reader hands over without copying.
SLAB_BYTES = 8 * 1024 * 1024
#: What the slabs in flight and their partial reductions may hold together. Each partial of a
#: std pass is two float64 frames (4x a uint16 frame) on top of its slab, so on large frames
#: (2048 x 2048) a fixed "two per core" in flight held over 1 GB; the number in flight is
#: derived from this budget instead (at least one, so a pass always progresses).
IN_FLIGHT_BYTES = 96 * 1024 * 1024


@dataclass
class _Partial:
    """Reductions of one slab, combined in slab order by the caller."""

    count: int
    sum_plain: np.ndarray | None = None
    sum_shifted: np.ndarray | None = None
    sum_sq_shifted: np.ndarray | None = None
    maximum: np.ndarray | None = None
    minimum: np.ndarray | None = None


@dataclass(frozen=True)
class Projections:
    """Result of :func:`compute_projections`.

    Attributes
    ----------
    start, stop : int
        The frame range reduced (half-open).
    images : dict[str, numpy.ndarray]
        One array per requested kind, shaped like one frame. ``mean`` and ``std`` are
        float64; ``max`` and ``min`` keep the stack's dtype.
    """

    start: int
    stop: int
    images: dict[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, kind: str) -> np.ndarray:
        return self.images[kind]


def compute_projections(
    reader: ChunkReader,
    kinds: Iterable[str] = ("mean",),
    start: int = 0,
    stop: int | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Projections | None:
    """Reduce frames ``start:stop`` of ``reader`` along axis 0 into one image per kind.

    Parameters
    ----------
    reader
        Chunk reader over the stack (frames along axis 0).
    kinds
        Any of :data:`PROJECTION_KINDS`; all requested kinds come out of the same single pass.
    start, stop
        Frame range, half-open; ``stop`` defaults to the number of frames.
    progress
        Called as ``progress(frames_done, frames_total)`` after each slab, from the calling
        thread, so a GUI worker can forward it to a progress bar.
    cancelled
        Polled after each slab; when it returns True the pass stops and None is returned.

    Returns
    -------
    Projections or None
        None when cancelled.

    Raises
    ------
    ValueError
        For an unknown kind or an empty frame range.
    """
    kinds = tuple(dict.fromkeys(kinds))
    unknown = [k for k in kinds if k not in PROJECTION_KINDS]
    if unknown:
        raise ValueError(f"unknown projection kind(s) {unknown}; expected {PROJECTION_KINDS}")
    n_total = reader.shape[0]
    stop = n_total if stop is None else stop
    if not 0 <= start < stop <= n_total:
        raise ValueError(f"frame range {start}:{stop} is empty or outside 0:{n_total}")

    want_std = "std" in kinds
    reference = reader.read_frame(start).astype(np.float64) if want_std else None
    exact_int = reader.dtype.kind in "uib" and reader.dtype.itemsize <= 4

    def reduce_slab(_lo: int, _hi: int, block: np.ndarray) -> _Partial:
        part = _Partial(count=block.shape[0])
        if "max" in kinds:
            part.maximum = block.max(axis=0)
        if "min" in kinds:
            part.minimum = block.min(axis=0)
        if want_std:
            # Frame by frame: the float64 temporaries stay one frame big (cache-resident),
            # which is ~2x faster than shifting the whole slab at once.
            s1 = np.zeros(block.shape[1:], dtype=np.float64)
            s2 = np.zeros(block.shape[1:], dtype=np.float64)
            d = np.empty(block.shape[1:], dtype=np.float64)
            for frame in block:
                np.subtract(frame, reference, out=d)
                s1 += d
                np.multiply(d, d, out=d)
                s2 += d
            part.sum_shifted, part.sum_sq_shifted = s1, s2
        elif "mean" in kinds:
            # Integer sums are exact in int64; one reduction pass, no float temporaries.
            part.sum_plain = np.add.reduce(
                block, axis=0, dtype=np.int64 if exact_int else np.float64
            )
        return part

    frame_bytes = max(reader.frame_nbytes(), 1)
    slabs = list(reader.iter_slabs(start, stop, max_items=max(1, SLAB_BYTES // frame_bytes)))
    total = _Partial(count=0)
    done = 0
    pass_ = map_slabs(
        reader, slabs, reduce_slab, max_in_flight=_in_flight(reader, slabs, kinds, exact_int)
    )
    try:
        for part in pass_:
            _accumulate(total, part)
            done += part.count
            if progress is not None:
                progress(done, stop - start)
            if cancelled is not None and cancelled():
                return None
    finally:
        pass_.close()
    return Projections(start, stop, _finish(total, kinds, reference))


def _in_flight(
    reader: ChunkReader, slabs: list[tuple[int, int]], kinds: tuple[str, ...], exact_int: bool
) -> int:
    """How many slabs may be decoded and reduced ahead: as many as fit in
    :data:`IN_FLIGHT_BYTES` (slab + its partial sums + one frame of float64 scratch), at
    most two per core, at least one."""
    pixels = max(1, reader.frame_nbytes() // max(1, reader.dtype.itemsize))
    items = max((hi - lo for lo, hi in slabs), default=1)
    partial = 0
    if "std" in kinds:
        partial += pixels * 8 * 3  # two float64 sums and the per-frame difference
    elif "mean" in kinds:
        partial += pixels * 8 if exact_int or reader.dtype.itemsize <= 8 else pixels * 16
    partial += reader.frame_nbytes() * (("max" in kinds) + ("min" in kinds))
    per_slab = items * reader.frame_nbytes() + partial
    most = 2 * (os.cpu_count() or 2)
    return max(1, min(most, IN_FLIGHT_BYTES // max(1, per_slab)))


def _accumulate(total: _Partial, part: _Partial) -> None:
    total.count += part.count
    # In place: a partial is a fresh array owned by nobody else, so the first one is adopted
    # and later ones are added into it (no new frame-sized allocation per slab).
    for name in ("sum_plain", "sum_shifted", "sum_sq_shifted"):
        value = getattr(part, name)
        if value is not None:
            current = getattr(total, name)
            if current is None:
                setattr(total, name, value)
            else:
                current += value
    if part.maximum is not None:
        if total.maximum is None:
            total.maximum = np.array(part.maximum)
        else:
            np.maximum(total.maximum, part.maximum, out=total.maximum)
    if part.minimum is not None:
        if total.minimum is None:
            total.minimum = np.array(part.minimum)
        else:
            np.minimum(total.minimum, part.minimum, out=total.minimum)


def _finish(
    total: _Partial, kinds: tuple[str, ...], reference: np.ndarray | None
) -> dict[str, np.ndarray]:
    images: dict[str, np.ndarray] = {}
    n = total.count
    if total.sum_plain is not None:
        images["mean"] = total.sum_plain / n
    if "std" in kinds:
        mean_shift = total.sum_shifted / n
        if "mean" in kinds:
            images["mean"] = reference + mean_shift
        if "std" in kinds:
            variance = total.sum_sq_shifted / n - mean_shift * mean_shift
            np.maximum(variance, 0.0, out=variance)
            images["std"] = np.sqrt(variance)
    if "max" in kinds:
        images["max"] = total.maximum
    if "min" in kinds:
        images["min"] = total.minimum
    return images
