"""Parallel reads of frames from a chunked HDF5 dataset.

h5py serialises every HDF5 call behind one process-wide lock, so ``ds[i]`` on a gzip stack
decodes on one core however many threads ask. This module reads the stored (still compressed)
chunk bytes with ``Dataset.id.read_direct_chunk`` -- a cheap call under that lock -- and runs
the expensive part, inflate and un-shuffle, in a thread pool: ``zlib`` and numpy release the
GIL, so the decode uses every core. Filters this module cannot decode itself (Blosc, Zstd,
LZ4, bitshuffle, szip, n-bit, scale-offset, ...) fall back to a plain ``ds[start:stop]`` read,
which goes through HDF5 and whatever plugin ``hdf5plugin`` registered.

Inflate uses ``isal`` (Intel ISA-L, 2-4x faster than zlib on these chunks) when it is
installed, else the standard ``zlib``; both release the GIL.

The unit of work is a *slab*: the items ``start:stop`` along the first axis (frames for an
image stack). :meth:`ChunkReader.submit` never blocks a pool thread on another pool thread:
a slab spanning several chunks fans out one task per chunk and completes when the last one
lands, so slabs can be requested from inside pool threads without deadlock.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import h5py
import numpy as np

from ndviewer.core.allocator import limit_malloc_arenas
from ndviewer.core.errors import NdviewerError
from ndviewer.core.signal.inflate import inflate

#: No single read may allocate more than this, whatever the dataset declares (a damaged or
#: hostile file can declare 1e5 x 1e5 x 1e5 elements; a view never needs more than this).
MAX_READ_BYTES = 1 << 30


class ReadTooLargeError(NdviewerError):
    """A read would allocate more memory than a view may use (see :func:`read_limit`)."""


def read_limit() -> int:
    """Bytes one read may allocate: :data:`MAX_READ_BYTES`, or half the memory that is free
    now when that is less."""
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return MAX_READ_BYTES
    return max(64 << 20, min(MAX_READ_BYTES, free // 2))


def check_allocation(shape: tuple[int, ...], dtype: np.dtype, what: str) -> None:
    """Raise ``ReadTooLargeError`` naming ``what`` if an array of ``shape`` is too large."""
    nbytes = int(np.prod(shape, dtype=np.float64)) * np.dtype(dtype).itemsize
    limit = read_limit()
    if nbytes > limit:
        raise ReadTooLargeError(
            f"{what} would need {nbytes / 2**30:,.1f} GiB in memory at once, more than the "
            f"{limit / 2**30:.1f} GiB a view may use (the dataset declares shape "
            f"{tuple(int(n) for n in shape)})."
        )


#: HDF5 filter identifiers this module decodes itself.
FILTER_DEFLATE = 1
FILTER_SHUFFLE = 2
FILTER_FLETCHER32 = 3
_DECODABLE_FILTERS = {FILTER_DEFLATE, FILTER_SHUFFLE, FILTER_FLETCHER32}

_pool_lock = threading.Lock()
_shared_pool: ThreadPoolExecutor | None = None
_pool_thread = threading.local()


def _mark_pool_thread() -> None:
    _pool_thread.active = True


def in_pool_thread() -> bool:
    """Return True when called from a thread of a pool made by :func:`make_decode_pool`.

    Code that would wait on the pool from inside it (and could starve it) checks this and
    decodes inline instead.
    """
    return getattr(_pool_thread, "active", False)


def make_decode_pool(max_workers: int | None = None) -> ThreadPoolExecutor:
    """Create a thread pool whose threads are recognised by :func:`in_pool_thread`.

    Parameters
    ----------
    max_workers
        Number of decode threads; defaults to the number of CPU cores, since decoding is
        CPU-bound and more threads than cores only add switching.
    """
    workers = max_workers or os.cpu_count() or 2
    return ThreadPoolExecutor(
        max_workers=workers, thread_name_prefix="ndviewer-decode", initializer=_mark_pool_thread
    )


def shared_decode_pool() -> ThreadPoolExecutor:
    """Return the process-wide decode pool, creating it on first use.

    One pool for every reader keeps the number of busy decode threads equal to the number of
    cores even when several panels play at once.
    """
    global _shared_pool
    with _pool_lock:
        if _shared_pool is None:
            _shared_pool = make_decode_pool()
        return _shared_pool


def _unshuffle(raw: bytes | memoryview, itemsize: int) -> bytes | memoryview:
    """Undo the HDF5 byte-shuffle filter (byte planes back to interleaved elements)."""
    if itemsize <= 1:
        return raw
    buf = np.frombuffer(raw, dtype=np.uint8)
    n = buf.size // itemsize
    body = buf[: n * itemsize].reshape(itemsize, n).T.copy()
    if n * itemsize == buf.size:
        return body.data
    # HDF5 leaves a trailing partial element unshuffled.
    return np.concatenate([body.ravel(), buf[n * itemsize :]]).data


class ChunkReader:
    """Read slabs along axis 0 of an h5py dataset, decoding chunks in a thread pool.

    Parameters
    ----------
    dataset
        The dataset to read. Any layout works; only chunked datasets whose filters are all
        deflate / shuffle / fletcher32 (or none) take the parallel raw-chunk path.
    pool
        Thread pool to decode in; defaults to :func:`shared_decode_pool`.

    Attributes
    ----------
    parallel : bool
        True when reads use the raw-chunk path, False when they go through HDF5 (no
        compression, or a filter only an HDF5 plugin can decode).
    shape, dtype
        Those of the dataset (``dtype`` in native byte order, as returned by reads).
    """

    def __init__(self, dataset: h5py.Dataset, pool: ThreadPoolExecutor | None = None) -> None:
        limit_malloc_arenas()  # before this reader's decode threads allocate
        self._ds = dataset
        self._pool = pool or shared_decode_pool()
        self.shape: tuple[int, ...] = tuple(dataset.shape)
        self.dtype = dataset.dtype.newbyteorder("=")
        self.chunks: tuple[int, ...] | None = dataset.chunks
        self._stored_dtype = dataset.dtype
        self._filters = self._read_filters()
        # Without compression there is nothing to decode in parallel: HDF5 copying straight
        # into the output (the fallback) is the fastest read there is.
        self.parallel = (
            self.chunks is not None
            and len(self.shape) >= 1
            and dataset.dtype.kind in "uifb"
            and any(fid in (FILTER_DEFLATE, FILTER_SHUFFLE) for fid, _ in self._filters)
            and all(fid in _DECODABLE_FILTERS for fid, _ in self._filters)
        )
        self._chunk_bytes = (
            int(np.prod(self.chunks)) * self._stored_dtype.itemsize if self.chunks else 0
        )

    # ----------------------------------------------------------------- inspection
    def _read_filters(self) -> list[tuple[int, tuple]]:
        plist = self._ds.id.get_create_plist()
        filters = []
        for k in range(plist.get_nfilters()):
            fid, _flags, values, _name = plist.get_filter(k)
            filters.append((int(fid), tuple(values)))
        return filters

    @property
    def filter_ids(self) -> list[int]:
        """HDF5 filter ids of the dataset's pipeline, in write order."""
        return [fid for fid, _ in self._filters]

    def frame_nbytes(self) -> int:
        """Bytes of one item along axis 0 once decoded (what a frame cache holds)."""
        return int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize

    # ----------------------------------------------------------------- reading
    def read(self, start: int, stop: int | None = None) -> np.ndarray:
        """Read items ``start:stop`` along axis 0 and return them as one array.

        Blocks until done. From a decode-pool thread it decodes inline, so a task may call it.

        Parameters
        ----------
        start, stop
            Half-open range along axis 0; ``stop`` defaults to ``start + 1``. Out-of-range
            values raise ``IndexError`` rather than returning a short slab.
        """
        start, stop = self._check_range(start, stop)
        if in_pool_thread():
            out = np.empty((stop - start, *self.shape[1:]), dtype=self.dtype)
            if self.parallel:
                for offset in self._chunk_offsets(start, stop):
                    self._decode_into(out, start, stop, offset)
            else:
                self._fallback_into(out, start, stop)
            return out
        return self.submit(start, stop).result()

    def read_frame(self, index: int) -> np.ndarray:
        """Read one item along axis 0 (one frame), without the leading axis."""
        return self.read(index, index + 1)[0]

    def submit(self, start: int, stop: int | None = None) -> Future:
        """Start reading items ``start:stop`` in the pool; the future yields the array.

        A slab spanning several chunks is split into one task per chunk; the future completes
        when all of them have (or with the first error). A slab that is exactly one stored
        chunk comes back without a copy, as a read-only view of the inflated bytes.
        """
        start, stop = self._check_range(start, stop)
        if self._is_whole_chunk(start, stop):
            # One stored chunk is exactly the slab: hand out the decoded buffer itself.
            return self._pool.submit(self._decode_chunk, (start,) + (0,) * (len(self.shape) - 1))
        out = np.empty((stop - start, *self.shape[1:]), dtype=self.dtype)
        result: Future = Future()
        result.set_running_or_notify_cancel()
        if not self.parallel or out.size == 0:
            task = self._pool.submit(self._fallback_into, out, start, stop)
            task.add_done_callback(lambda f: _settle(result, f, out))
            return result
        offsets = list(self._chunk_offsets(start, stop))
        remaining = [len(offsets)]
        lock = threading.Lock()

        def part_done(part: Future) -> None:
            error = part.exception()
            with lock:
                if result.done():
                    return
                if error is not None:
                    result.set_exception(error)
                    return
                remaining[0] -= 1
                if remaining[0] == 0:
                    result.set_result(out)

        for offset in offsets:
            part = self._pool.submit(self._decode_into, out, start, stop, offset)
            part.add_done_callback(part_done)
        return result

    def _is_whole_chunk(self, start: int, stop: int) -> bool:
        return (
            self.parallel
            and self._stored_dtype.isnative
            and self.chunks[1:] == self.shape[1:]
            and start % self.chunks[0] == 0
            and stop - start == self.chunks[0]
        )

    def iter_slabs(self, start: int, stop: int, max_items: int | None = None) -> Iterator[tuple]:
        """Yield ``(slab_start, slab_stop)`` ranges aligned to the chunk grid of axis 0.

        Projections and other whole-stack passes walk these so that no chunk is decoded twice.
        ``max_items`` caps the slab length (rounded to whole chunks where chunks are larger).
        """
        step = self.chunks[0] if self.chunks else 1
        if max_items and max_items > step:
            step = (max_items // step) * step
        first = (start // step) * step if self.chunks else start
        for slab_start in range(first, stop, step):
            lo = max(slab_start, start)
            hi = min(slab_start + step, stop)
            if hi > lo:
                yield lo, hi

    def _check_range(self, start: int, stop: int | None) -> tuple[int, int]:
        n = self.shape[0] if self.shape else 0
        start = int(start)
        stop = start + 1 if stop is None else int(stop)
        if not 0 <= start <= stop <= n:
            raise IndexError(f"slab {start}:{stop} is outside axis 0 of length {n}")
        check_allocation(
            (stop - start, *self.shape[1:]),
            self.dtype,
            f"reading {start}:{stop} of {self._ds.name}",
        )
        return start, stop

    def _chunk_offsets(self, start: int, stop: int) -> Iterator[tuple[int, ...]]:
        c0 = self.chunks[0]
        axis0 = range((start // c0) * c0, stop, c0)
        others = [range(0, size, c) for size, c in zip(self.shape[1:], self.chunks[1:])]
        for combo in itertools.product(axis0, *others):
            yield combo

    def _decode_into(self, out: np.ndarray, start: int, stop: int, offset: tuple) -> None:
        chunk = self._decode_chunk(offset)
        if chunk.dtype != self.dtype:
            chunk = chunk.astype(self.dtype)
        # Intersect the chunk with the requested slab and the dataset extent.
        src = []
        dst = []
        for axis, (o, c, size) in enumerate(zip(offset, self.chunks, self.shape)):
            lo, hi = o, min(o + c, size)
            if axis == 0:
                lo, hi = max(lo, start), min(hi, stop)
                dst.append(slice(lo - start, hi - start))
            else:
                dst.append(slice(lo, hi))
            src.append(slice(lo - o, hi - o))
        out[tuple(dst)] = chunk[tuple(src)]

    def _decode_chunk(self, offset: tuple) -> np.ndarray:
        try:
            mask, raw = self._ds.id.read_direct_chunk(offset)
        except RuntimeError:
            info = self._ds.id.get_chunk_info_by_coord(offset)
            if info.byte_offset is not None:
                raise
            # Never written: HDF5 would return the fill value.
            return np.full(self.chunks, self._ds.fillvalue, dtype=self._stored_dtype)
        data: bytes | memoryview = raw
        for k in reversed(range(len(self._filters))):
            if mask & (1 << k):
                continue  # this filter was skipped when the chunk was written
            fid, _values = self._filters[k]
            if fid == FILTER_DEFLATE:
                data = inflate(data, bufsize=self._chunk_bytes)
            elif fid == FILTER_SHUFFLE:
                data = _unshuffle(data, self._stored_dtype.itemsize)
            elif fid == FILTER_FLETCHER32:
                data = memoryview(data)[:-4]
        chunk = np.frombuffer(data, dtype=self._stored_dtype).reshape(self.chunks)
        return chunk  # read-only when it wraps the inflated bytes: frames are never edited

    def _fallback_into(self, out: np.ndarray, start: int, stop: int) -> None:
        if out.size:
            self._ds.read_direct(out, np.s_[start:stop], np.s_[:])


def _settle(result: Future, task: Future, value: np.ndarray) -> None:
    error = task.exception()
    if error is not None:
        result.set_exception(error)
    else:
        result.set_result(value)


def map_slabs(
    reader: ChunkReader,
    slabs: list[tuple[int, int]],
    consume: Callable[[int, int, np.ndarray], object],
    max_in_flight: int | None = None,
) -> Iterator[object]:
    """Read ``slabs`` ahead in the pool and yield ``consume(start, stop, array)`` in order.

    At most ``max_in_flight`` slabs are decoded ahead of the consumer, which bounds memory for
    whole-stack passes. ``consume`` runs in the pool too (chained after the decode), so
    per-slab reductions use every core as well; results are yielded in slab order. Closing the
    generator early (a cancelled projection) stops scheduling new work; the few slabs already
    in flight finish and are dropped.
    """
    in_flight = max_in_flight or 2 * (os.cpu_count() or 2)
    pool = reader._pool
    stopped = threading.Event()

    def start_one(lo: int, hi: int) -> Future:
        reduced: Future = Future()
        reduced.set_running_or_notify_cancel()

        def finish(task: Future) -> None:
            if task.exception() is not None:
                reduced.set_exception(task.exception())
            else:
                reduced.set_result(task.result())

        def chain(decoded: Future) -> None:
            if decoded.exception() is not None:
                reduced.set_exception(decoded.exception())
            elif stopped.is_set():
                reduced.set_result(None)
            else:
                pool.submit(consume, lo, hi, decoded.result()).add_done_callback(finish)

        reader.submit(lo, hi).add_done_callback(chain)
        return reduced

    queue = iter(slabs)
    pending = [start_one(lo, hi) for lo, hi in itertools.islice(queue, in_flight)]
    try:
        while pending:
            value = pending.pop(0).result()
            nxt = next(queue, None)
            if nxt is not None:
                pending.append(start_one(*nxt))
            yield value
    finally:
        stopped.set()
