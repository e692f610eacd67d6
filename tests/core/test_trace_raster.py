"""Rasterising min/max spans and spike trains: checked pixel by pixel against loops."""

from __future__ import annotations

import numpy as np

from ndviewer.core.signal.trace_raster import (
    LaneLayout,
    rasterize_envelope,
    rasterize_trains,
    samples_to_columns,
)


def reference_raster(lo, hi, layout: LaneLayout) -> np.ndarray:
    """Coverage mask the slow way: per column and channel, the joined span of rows."""
    n_cols, nch = lo.shape
    h = layout.height
    rows_hi = layout.rows(hi.astype(np.float32))
    rows_lo = layout.rows(lo.astype(np.float32))
    mask = np.zeros((h, n_cols), bool)
    for c in range(nch):
        for k in range(n_cols):
            a, b = np.fmin(rows_hi[k, c], rows_lo[k, c]), np.fmax(rows_hi[k, c], rows_lo[k, c])
            if k > 0:
                pa = np.fmin(rows_hi[k - 1, c], rows_lo[k - 1, c])
                pb = np.fmax(rows_hi[k - 1, c], rows_lo[k - 1, c])
                a, b = np.fmin(a, pb), np.fmax(b, pa)
            if np.isnan(a) or np.isnan(b) or b < 0 or a >= h:
                continue
            top = int(np.clip(a, 0, h - 1))
            bottom = int(np.clip(b, 0, h - 1))
            mask[top : bottom + 1, k] = True
    return mask


def _layout(nch: int, height: int, gain: float = 0.1) -> LaneLayout:
    return LaneLayout(
        centers=-np.arange(nch, dtype=np.float32),
        baselines=np.zeros(nch, np.float32),
        gains=np.full(nch, gain, np.float32),
        y_top=0.5,
        y_bottom=-nch + 0.5,
        height=height,
    )


def test_envelope_raster_matches_reference() -> None:
    rng = np.random.default_rng(0)
    lo = rng.normal(size=(120, 6)).astype(np.float32) * 3
    hi = lo + np.abs(rng.normal(size=(120, 6))).astype(np.float32) * 4
    lo[10:14, 2] = np.nan
    hi[10:14, 2] = np.nan
    hi[50, 4] = 200.0  # a spike far beyond the image top
    layout = _layout(6, 90)
    colors = np.arange(1, 7, dtype=np.uint8)
    image = rasterize_envelope(lo, hi, layout, colors)
    assert image.shape == (90, 120) and image.dtype == np.uint8
    np.testing.assert_array_equal(image > 0, reference_raster(lo, hi, layout))
    # where one channel alone covers a pixel, it carries that channel's colour
    for c in range(6):
        alone = reference_raster(lo[:, [c]], hi[:, [c]], _single(layout, c))
        others = np.zeros_like(alone)
        for o in range(6):
            if o != c:
                others |= reference_raster(lo[:, [o]], hi[:, [o]], _single(layout, o))
        only = alone & ~others
        assert only.any()
        assert (image[only] == colors[c]).all()


def test_spans_leaving_the_image_are_clipped_not_dropped() -> None:
    """Large gains: spans run off the top and bottom, some lie wholly outside, some are
    gaps, some end within a row of an edge; the coverage must still equal the loop's."""
    rng = np.random.default_rng(7)
    lo = rng.normal(size=(300, 5)).astype(np.float32) * 40
    hi = lo + np.abs(rng.normal(size=(300, 5))).astype(np.float32) * 60
    lo[::17, 1] = np.nan
    hi[::17, 1] = np.nan
    lo[100:104, 0], hi[100:104, 0] = 1e6, 2e6  # wholly above
    lo[200:204, 4], hi[200:204, 4] = -2e6, -1e6  # wholly below
    layout = _layout(5, 61, gain=0.05)
    image = rasterize_envelope(lo, hi, layout, np.arange(1, 6, dtype=np.uint8))
    assert image.shape == (61, 300) and image.flags["C_CONTIGUOUS"]
    expected = reference_raster(lo, hi, layout)
    np.testing.assert_array_equal(image > 0, expected)
    assert expected[0].any() and expected[-1].any()  # both edges really are reached


def _single(layout: LaneLayout, c: int) -> LaneLayout:
    return LaneLayout(
        layout.centers[[c]],
        layout.baselines[[c]],
        layout.gains[[c]],
        layout.y_top,
        layout.y_bottom,
        layout.height,
    )


