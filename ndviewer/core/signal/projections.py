"""Mean / max / min / std projections over a frame range of an image stack.

A projection reads every frame in the range once, so its cost is one read of the stack: the
pass walks the dataset's own chunk grid (no chunk decoded twice), decodes several slabs ahead
in the decode pool and reduces each slab in the pool too, straight into one set of
accumulators, so both the inflate and the arithmetic use every core. Memory stays at a few
slabs plus the accumulators.

Means of integer stacks are exact int64 sums. The standard deviation is computed in one pass
with *shifted* sums: every frame has the first
frame of the range subtracted before summing ``d`` and ``d**2``. For integer data those sums
are exact in float64 (below 2**53), and the shift removes the cancellation that plain
``E[x**2] - E[x]**2`` suffers when the mean is large and the spread small; the result matches
``numpy.std(stack, axis=0)`` (ddof 0) to rounding.
"""

from __future__ import annotations

import os
import threading
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
#: What the slabs in flight and their scratch may hold together. A std pass needs one float64
#: frame of scratch per slab (4x a uint16 frame), so on large frames (2048 x 2048) a fixed
#: "two per core" would hold far more than the slabs; the number in flight is derived from
#: this budget instead (at least one, so a pass always progresses).
IN_FLIGHT_BYTES = 96 * 1024 * 1024
#: Pixels per band of a std pass's float64 scratch (4 MB).
STD_BAND = 1 << 19


@dataclass
class _Partial:
    """The accumulators of a pass (the pool threads add into them under a lock)."""

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
    exact_int = reader.dtype.kind in "uib" and reader.dtype.itemsize <= 4
    shape = tuple(reader.shape[1:])
    # The pool threads add straight into one set of frame-shaped accumulators, under a lock
    # (the inflate, the expensive part, runs outside it). Per-slab partial sums, combined
    # later, cost up to 3 float64 frames per slab in flight: 1.18 GB for mean+max+std of a
    # 2048² stack. Integer sums are exact, so the order the slabs land in does not change
    # the result; float stacks may differ in the last bits between runs.
    lock = threading.Lock()
    total = _Partial(count=0)
    first = reader.read_frame(start) if (want_std or "max" in kinds or "min" in kinds) else None
    # the shift, kept in the stack's dtype (a float64 copy would be 4x a uint16 frame)
    reference = np.ascontiguousarray(first) if want_std else None
    if want_std:
        total.sum_shifted = np.zeros(shape, dtype=np.float64)
        total.sum_sq_shifted = np.zeros(shape, dtype=np.float64)
    elif "mean" in kinds:
        total.sum_plain = np.zeros(shape, dtype=np.int64 if exact_int else np.float64)
    if "max" in kinds:
        total.maximum = np.array(first)
    if "min" in kinds:
        total.minimum = np.array(first)
    del first  # (the accumulators hold their own copies)

    def reduce_slab(_lo: int, _hi: int, block: np.ndarray) -> int:
        single = block.shape[0] == 1
        if total.maximum is not None:
            top = block[0] if single else block.max(axis=0)
            with lock:
                np.maximum(total.maximum, top, out=total.maximum)
        if total.minimum is not None:
            bottom = block[0] if single else block.min(axis=0)
            with lock:
                np.minimum(total.minimum, bottom, out=total.minimum)
        if want_std:
            # Frame by frame, in bands of STD_BAND pixels: the float64 scratch per slab in
            # flight stays 4 MB instead of a whole float64 frame (32 MB at 2048²).
            ref = reference.reshape(-1)
            s1 = total.sum_shifted.reshape(-1)
            s2 = total.sum_sq_shifted.reshape(-1)
            scratch = np.empty(min(STD_BAND, ref.size), dtype=np.float64)
            for frame in block:
                pixels = np.ascontiguousarray(frame).reshape(-1)
                for lo in range(0, pixels.size, STD_BAND):
                    hi = min(lo + STD_BAND, pixels.size)
                    d = scratch[: hi - lo]
                    np.subtract(pixels[lo:hi], ref[lo:hi], out=d, dtype=np.float64)
                    with lock:
                        s1[lo:hi] += d
                    np.multiply(d, d, out=d)
                    with lock:
                        s2[lo:hi] += d
        elif total.sum_plain is not None:
            part = block[0] if single else np.add.reduce(block, axis=0, dtype=total.sum_plain.dtype)
            with lock:
                np.add(total.sum_plain, part, out=total.sum_plain)
        return block.shape[0]

    frame_bytes = max(reader.frame_nbytes(), 1)
    slabs = list(reader.iter_slabs(start, stop, max_items=max(1, SLAB_BYTES // frame_bytes)))
    done = 0
    pass_ = map_slabs(
        reader, slabs, reduce_slab, max_in_flight=_in_flight(reader, slabs, kinds, exact_int)
    )
    try:
        for count in pass_:
            done += count
            if progress is not None:
                progress(done, stop - start)
            if cancelled is not None and cancelled():
                return None
    finally:
        pass_.close()
    total.count = done
    return Projections(start, stop, _finish(total, kinds, reference))


def _in_flight(
    reader: ChunkReader, slabs: list[tuple[int, int]], kinds: tuple[str, ...], exact_int: bool
) -> int:
    """How many slabs may be decoded and reduced ahead: as many as fit in
    :data:`IN_FLIGHT_BYTES` (slab + its scratch: one float64 frame for std, a slab's sum or
    max/min when it holds several frames), at most two per core, at least one."""
    pixels = max(1, reader.frame_nbytes() // max(1, reader.dtype.itemsize))
    items = max((hi - lo for lo, hi in slabs), default=1)
    scratch = 0
    if "std" in kinds:
        scratch += min(pixels, STD_BAND) * 8  # one band of the per-frame difference
    elif "mean" in kinds and items > 1:
        scratch += pixels * 8  # the slab's sum
    if items > 1:
        scratch += reader.frame_nbytes() * (("max" in kinds) + ("min" in kinds))
    per_slab = items * reader.frame_nbytes() + scratch
    most = 2 * (os.cpu_count() or 2)
    return max(1, min(most, IN_FLIGHT_BYTES // max(1, per_slab)))


def _finish(
    total: _Partial, kinds: tuple[str, ...], reference: np.ndarray | None
) -> dict[str, np.ndarray]:
    """The images, computed in place in the accumulators (each extra float64 frame is 32 MB
    at 2048², and the finish used to be the peak of a whole pass)."""
    images: dict[str, np.ndarray] = {}
    n = total.count
    if total.sum_plain is not None:
        images["mean"] = total.sum_plain / n
    if "std" in kinds:
        mean_shift = total.sum_shifted
        mean_shift /= n
        variance = total.sum_sq_shifted
        variance /= n
        flat_variance, flat_mean = variance.reshape(-1), mean_shift.reshape(-1)
        for lo in range(0, flat_variance.size, STD_BAND):  # a band of temporaries at a time
            band = flat_mean[lo : lo + STD_BAND]
            flat_variance[lo : lo + STD_BAND] -= band * band
        np.maximum(variance, 0.0, out=variance)
        images["std"] = np.sqrt(variance, out=variance)
        if "mean" in kinds:
            images["mean"] = np.add(mean_shift, reference, out=mean_shift, dtype=np.float64)
        total.sum_shifted = total.sum_sq_shifted = None
    if "max" in kinds:
        images["max"] = total.maximum
    if "min" in kinds:
        images["min"] = total.minimum
    return images
