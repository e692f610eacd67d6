"""Rasterise stacked traces and spike trains into one small image, in numpy.

Drawing 384 channels as curves costs Qt's painter tens of milliseconds whatever pyqtgraph
does (PERF-BASELINES.md). Here every channel's per-column (min, max) span becomes a vertical
run of pixels in one ``uint8`` image whose value is the channel's colour index; the GUI shows
the image with a colour table. Cost grows with columns × channels (about a million spans),
not with samples, and runs off the GUI thread.

Geometry: channel ``k`` is drawn around ``centers[k]`` (data y), at ``y = centers[k] +
(value - baselines[k]) * gains[k]``; the image spans ``[y_bottom, y_top]`` in ``height`` rows,
row 0 at ``y_top``. Adjacent columns are joined (a column reaches to its left neighbour's
nearest end), so steep edges stay connected lines instead of scattered dots.

With ``clip`` each trace stays inside its own band, ``centers[k] ± clip``: one saturated or
very loud channel once covered the fifteen lanes below it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LaneLayout", "rasterize_envelope", "rasterize_trains", "samples_to_columns"]


@dataclass(frozen=True)
class LaneLayout:
    """Where each channel's trace goes in the image.

    Attributes
    ----------
    centers : numpy.ndarray
        Data-y of each channel's lane centre.
    baselines : numpy.ndarray
        Physical value drawn at the lane centre (e.g. the channel's median).
    gains : numpy.ndarray
        Data-y per physical unit, per channel.
    y_top, y_bottom : float
        Data-y of the top edge of row 0 and of the bottom edge of the last row.
    height : int
        Image rows.
    clip : float
        Half-height (data-y) of each channel's band, outside which its trace is cut; 0 (the
        default) draws every trace in full.
    """

    centers: np.ndarray
    baselines: np.ndarray
    gains: np.ndarray
    y_top: float
    y_bottom: float
    height: int
    clip: float = 0.0

    def band_rows(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Per channel, the first and last image row (fractional) of its band; None unclipped."""
        if self.clip <= 0:
            return None
        pixels = self.height / (self.y_top - self.y_bottom)
        center = (self.y_top - np.asarray(self.centers, np.float64)) * pixels
        half = self.clip * pixels
        return (center - half).astype(np.float32), (center + half).astype(np.float32)

    def row_transform(self) -> tuple[np.ndarray, np.ndarray]:
        """Per channel ``(scale, offset)``: image row = value * scale + offset (float32).

        One multiply-add per value instead of five passes over the (columns, channels) array.
        """
        pixels = self.height / (self.y_top - self.y_bottom)
        gains = np.asarray(self.gains, dtype=np.float64)
        scale = -gains * pixels
        offset = (
            self.y_top - np.asarray(self.centers, np.float64) + np.asarray(self.baselines) * gains
        ) * pixels
        return scale.astype(np.float32), offset.astype(np.float32)

    def rows(self, values: np.ndarray) -> np.ndarray:
        """Fractional image row of ``values`` ``(columns, channels)`` (row 0 at the top)."""
        scale, offset = self.row_transform()
        rows = np.multiply(values, scale, dtype=np.float32)
        rows += offset
        return rows


