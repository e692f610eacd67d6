"""Read only what is on screen from any dataset of any rank: the generic array view's source.

A plain dataset (``units/spike_times``, a 64×64 image written with h5py, a 4-D volume) has no
type that names a panel, and reading it whole to show a spreadsheet or a plot would cost its
full size in memory and time. A view instead picks two axes to show (rows, columns) and fixes
an index on every other axis; this module turns that choice and the visible rectangle into one
bounded hyperslab read. Lines are read with a stride above a point budget, images with a
stride above a pixel budget, so no request costs more than the screen can show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from ndviewer.core.model.nodes import h5_object
from ndviewer.core.model.values import decode_text, reference_target

# Above these many elements a line is read with a stride, an image with a stride per axis.
LINE_POINTS = 20_000
IMAGE_PIXELS = 1_000_000


@dataclass(frozen=True)
class SliceChoice:
    """Which 2-D slice of an N-D dataset is shown.

    ``row_axis`` and ``col_axis`` are the shown axes (``col_axis`` None for a 1-D view);
    ``index`` holds one index per axis, used only on the axes that are not shown.
    """

    row_axis: int
    col_axis: int | None
    index: tuple[int, ...]

    @classmethod
    def default(cls, shape: tuple[int, ...]) -> SliceChoice:
        """The last two axes (an image's height × width, a table's rows × columns), index 0."""
        ndim = len(shape)
        if ndim <= 1:
            return cls(0, None, (0,) * ndim)
        return cls(ndim - 2, ndim - 1, (0,) * ndim)

    def selection(self, rows: tuple[int, int, int], cols: tuple[int, int, int]) -> tuple:
        """The h5py selection for ``rows`` and ``cols`` given as (start, stop, step)."""
        parts: list[Any] = []
        for axis, fixed in enumerate(self.index):
            if axis == self.row_axis:
                parts.append(slice(*rows))
            elif axis == self.col_axis:
                parts.append(slice(*cols))
            else:
                parts.append(int(fixed))
        return tuple(parts)


def kind_of(dtype: np.dtype) -> str:
    """``"numeric"`` (plottable), ``"text"``, ``"reference"``, ``"compound"`` or ``"other"``."""
    if h5py.check_string_dtype(dtype) is not None:
        return "text"
    if h5py.check_ref_dtype(dtype) is not None:
        return "reference"
    if dtype.names:
        return "compound"
    if dtype.kind in "biuf":
        return "numeric"
    return "other"


def _dataset(obj: Any) -> h5py.Dataset:
    dataset = h5_object(obj)
    if not isinstance(dataset, h5py.Dataset):
        raise TypeError(f"{getattr(obj, 'path', obj)} is not a dataset")
    return dataset


def _clip(start: int, stop: int, size: int) -> tuple[int, int]:
    start = max(0, min(int(start), size))
    return start, max(start, min(int(stop), size))


def _checked(choice: SliceChoice, shape: tuple[int, ...]) -> None:
    if len(choice.index) != len(shape):
        raise ValueError(f"slice has {len(choice.index)} indices for a {len(shape)}-D dataset")
    for axis, fixed in enumerate(choice.index):
        if axis not in (choice.row_axis, choice.col_axis) and not 0 <= fixed < shape[axis]:
            raise IndexError(f"index {fixed} out of range for axis {axis} of size {shape[axis]}")


def cell_text(value: Any, h5file: h5py.File | None = None) -> str:
    """One cell as the spreadsheet shows it (numbers compact, text decoded, refs as paths)."""
    if isinstance(value, bytes | str):
        return decode_text(value)
    if isinstance(value, h5py.Reference):
        return reference_target(h5file, value) if h5file is not None else "<reference>"
    if isinstance(value, np.void) and value.dtype.names:
        return "(" + ", ".join(cell_text(v, h5file) for v in value.tolist()) + ")"
    if isinstance(value, np.floating | float):
        return f"{float(value):.6g}"
    if isinstance(value, np.ndarray):
        return "[" + ", ".join(cell_text(v, h5file) for v in value.ravel()[:8]) + "]"
    return str(value.item() if isinstance(value, np.generic) else value)


def read_block(
    obj: Any, choice: SliceChoice, rows: tuple[int, int], cols: tuple[int, int] = (0, 1)
) -> np.ndarray:
    """The values of ``rows`` × ``cols`` of the chosen slice as a 2-D array (rows × cols).

    Ranges are clipped to the dataset; a 1-D view gives one column. A 0-D dataset is one cell.
    Exactly that rectangle is read.
    """
    dataset = _dataset(obj)
    shape = dataset.shape
    if len(shape) == 0:
        return np.asarray(dataset[()]).reshape(1, 1)
    _checked(choice, shape)
    r0, r1 = _clip(*rows, shape[choice.row_axis])
    if choice.col_axis is None:
        values = dataset[choice.selection((r0, r1, 1), (0, 1, 1))]
        return np.asarray(values).reshape(-1, 1)
    c0, c1 = _clip(*cols, shape[choice.col_axis])
    values = np.asarray(dataset[choice.selection((r0, r1, 1), (c0, c1, 1))])
    return values.T if choice.col_axis < choice.row_axis else values


def block_text(obj: Any, choice: SliceChoice, rows: tuple[int, int], cols: tuple[int, int]):
    """:func:`read_block` with every cell already formatted (the worker does the formatting)."""
    dataset = _dataset(obj)
    values = read_block(dataset, choice, rows, cols)
    return [[cell_text(v, dataset.file) for v in row] for row in values]


@dataclass(frozen=True)
class LineWindow:
    """Part of a 1-D line: sample indices and values (strided when ``step`` > 1)."""

    x: np.ndarray
    y: np.ndarray
    step: int


def read_line(
    obj: Any, choice: SliceChoice, start: int, stop: int, max_points: int = LINE_POINTS
) -> LineWindow:
    """Values ``[start, stop)`` along ``choice.row_axis`` (other axes fixed), at most
    ``max_points`` of them: a stride when the window holds more. Numeric datasets only."""
    dataset = _dataset(obj)
    if kind_of(dataset.dtype) != "numeric":
        raise TypeError(f"{dataset.dtype} values cannot be plotted")
    shape = dataset.shape
    if len(shape) == 0:
        value = np.asarray(dataset[()], dtype=np.float64).reshape(1)
        return LineWindow(np.zeros(1), value, 1)
    line = SliceChoice(choice.row_axis, None, choice.index)
    _checked(line, shape)
    i0, i1 = _clip(start, stop, shape[choice.row_axis])
    step = max(1, math.ceil((i1 - i0) / max(1, max_points)))
    parts: list[Any] = []
    for axis, fixed in enumerate(choice.index):
        parts.append(slice(i0, i1, step) if axis == choice.row_axis else int(fixed))
    y = np.asarray(dataset[tuple(parts)], dtype=np.float64).reshape(-1)
    x = np.arange(i0, i0 + len(y) * step, step, dtype=np.float64)[: len(y)]
    return LineWindow(x, y, step)


@dataclass(frozen=True)
class ImageSlice:
    """A 2-D numeric slice (rows × cols), strided by ``step`` on both axes when large."""

    pixels: np.ndarray
    step: int


def read_image(obj: Any, choice: SliceChoice, max_pixels: int = IMAGE_PIXELS) -> ImageSlice:
    """The whole chosen 2-D slice as floats, with one stride on both axes above ``max_pixels``."""
    dataset = _dataset(obj)
    if kind_of(dataset.dtype) != "numeric":
        raise TypeError(f"{dataset.dtype} values cannot be shown as an image")
    if choice.col_axis is None:
        raise ValueError("an image needs two axes")
    shape = dataset.shape
    _checked(choice, shape)
    n_rows, n_cols = shape[choice.row_axis], shape[choice.col_axis]
    step = max(1, math.ceil(math.sqrt(n_rows * n_cols / max(1, max_pixels))))
    values = np.asarray(
        dataset[choice.selection((0, n_rows, step), (0, n_cols, step))], dtype=np.float64
    )
    if choice.col_axis < choice.row_axis:
        values = values.T
    return ImageSlice(values, step)


def views_for(shape: tuple[int, ...] | None, dtype: np.dtype | None) -> list[str]:
    """Which presentations suit a dataset, best first: ``"line"``, ``"image"``, ``"table"``.

    1-D numeric → line; 2-D/3-D numeric (and higher, through the sliders) → image unless one
    shown axis is narrow; every dataset can be browsed as a table.
    """
    if shape is None or dtype is None:
        return []
    numeric = kind_of(dtype) == "numeric"
    if numeric and len(shape) == 1:
        return ["line", "table"]
    if numeric and len(shape) >= 2:
        # a long table of a few columns (N × 3 positions) reads better as numbers
        wide = min(shape[-2:]) >= 8
        return ["image", "table"] if wide else ["table", "image"]
    return ["table"]