def test_flat_line_is_one_row_at_lane_centre() -> None:
    layout = _layout(4, 40)  # 10 rows per lane; lane k centre at row 10k + 5
    zeros = np.zeros((30, 4), np.float32)
    image = rasterize_envelope(zeros, zeros, layout, np.array([1, 2, 3, 4], np.uint8))
    for k in range(4):
        assert np.flatnonzero(image[:, 0] == k + 1).tolist() == [10 * k + 5]
    assert (image > 0).sum() == 30 * 4


def test_samples_to_columns_is_the_polyline() -> None:
    times = np.array([0.0, 1.0, 2.0, 3.0])
    values = np.array([[0.0], [10.0], [-10.0], [0.0]])
    lo, hi = samples_to_columns(times, values, 0.0, 0.5, 6)
    # columns [0,.5) [.5,1) [1,1.5) [1.5,2) [2,2.5) [2.5,3)
    np.testing.assert_allclose(lo[:, 0], [0, 5, 0, -10, -10, -5])
    np.testing.assert_allclose(hi[:, 0], [5, 10, 10, 0, -5, 0])
    lo, hi = samples_to_columns(times, values, -1.0, 1.0, 6)
    assert (lo[0, 0], hi[0, 0]) == (0.0, 0.0)  # only the line's first point, on its edge
    assert np.isnan(lo[5, 0]) and np.isnan(hi[5, 0])  # wholly after the data
    assert (lo[1, 0], hi[1, 0]) == (0.0, 10.0)


def test_samples_to_columns_dense_data_is_min_max() -> None:
    rng = np.random.default_rng(1)
    times = np.sort(rng.uniform(0, 10, 5000))
    values = rng.normal(size=(5000, 2))
    lo, hi = samples_to_columns(times, values, 0.0, 1.0, 10)
    for k in range(10):
        inside = (times >= k) & (times < k + 1)
        assert lo[k, 0] <= values[inside, 0].min() + 1e-6
        assert hi[k, 1] >= values[inside, 1].max() - 1e-6
        # the edge values only ever extend the span towards the neighbours
        assert lo[k, 0] >= values[:, 0].min() - 1e-6


def test_spike_raster_ticks() -> None:
    trains = [np.array([0.05, 0.55]), np.array([]), np.array([0.95, 1.5, -0.1])]
    image = rasterize_trains(trains, 0.0, 0.1, 10, 30, np.array([1, 2, 3], np.uint8))
    assert image.shape == (30, 10)
    assert np.flatnonzero(image[0] == 1).tolist() == [0, 5]
    assert (image[0:9, 0] == 1).all() and image[9, 0] == 0  # 10-row band minus a gap row
    assert not image[10:20].any()
    assert np.flatnonzero(image[20] == 3).tolist() == [9]


def test_clipped_lanes_keep_a_loud_channel_in_its_band():
    """One saturated channel's trace once covered the fifteen lanes below it."""
    n_cols, nch, height = 50, 4, 400
    lo = np.zeros((n_cols, nch), np.float32) - 0.1
    hi = np.zeros((n_cols, nch), np.float32) + 0.1
    lo[:, 1], hi[:, 1] = -30.0, 30.0  # the loud one: ±30 lanes
    hi[10:20, 2] = np.nan  # a gap stays a gap
    lo[10:20, 2] = np.nan
    colors = np.array([1, 2, 3, 4], np.uint8)

    def layout(clip: float) -> LaneLayout:
        return LaneLayout(
            centers=-np.arange(nch, dtype=np.float32),
            baselines=np.zeros(nch, np.float32),
            gains=np.ones(nch, np.float32),
            y_top=0.5,
            y_bottom=0.5 - nch,
            height=height,
            clip=clip,
        )

    full = rasterize_envelope(lo, hi, layout(0.0), colors)
    assert (full == 2).any(axis=1).sum() == height  # the loud trace spans every row
    clipped = rasterize_envelope(lo, hi, layout(0.5), colors)
    rows = np.flatnonzero((clipped == 2).any(axis=1))
    lane = height // nch
    assert rows.min() >= lane - 1 and rows.max() <= 2 * lane  # only lane 1's band
    quiet = lo.copy(), hi.copy()
    quiet[0][:, 1] = quiet[1][:, 1] = np.nan
    alone = rasterize_envelope(*quiet, layout(0.5), colors)
    for k in (0, 2, 3):  # the quiet ones are drawn as if the loud one were not there
        assert ((clipped == k + 1) == (alone == k + 1)).all()
    assert not (clipped[:, 10:20] == 3).any()
