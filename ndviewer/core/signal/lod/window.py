"""Window requests: "times [t0, t1), these channels, N pixels wide" → min/max columns.

:class:`TraceLod` answers a request from the cheapest place that is exact:

- fewer samples than columns: the raw samples themselves (``kind="samples"``);
- a persisted pyramid level whose bins fit the column width: a few megabytes of level rows,
  combined to the column width (``source="pyramid L<spc>"``);
- otherwise the raw data, decimated unit by unit (``source="raw"``), with each unit's bins
  kept in a bounded LRU cache so that the next page or a small scroll step re-uses them.

Columns are aligned to a global grid of ``spc`` samples (see :mod:`.decimate`), so the same
column always has the same value whatever window contains it. Irregularly timestamped series
are decimated the same way and then re-binned by time into uniform columns.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ndviewer.core.signal.lod.blocks import unit_pool
from ndviewer.core.signal.lod.decimate import combine_bins, empty_minmax, merge_into, minmax_bins
from ndviewer.core.signal.lod.pyramid import Pyramid

__all__ = ["FetchCancelled", "NeedsPyramid", "TraceLod", "TraceWindow"]

#: Pyramid windows kept for re-use (each a few megabytes at most).
_SHARED_WINDOWS = 4
#: Raw reads larger than this many values (samples × channels) wait for the pyramid instead.
DEFAULT_MAX_RAW_VALUES = 256_000_000


class FetchCancelled(Exception):
    """The request was superseded while being computed."""


class NeedsPyramid(Exception):
    """The window is too long to decimate from raw data in reasonable time; the caller
    should build (or wait for) the pyramid and ask again."""


@dataclass(frozen=True)
class TraceWindow:
    """What a trace view draws for one window, in physical units.

    Attributes
    ----------
    t0, t1 : float
        The requested window.
    channels : numpy.ndarray
        Channel indices, one per column of ``lo``/``hi``/``values``.
    kind : str
        ``"envelope"`` (per-column min/max) or ``"samples"`` (raw samples).
    col_t0, col_dt : float
        Envelope only: column ``k`` spans ``[col_t0 + k*col_dt, col_t0 + (k+1)*col_dt)``.
    lo, hi : numpy.ndarray
        Envelope only: ``(columns, channels)`` float32 minima and maxima (NaN = no data).
    times, values : numpy.ndarray
        Samples only: ``(n,)`` float64 times and ``(n, channels)`` float32 values, including
        one sample beyond each edge of the window when there is one (lines reach the edges).
    spc : int
        Samples per column: 1 for samples, 0 when irregular samples were binned by time.
    source : str
        Where the numbers came from: ``"samples"``, ``"raw"`` or ``"pyramid L<spc>"``.
    """

    t0: float
    t1: float
    channels: np.ndarray
    kind: str
    col_t0: float = 0.0
    col_dt: float = 0.0
    lo: np.ndarray = field(default_factory=lambda: np.empty((0, 0), np.float32))
    hi: np.ndarray = field(default_factory=lambda: np.empty((0, 0), np.float32))
    times: np.ndarray = field(default_factory=lambda: np.empty(0))
    values: np.ndarray = field(default_factory=lambda: np.empty((0, 0), np.float32))
    spc: int = 1
    source: str = "samples"

    @property
    def n_columns(self) -> int:
        return int(self.lo.shape[0]) if self.kind == "envelope" else int(self.times.shape[0])


class _BinCache:
    """LRU of decimated units: ``(spc, row_unit, col_unit) -> (first_bin, lo, hi)``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, tuple[int, np.ndarray, np.ndarray]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple[int, np.ndarray, np.ndarray] | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: tuple, item: tuple[int, np.ndarray, np.ndarray]) -> None:
        size = item[1].nbytes + item[2].nbytes
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1].nbytes + old[2].nbytes
            self._items[key] = item
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped[1].nbytes + dropped[2].nbytes

    @property
    def nbytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


