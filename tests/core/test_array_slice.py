"""The generic array view's reader: the chosen slice, only the visible rectangle, bounded reads."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from ndviewer.core.model.array_slice import (
    SliceChoice,
    block_text,
    read_block,
    read_image,
    read_line,
    views_for,
)


class SpyDataset(h5py.Dataset):
    """An h5py dataset that records every selection read from it, and how many values."""

    def __init__(self, bind) -> None:
        super().__init__(bind)
        self.reads: list[tuple] = []
        self.values_read = 0

    def __getitem__(self, selection):
        out = super().__getitem__(selection)
        self.reads.append(selection)
        self.values_read += int(np.size(out))
        return out


@pytest.fixture
def h5(tmp_path):
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["cube"] = np.arange(4 * 50 * 30, dtype=np.int32).reshape(4, 50, 30)
        f["line"] = np.arange(100_000, dtype=np.float64) * 0.5
        f["image"] = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)
        f["names"] = np.array([b"alpha", b"beta"], dtype="S5")
        f["scalar"] = 3.5
    with h5py.File(tmp_path / "plain.h5", "r") as f:
        yield f


def test_block_reads_exactly_the_visible_rectangle_of_the_chosen_slice(h5):
    spy = SpyDataset(h5["cube"].id)
    choice = SliceChoice(row_axis=1, col_axis=2, index=(2, 0, 0))
    block = read_block(spy, choice, rows=(10, 13), cols=(5, 9))
    expected = np.arange(4 * 50 * 30).reshape(4, 50, 30)[2, 10:13, 5:9]
    np.testing.assert_array_equal(block, expected)
    assert spy.reads == [(2, slice(10, 13, 1), slice(5, 9, 1))]
    assert spy.values_read == 12


def test_block_with_axes_swapped_is_transposed_and_ranges_are_clipped(h5):
    choice = SliceChoice(row_axis=2, col_axis=1, index=(1, 0, 0))
    block = read_block(h5["cube"], choice, rows=(28, 40), cols=(48, 60))
    expected = np.arange(4 * 50 * 30).reshape(4, 50, 30)[1, 48:50, 28:30].T
    np.testing.assert_array_equal(block, expected)
    assert block.shape == (2, 2)


def test_one_d_and_scalar_blocks_are_one_column(h5):
    block = read_block(h5["line"], SliceChoice.default((100_000,)), rows=(3, 6))
    np.testing.assert_array_equal(block, [[1.5], [2.0], [2.5]])
    assert read_block(h5["scalar"], SliceChoice(0, None, ()), (0, 1)).tolist() == [[3.5]]


def test_block_text_decodes_strings_and_formats_numbers(h5):
    choice = SliceChoice.default((2,))
    assert block_text(h5["names"], choice, (0, 2), (0, 1)) == [["alpha"], ["beta"]]
    assert block_text(h5["line"], SliceChoice.default((100_000,)), (1, 2), (0, 1)) == [["0.5"]]


def test_an_out_of_range_fixed_index_is_refused(h5):
    with pytest.raises(IndexError):
        read_block(h5["cube"], SliceChoice(1, 2, (4, 0, 0)), (0, 1), (0, 1))


def test_line_is_strided_to_the_point_budget(h5):
    spy = SpyDataset(h5["line"].id)
    window = read_line(spy, SliceChoice.default((100_000,)), 1000, 101_000, max_points=1000)
    assert window.step == 99
    assert spy.values_read == len(window.y) <= 1000
    np.testing.assert_array_equal(window.x[:3], [1000, 1099, 1198])
    np.testing.assert_array_equal(window.y, window.x * 0.5)


def test_short_line_is_read_whole(h5):
    window = read_line(h5["line"], SliceChoice.default((100_000,)), 10, 20)
    assert window.step == 1
    np.testing.assert_array_equal(window.y, np.arange(10, 20) * 0.5)


def test_image_is_the_chosen_slice_strided_to_the_pixel_budget(h5):
    image = read_image(h5["image"], SliceChoice.default((64, 64)))
    assert image.step == 1
    np.testing.assert_array_equal(image.pixels, np.arange(64 * 64).reshape(64, 64))
    spy = SpyDataset(h5["image"].id)
    small = read_image(spy, SliceChoice.default((64, 64)), max_pixels=256)
    assert small.step == 4 and small.pixels.shape == (16, 16)
    assert spy.values_read == 256
    cube = read_image(h5["cube"], SliceChoice(1, 2, (3, 0, 0)))
    np.testing.assert_array_equal(cube.pixels, np.arange(4 * 50 * 30).reshape(4, 50, 30)[3])


def test_text_cannot_be_plotted(h5):
    with pytest.raises(TypeError):
        read_line(h5["names"], SliceChoice.default((2,)), 0, 2)


def test_views_suit_the_data(h5):
    assert views_for((100,), np.dtype("f8")) == ["line", "table"]
    assert views_for((64, 64), np.dtype("u2")) == ["image", "table"]
    assert views_for((1000, 3), np.dtype("f4")) == ["table", "image"]
    assert views_for((4, 50, 30), np.dtype("i4")) == ["image", "table"]
    assert views_for((2,), h5["names"].dtype) == ["table"]
