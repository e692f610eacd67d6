"""Min/max decimation of multichannel signals into bins aligned to a global grid.

A bin of ``spc`` samples always starts at a multiple of ``spc`` (sample index, not window
start), so the same bins come back whichever window asks for them: scrolled frames re-use
cached bins, pyramid levels combine exactly (a level-256 bin is the min/max of four level-64
bins), and the picture does not shimmer as the window moves.

All reductions use the reshape form ``(bins, spc, channels).min(axis=1)`` (the fast one, see
PERF-BASELINES.md) with the ragged head and tail handled separately. Float data ignore NaN
(``fmin``/``fmax``): a bin is NaN only when every sample in it is NaN, i.e. a real gap.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "bin_range",
    "combine_bins",
    "merge_into",
    "minmax_bins",
    "reduce_bins",
]


def _ops(dtype: np.dtype) -> tuple[np.ufunc, np.ufunc]:
    """The (min, max) ufuncs for ``dtype``: NaN-ignoring for floats, plain for integers."""
    if np.dtype(dtype).kind in "fc":
        return np.fmin, np.fmax
    return np.minimum, np.maximum


def bin_range(start: int, stop: int, spc: int) -> tuple[int, int]:
    """Indices ``[b0, b1)`` of the aligned bins of ``spc`` samples that cover ``[start, stop)``."""
    if stop <= start:
        return start // spc, start // spc
    return start // spc, -(-stop // spc)


def reduce_bins(block: np.ndarray, start: int, spc: int, op: np.ufunc) -> tuple[int, np.ndarray]:
    """Reduce the rows of ``block`` with ``op`` per aligned bin of ``spc`` samples.

    Parameters
    ----------
    block
        Array of shape ``(n, channels)``: consecutive samples starting at global index
        ``start``.
    start
        Global sample index of ``block[0]``.
    spc
        Samples per bin (>= 1).
    op
        A binary ufunc with ``reduce`` (``np.minimum``, ``np.fmax``...).

    Returns
    -------
    first_bin, reduced
        The global index of the first bin touched and an array ``(bins, channels)``. The first
        and last bins are partial when ``block`` does not start or end on a bin boundary; merge
        them with the neighbouring blocks' bins using the same ``op``.
    """
    n = block.shape[0]
    if spc < 1:
        raise ValueError(f"samples per bin must be >= 1, got {spc}")
    first_bin = start // spc
    if n == 0:
        return first_bin, np.empty((0,) + block.shape[1:], dtype=block.dtype)
    last_bin = (start + n - 1) // spc
    out = np.empty((last_bin - first_bin + 1,) + block.shape[1:], dtype=block.dtype)
    head = min(n, (-start) % spc)
    pos = 0
    k = 0
    if head:
        op.reduce(block[:head], axis=0, out=out[0])
        pos = head
        k = 1
    full = (n - pos) // spc
    if full:
        body = block[pos : pos + full * spc].reshape((full, spc) + block.shape[1:])
        op.reduce(body, axis=1, out=out[k : k + full])
        pos += full * spc
        k += full
    if pos < n:
        op.reduce(block[pos:], axis=0, out=out[k])
        k += 1
    assert k == out.shape[0]
    return first_bin, out


def minmax_bins(block: np.ndarray, start: int, spc: int) -> tuple[int, np.ndarray, np.ndarray]:
    """Per-bin minimum and maximum of ``block`` (see :func:`reduce_bins`).

    A 1-D ``block`` is treated as one channel; the results are always 2-D ``(bins, channels)``.
    """
    if block.ndim == 1:
        block = block[:, None]
    fmin, fmax = _ops(block.dtype)
    first_bin, lo = reduce_bins(block, start, spc, fmin)
    _, hi = reduce_bins(block, start, spc, fmax)
    return first_bin, lo, hi


def combine_bins(
    first_bin: int, lo: np.ndarray, hi: np.ndarray, factor: int
) -> tuple[int, np.ndarray, np.ndarray]:
    """Combine bins ``factor`` at a time into coarser aligned bins (min of mins, max of maxes).

    ``first_bin`` is in units of the fine bins; the returned first bin is in coarse units.
    """
    fmin, fmax = _ops(lo.dtype)
    coarse_first, clo = reduce_bins(lo, first_bin, factor, fmin)
    _, chi = reduce_bins(hi, first_bin, factor, fmax)
    return coarse_first, clo, chi


def merge_into(
    dest_lo: np.ndarray,
    dest_hi: np.ndarray,
    dest_first: int,
    first_bin: int,
    lo: np.ndarray,
    hi: np.ndarray,
) -> None:
    """Fold bins ``[first_bin, first_bin + len(lo))`` into ``dest`` arrays that start at
    ``dest_first``, keeping min of mins and max of maxes; bins outside ``dest`` are ignored.

    ``dest`` must be initialised with the identity of the reduction (``+inf``/``-inf``, dtype
    max/min, or NaN for floats).
    """
    a = max(first_bin, dest_first)
    b = min(first_bin + lo.shape[0], dest_first + dest_lo.shape[0])
    if b <= a:
        return
    fmin, fmax = _ops(dest_lo.dtype)
    d = slice(a - dest_first, b - dest_first)
    s = slice(a - first_bin, b - first_bin)
    fmin(dest_lo[d], lo[s], out=dest_lo[d])
    fmax(dest_hi[d], hi[s], out=dest_hi[d])


def empty_minmax(n_bins: int, n_channels: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Arrays ready for :func:`merge_into`: filled with the identity of min and max.

    Floats start as NaN (``fmin``/``fmax`` ignore NaN, and a bin no sample reached stays a
    gap); integers start at the dtype's max (for ``lo``) and min (for ``hi``).
    """
    dtype = np.dtype(dtype)
    if dtype.kind in "fc":
        lo = np.full((n_bins, n_channels), np.nan, dtype=dtype)
        hi = np.full((n_bins, n_channels), np.nan, dtype=dtype)
    else:
        info = np.iinfo(dtype)
        lo = np.full((n_bins, n_channels), info.max, dtype=dtype)
        hi = np.full((n_bins, n_channels), info.min, dtype=dtype)
    return lo, hi