def samples_to_columns(
    times: np.ndarray,
    values: np.ndarray,
    col_t0: float,
    col_dt: float,
    n_columns: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-column min/max of the polyline through ``(times, values)`` (zoomed-in views).

    Each column's span covers the line's values at both column edges (linear interpolation
    between neighbouring samples) and every sample inside the column, so the raster of a few
    samples is the straight-line plot. Columns outside the samples' time range are NaN.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    nch = values.shape[1]
    lo = np.full((n_columns, nch), np.nan, dtype=np.float64)
    hi = np.full((n_columns, nch), np.nan, dtype=np.float64)
    n = times.shape[0]
    if n == 0 or n_columns == 0:
        return lo.astype(np.float32), hi.astype(np.float32)
    edges = col_t0 + col_dt * np.arange(n_columns + 1)
    if n >= 2:
        right = np.clip(np.searchsorted(times, edges, side="right"), 1, n - 1)
        left = right - 1
        span = times[right] - times[left]
        frac = np.where(span > 0, (edges - times[left]) / np.where(span > 0, span, 1.0), 0.0)
        at_edges = values[left] + (values[right] - values[left]) * frac[:, None]
        outside = (edges < times[0]) | (edges > times[-1])
        at_edges[outside] = np.nan
        np.fmin(at_edges[:-1], at_edges[1:], out=lo)
        np.fmax(at_edges[:-1], at_edges[1:], out=hi)
    col = np.floor((times - col_t0) / col_dt).astype(np.int64)
    inside = (col >= 0) & (col < n_columns)
    np.fmin.at(lo, col[inside], values[inside])
    np.fmax.at(hi, col[inside], values[inside])
    return lo.astype(np.float32), hi.astype(np.float32)


def rasterize_envelope(
    lo: np.ndarray,
    hi: np.ndarray,
    layout: LaneLayout,
    colors: np.ndarray,
) -> np.ndarray:
    """Paint ``(columns, channels)`` min/max spans into a ``(height, columns)`` uint8 image.

    Parameters
    ----------
    lo, hi
        Per-column minima and maxima, physical units (NaN = nothing to draw).
    layout
        Lane geometry.
    colors
        ``uint8`` colour index per channel (0 is the background). Where the spans of two
        channels overlap, either colour may show.
    """
    n_cols, nch = lo.shape
    height = int(layout.height)
    if n_cols == 0 or nch == 0 or height <= 0:
        return np.zeros((max(0, height), n_cols), dtype=np.uint8)
    scale, offset = layout.row_transform()
    r_a = np.multiply(hi, scale, dtype=np.float32)
    r_a += offset
    r_b = np.multiply(lo, scale, dtype=np.float32)
    r_b += offset
    top = np.fmin(r_a, r_b)
    bottom = np.fmax(r_a, r_b, out=r_a)
    band = layout.band_rows()
    if band is not None:  # NaN (no data) stays NaN: np.minimum/maximum propagate it
        np.minimum(np.maximum(top, band[0]), band[1], out=top)
        np.minimum(np.maximum(bottom, band[0]), band[1], out=bottom)
    gaps = np.isnan(top)
    # join each column to its left neighbour's nearest end (no-op where they overlap)
    joined_top = np.empty_like(top)
    joined_top[0] = top[0]
    np.fmin(top[1:], bottom[:-1], out=joined_top[1:])
    joined_bottom = r_b
    joined_bottom[0] = bottom[0]
    np.fmax(bottom[1:], top[:-1], out=joined_bottom[1:])
    # The image gets a spare row above and below: a span off the top lands (clipped) in the
    # spare top row, one off the bottom in the spare bottom row, a gap (NaN) in the top one.
    # Every span is then written without masks; the spare rows are cut off at the end.
    for rows in (joined_top, joined_bottom):
        np.clip(rows, -1, height, out=rows)
        rows += 1  # non-negative now, so truncation is floor
        np.copyto(rows, 0, where=gaps)
    start = joined_top.astype(np.int32)
    stop = joined_bottom.astype(np.int32)
    length = stop - start
    step = np.int32(n_cols)
    columns = np.arange(n_cols, dtype=np.int32)[:, None]
    start *= step
    start += columns
    stop *= step
    stop += columns
    flat = np.zeros((height + 2) * n_cols, dtype=np.uint8)
    color = np.empty(lo.shape, dtype=np.uint8)
    color[:] = np.asarray(colors, dtype=np.uint8)
    # row-major image, spans in (column, channel) order: one column's writes touch a few
    # hundred cache lines, which the next column reuses
    flat[start] = color
    flat[stop] = color
    inner = length >= 2  # most spans are 1-2 rows; the long tail shrinks pass by pass
    if inner.any():
        at, length, color = start[inner], length[inner], color[inner]
        d = 1
        while at.size:
            at += step
            flat[at] = color
            d += 1
            keep = length > d
            if not keep.all():
                at, length, color = at[keep], length[keep], color[keep]
    return flat.reshape(height + 2, n_cols)[1:-1]


def rasterize_trains(
    trains: list[np.ndarray],
    t0: float,
    dt: float,
    n_columns: int,
    height: int,
    colors: np.ndarray,
) -> np.ndarray:
    """Spike raster: row band ``k`` of the image gets a tick in each column holding a spike
    of ``trains[k]``; returns ``(height, n_columns)`` uint8 colour indices."""
    image = np.zeros((height, n_columns), dtype=np.uint8)
    n = len(trains)
    if n == 0 or height == 0 or n_columns == 0:
        return image
    bounds = np.floor(np.arange(n + 1) * (height / n)).astype(int)
    for k, train in enumerate(trains):
        r0, r1 = bounds[k], bounds[k + 1]
        if r1 - r0 >= 3:
            r1 -= 1  # keep a one-pixel gap between rows
        if r1 <= r0 or train.size == 0:
            continue
        col = np.floor((np.asarray(train) - t0) / dt).astype(np.int64)
        col = col[(col >= 0) & (col < n_columns)]
        image[r0:r1, col] = colors[k]
    return image