@dataclass(frozen=True)
class _Span:
    """One request resolved to samples ``[i0, i1)`` and the channel block ``[c0, c1)``."""

    t0: float
    t1: float
    i0: int
    i1: int
    c0: int
    c1: int
    channels: np.ndarray
    max_columns: int

    def pick(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The requested channels' columns out of the ``[c0, c1)`` block."""
        channels = self.channels
        if channels.size != self.c1 - self.c0 or np.any(np.diff(channels) != 1):
            return lo[:, channels - self.c0], hi[:, channels - self.c0]
        return lo, hi


class TraceLod:
    """Level-of-detail reads of one time series (see the module docstring).

    Parameters
    ----------
    source
        A :class:`~ndviewer.core.nwb.timeseries.TimeSeriesSource` (anything with
        ``reader``, ``time_axis``, ``scale()``, ``offset``, ``n_samples``, ``n_channels``).
    pyramid
        A complete pyramid of the source's data, if one exists (may be set later).
    cache_bytes
        Budget of the decimated-unit cache.
    max_raw_values
        Raw windows beyond this many values raise :class:`NeedsPyramid`.
    """

    def __init__(
        self,
        source,
        pyramid: Pyramid | None = None,
        cache_bytes: int = 32 << 20,
        max_raw_values: int = DEFAULT_MAX_RAW_VALUES,
    ) -> None:
        self.source = source
        self.pyramid = pyramid
        self.max_raw_values = max_raw_values
        self._cache = _BinCache(cache_bytes)
        # finished pyramid windows (or an Event while one is being computed), newest last
        self._windows: OrderedDict[tuple, TraceWindow | threading.Event] = OrderedDict()
        self._windows_lock = threading.Lock()

    # -- planning ----------------------------------------------------------------------------
    def plan(self, n_samples: int, max_columns: int) -> tuple[int, int | None]:
        """``(spc, level)``: samples per column and the pyramid level to read (None = raw)."""
        need = max(1, math.ceil(n_samples / max(1, max_columns)))
        if self.pyramid is not None:
            level = self.pyramid.best_level(need)
            if level is not None:
                return math.ceil(need / level) * level, level
        return need, None

    def needs_pyramid(self, t0: float, t1: float, n_channels: int, max_columns: int) -> bool:
        """True when :meth:`fetch` would raise :class:`NeedsPyramid` for this request."""
        i0, i1 = self.source.time_axis.window(t0, t1)
        n = i1 - i0
        if n <= max_columns:
            return False
        _, level = self.plan(n if self.source.time_axis.is_regular else 2 * n, max_columns)
        return level is None and n * max(1, n_channels) > self.max_raw_values

    # -- bins ----------------------------------------------------------------------------------
    def bins(
        self,
        i0: int,
        i1: int,
        c0: int,
        c1: int,
        spc: int,
        level: int | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> tuple[int, np.ndarray, np.ndarray]:
        """Stored-dtype min/max of the aligned ``spc`` bins covering samples ``[i0, i1)``.

        Returns ``(first_bin, lo, hi)`` with ``lo``/``hi`` of shape ``(bins, c1 - c0)``.
        """
        n = self.source.n_samples
        i0, i1 = max(0, i0), min(n, i1)
        b0, b1 = i0 // spc, -(-i1 // spc) if i1 > i0 else i0 // spc
        if level is not None and self.pyramid is not None:
            factor = spc // level
            l0, l1 = b0 * factor, b1 * factor
            llo, lhi = self.pyramid.read(level, l0, l1, c0, c1)
            first, lo, hi = combine_bins(l0, llo, lhi, factor)
            return first, lo, hi
        reader = self.source.reader
        lo, hi = empty_minmax(b1 - b0, c1 - c0, reader.dtype)
        rows, cols = reader.units_for(b0 * spc, min(n, b1 * spc), c0, c1)
        units = [(ru, cu) for ru in rows for cu in cols]
        items = {u: self._cache.get((spc, *u)) for u in units}
        missing = [u for u in units if items[u] is None]

        def decimate(unit: tuple[int, int]) -> tuple[int, np.ndarray, np.ndarray]:
            if cancelled is not None and cancelled():
                raise FetchCancelled()
            r0 = reader.unit_bounds(*unit)[0]
            item = minmax_bins(reader.read_unit(*unit), r0, spc)
            self._cache.put((spc, *unit), item)
            return item

        if len(missing) > 1:
            # pread, zlib and numpy release the GIL: decode units on every core
            for unit, item in zip(missing, unit_pool().map(decimate, missing), strict=True):
                items[unit] = item
        elif missing:
            items[missing[0]] = decimate(missing[0])
        for ru, cu in units:
            _, _, u0, u1 = reader.unit_bounds(ru, cu)
            first, ulo, uhi = items[(ru, cu)]
            p, q = max(c0, u0), min(c1, u1)
            merge_into(
                lo[:, p - c0 : q - c0],
                hi[:, p - c0 : q - c0],
                b0,
                first,
                ulo[:, p - u0 : q - u0],
                uhi[:, p - u0 : q - u0],
            )
        return b0, lo, hi

    # -- windows -------------------------------------------------------------------------------
    def fetch(
        self,
        t0: float,
        t1: float,
        channels: np.ndarray,
        max_columns: int,
        cancelled: Callable[[], bool] | None = None,
    ) -> TraceWindow:
        """The columns (or samples) to draw ``channels`` over ``[t0, t1)`` in ``max_columns``.

        Raises
        ------
        NeedsPyramid
            When the window needs a pyramid level that does not exist yet and reading the raw
            data would exceed ``max_raw_values``.
        FetchCancelled
            When ``cancelled()`` turned true during the read.
        """
        src = self.source
        axis = src.time_axis
        channels = np.asarray(channels, dtype=np.int64)
        if t1 < t0:
            t0, t1 = t1, t0
        i0, i1 = axis.window(t0, t1)
        n = i1 - i0
        if channels.size == 0 or src.n_samples == 0:
            return TraceWindow(
                t0, t1, channels, "samples", values=np.empty((0, channels.size), np.float32)
            )
        if n <= max_columns:
            a, b = max(0, i0 - 1), min(src.n_samples, i1 + 1)
            values = src.read(a, b, channels)
            physical = src.to_physical(values, channels, np.float32)
            return TraceWindow(
                t0,
                t1,
                channels,
                "samples",
                times=axis.times(a, b),
                values=physical,
                spc=1,
                source="samples",
            )
        c0, c1 = int(channels.min()), int(channels.max()) + 1
        regular = axis.is_regular
        # irregular series: ~2 bins per column, re-binned by time below
        spc, level = self.plan(n, max_columns if regular else 2 * max_columns)
        if level is None and n * (c1 - c0) > self.max_raw_values:
            raise NeedsPyramid(
                f"{src.path}: {n} samples × {c1 - c0} channels need the overview pyramid"
            )
        span = _Span(t0, t1, i0, i1, c0, c1, channels, max_columns)
        if not regular and level is None:
            return self._fetch_timed(span, cancelled)
        if level is not None:
            # the whole-session view and the overview strip ask for the same pyramid window,
            # often at the same moment: compute it once
            key = (t0, t1, channels.tobytes(), max_columns)
            return self._shared_window(key, lambda: self._envelope(span, spc, level))
        return self._envelope(span, spc, level, cancelled)

    def _envelope(
        self,
        span: _Span,
        spc: int,
        level: int | None,
        cancelled: Callable[[], bool] | None = None,
    ) -> TraceWindow:
        """Min/max columns of ``spc`` samples, from the pyramid level or the raw data."""
        src = self.source
        axis = src.time_axis
        t0, t1, channels, max_columns = span.t0, span.t1, span.channels, span.max_columns
        first, lo, hi = self.bins(span.i0, span.i1, span.c0, span.c1, spc, level, cancelled)
        lo, hi = span.pick(lo, hi)
        plo, phi = self._physical_minmax(lo, hi, channels)
        source = "raw" if level is None else f"pyramid L{level}"
        if axis.is_regular:
            rate = axis.rate
            col_t0 = axis.starting_time + first * spc / rate
            return TraceWindow(
                t0, t1, channels, "envelope", col_t0, spc / rate, plo, phi, spc=spc, source=source
            )
        # long irregular series from the pyramid: each bin lands in the column of its first
        # sample (exact to within one bin width)
        starts = axis.times(first * spc, min(src.n_samples, (first + lo.shape[0]) * spc))[::spc]
        col_dt = (t1 - t0) / max_columns
        clo, chi = rebin_by_time(starts, plo, phi, t0, col_dt, max_columns)
        return TraceWindow(
            t0, t1, channels, "envelope", t0, col_dt, clo, chi, spc=spc, source=source
        )

    def _shared_window(self, key: tuple, compute: Callable[[], TraceWindow]) -> TraceWindow:
        """``compute()``, or the window another thread computed (or is computing) for ``key``."""
        with self._windows_lock:
            entry = self._windows.get(key)
            if entry is None:
                mine = threading.Event()
                self._windows[key] = mine
            else:
                self._windows.move_to_end(key)
        if entry is not None:
            if isinstance(entry, TraceWindow):
                return entry
            entry.wait()
            with self._windows_lock:
                done = self._windows.get(key)
            return done if isinstance(done, TraceWindow) else compute()
        try:
            window = compute()
        except BaseException:
            with self._windows_lock:
                self._windows.pop(key, None)
            mine.set()
            raise
        for array in (window.lo, window.hi):
            if array is not None:
                array.setflags(write=False)  # shared between callers
        with self._windows_lock:
            self._windows[key] = window
            finished = [k for k, v in self._windows.items() if isinstance(v, TraceWindow)]
            for old in finished[: max(0, len(finished) - _SHARED_WINDOWS)]:
                del self._windows[old]
        mine.set()
        return window

    def _fetch_timed(self, span: _Span, cancelled: Callable[[], bool] | None) -> TraceWindow:
        """Exact per-column min/max of irregularly timed samples, unit by unit."""
        src = self.source
        t0, t1, i0, i1, c0, c1 = span.t0, span.t1, span.i0, span.i1, span.c0, span.c1
        channels, max_columns = span.channels, span.max_columns
        col_dt = (t1 - t0) / max_columns
        lo = np.full((max_columns, c1 - c0), np.nan)
        hi = np.full((max_columns, c1 - c0), np.nan)
        for a, p, block in src.reader.iter_units(i0, i1, c0, c1):
            if cancelled is not None and cancelled():
                raise FetchCancelled()
            times = src.time_axis.times(a, a + block.shape[0])
            col = np.clip(np.floor((times - t0) / col_dt).astype(np.int64), 0, max_columns - 1)
            runs = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
            values = block.astype(np.float64)
            cols, q = col[runs], p + block.shape[1]
            lo[cols, p - c0 : q - c0] = np.fmin(
                lo[cols, p - c0 : q - c0], np.fmin.reduceat(values, runs, axis=0)
            )
            hi[cols, p - c0 : q - c0] = np.fmax(
                hi[cols, p - c0 : q - c0], np.fmax.reduceat(values, runs, axis=0)
            )
        lo, hi = span.pick(lo, hi)
        plo, phi = self._physical_minmax(lo, hi, channels)
        return TraceWindow(t0, t1, channels, "envelope", t0, col_dt, plo, phi, spc=0, source="raw")

    def _physical_minmax(
        self, lo: np.ndarray, hi: np.ndarray, channels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scale stored min/max to physical units; a negative factor swaps min and max."""
        factor = self.source.scale(channels).astype(np.float32)
        offset = np.float32(self.source.offset)
        plo = lo.astype(np.float32) * factor + offset
        phi = hi.astype(np.float32) * factor + offset
        flip = factor < 0
        if flip.any():
            plo[:, flip], phi[:, flip] = phi[:, flip], plo[:, flip].copy()
        return plo, phi

    def clear_cache(self) -> None:
        """Drop cached decimated units and the reader's decoded units (e.g. under memory
        pressure, or when the view closes)."""
        self._cache.clear()
        with self._windows_lock:
            for key in [k for k, v in self._windows.items() if isinstance(v, TraceWindow)]:
                del self._windows[key]
        clear_reader = getattr(self.source.reader, "clear_cache", None)
        if clear_reader is not None:
            clear_reader()

    @property
    def cache_bytes(self) -> int:
        """Bytes currently held by the decimated-unit cache."""
        return self._cache.nbytes


def rebin_by_time(
    starts: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    col_t0: float,
    col_dt: float,
    n_columns: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Fold bins that start at times ``starts`` into ``n_columns`` uniform time columns.

    Each bin goes to the column containing its first sample; columns no bin reaches are NaN.
    """
    out_lo = np.full((n_columns, lo.shape[1]), np.nan, dtype=np.float32)
    out_hi = np.full((n_columns, lo.shape[1]), np.nan, dtype=np.float32)
    if starts.size == 0:
        return out_lo, out_hi
    col = np.floor((starts - col_t0) / col_dt).astype(np.int64)
    keep = (col >= 0) & (col < n_columns)
    col, lo, hi = col[keep], lo[keep], hi[keep]
    if col.size == 0:
        return out_lo, out_hi
    # bins are time-ordered, so equal columns are consecutive: one reduceat per run
    run_starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    out_lo[col[run_starts]] = np.fmin.reduceat(lo, run_starts, axis=0)
    out_hi[col[run_starts]] = np.fmax.reduceat(hi, run_starts, axis=0)
    return out_lo, out_hi
