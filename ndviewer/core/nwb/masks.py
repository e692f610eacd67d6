"""ROI masks of a PlaneSegmentation: rasterised, outlined and linked to their traces.

A PlaneSegmentation stores each ROI in one of three forms:

* ``image_mask``: a dense weight image per ROI, ``(roi, x, y)`` or ``(roi, x, y, z)``;
* ``pixel_mask``: ragged ``(x, y, weight)`` rows, split per ROI by ``pixel_mask_index``;
* ``voxel_mask``: ragged ``(x, y, z, weight)`` rows, split by ``voxel_mask_index``.

All three are loaded into one sparse form (per ROI: integer coordinates and weights), from
which the overlay needs three things: a label image to answer "which ROI is under the mouse",
the pixel-edge outline of every ROI to draw crisp borders at any zoom, and dense masks for
fills. Coordinates follow the spec's ``x, y`` order, the same as the image data's axes, so a
mask lines up with ``frame[x, y]``. (pynwb's ``image_to_pixel`` agrees; its
``pixel_to_image`` indexes ``[y, x]`` and is not followed here.)

The module also finds, without a catalogue walk over the whole file, the PlaneSegmentations
drawn on an imaging series (same ``imaging_plane``) and the RoiResponseSeries whose ``rois``
region points at a PlaneSegmentation, so a click on an ROI can open its trace, and reads one
ROI's trace from such a series (:func:`read_roi_trace`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from ndviewer.core.errors import NdviewerError
from ndviewer.core.model.nodes import OpenFile, h5_object
from ndviewer.core.model.values import decode_value
from ndviewer.core.nwb.images import read_time_axis

MASK_COLUMNS = ("pixel_mask", "voxel_mask", "image_mask")


class MaskError(NdviewerError):
    """A PlaneSegmentation's masks cannot be read."""


@dataclass
class RoiMasks:
    """Every ROI of one PlaneSegmentation in sparse form.

    Attributes
    ----------
    path : str
        HDF5 path of the PlaneSegmentation.
    kind : str
        Which column the masks came from (one of :data:`MASK_COLUMNS`).
    ids : numpy.ndarray
        The table's ``id`` per row (what users call the ROI id).
    shape : tuple of int
        ``(nx, ny)`` or ``(nx, ny, nz)`` of the imaging plane.
    coords : list of numpy.ndarray
        Per row, an ``(n, 2)`` or ``(n, 3)`` int array of the ROI's pixels / voxels.
    weights : list of numpy.ndarray
        Per row, the float32 weight of each pixel / voxel.
    """

    path: str
    kind: str
    ids: np.ndarray
    shape: tuple[int, ...]
    coords: list[np.ndarray]
    weights: list[np.ndarray]
    _labels: dict = field(default_factory=dict, repr=False)

    @property
    def n_rois(self) -> int:
        return len(self.coords)

    @property
    def is_volumetric(self) -> bool:
        return len(self.shape) == 3

    def _pixels(self, row: int, z: int | None) -> tuple[np.ndarray, np.ndarray]:
        """(xy coords, weights) of one ROI on plane ``z`` (all planes when None)."""
        coords, weights = self.coords[row], self.weights[row]
        if coords.shape[1] == 3 and z is not None:
            keep = coords[:, 2] == z
            coords, weights = coords[keep], weights[keep]
        return coords[:, :2], weights

    def mask(self, row: int, z: int | None = None) -> np.ndarray:
        """Dense float32 weight image ``(nx, ny)`` of ROI ``row`` on plane ``z``.

        For volumetric masks and ``z=None`` the weights are the maximum over planes.
        """
        image = np.zeros(self.shape[:2], dtype=np.float32)
        xy, weights = self._pixels(row, z)
        if xy.size:
            np.maximum.at(image, (xy[:, 0], xy[:, 1]), weights)
        return image

    def label_image(self, z: int | None = None) -> np.ndarray:
        """int32 ``(nx, ny)``: 1 + the row of the ROI covering each pixel, 0 for none.

        Where ROIs overlap, the later row wins (it is drawn on top). Cached per plane.
        """
        cached = self._labels.get(z)
        if cached is not None:
            return cached
        labels = np.zeros(self.shape[:2], dtype=np.int32)
        for row in range(self.n_rois):
            xy, weights = self._pixels(row, z)
            xy = xy[weights > 0]
            labels[xy[:, 0], xy[:, 1]] = row + 1
        self._labels[z] = labels
        return labels

    def roi_at(self, x: float, y: float, z: int | None = None) -> int | None:
        """Row of the ROI under pixel coordinates ``(x, y)``, or None."""
        ix, iy = int(np.floor(x)), int(np.floor(y))
        if not (0 <= ix < self.shape[0] and 0 <= iy < self.shape[1]):
            return None
        label = int(self.label_image(z)[ix, iy])
        return label - 1 if label else None

    def outline(self, row: int, z: int | None = None) -> np.ndarray:
        """Pixel-edge outline of ROI ``row``: float ``(m, 2, 2)`` segments ``[[x0, y0], [x1, y1]]``.

        Pixel ``(x, y)`` covers ``[x, x+1] x [y, y+1]``; each segment is one unit edge between
        an ROI pixel and a non-ROI pixel, so the outline hugs the mask exactly.
        """
        xy, weights = self._pixels(row, z)
        xy = xy[weights > 0]
        if xy.size == 0:
            return np.zeros((0, 2, 2), dtype=np.float32)
        x0, y0 = xy.min(axis=0)
        x1, y1 = xy.max(axis=0)
        box = np.zeros((x1 - x0 + 3, y1 - y0 + 3), dtype=bool)  # one pixel of margin
        box[xy[:, 0] - x0 + 1, xy[:, 1] - y0 + 1] = True
        # Edges across x: between box[i-1, j] and box[i, j] -> segment x = i, y in [j, j+1].
        ex, ey = np.nonzero(box[1:, :] != box[:-1, :])
        across_x = np.stack(
            [np.stack([ex + 1, ey], axis=1), np.stack([ex + 1, ey + 1], axis=1)], axis=1
        )
        fx, fy = np.nonzero(box[:, 1:] != box[:, :-1])
        across_y = np.stack(
            [np.stack([fx, fy + 1], axis=1), np.stack([fx + 1, fy + 1], axis=1)], axis=1
        )
        segments = np.concatenate([across_x, across_y]).astype(np.float32)
        segments += np.array([x0 - 1, y0 - 1], dtype=np.float32)
        return segments

    def outlines(self, z: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """All outlines at once: ``(segments (m, 2, 2), row of each segment (m,))``."""
        parts = [self.outline(row, z) for row in range(self.n_rois)]
        if not parts:
            return np.zeros((0, 2, 2), np.float32), np.zeros(0, np.int64)
        rows = np.repeat(np.arange(self.n_rois), [len(p) for p in parts])
        return np.concatenate(parts), rows

    def centroid(self, row: int) -> tuple[float, float]:
        """Weighted centre ``(x, y)`` of an ROI in pixel-centre coordinates."""
        xy, weights = self._pixels(row, None)
        if xy.size == 0 or weights.sum() <= 0:
            return float("nan"), float("nan")
        centre = (xy * weights[:, None]).sum(axis=0) / weights.sum()
        return float(centre[0]) + 0.5, float(centre[1]) + 0.5


def load_roi_masks(
    plane_segmentation: h5py.Group,
    shape: tuple[int, ...] | None = None,
    kind: str | None = None,
) -> RoiMasks:
    """Read the masks of a PlaneSegmentation group.

    Parameters
    ----------
    plane_segmentation
        The PlaneSegmentation (any DynamicTable with a mask column).
    shape
        ``(nx, ny)`` or ``(nx, ny, nz)`` of the imaging plane, e.g. the image series' frame
        size. Image masks carry their own; for pixel / voxel masks it defaults to the
        smallest shape holding every coordinate.
    kind
        Which mask column to read when several exist; default: pixel, then voxel, then image.

    Raises
    ------
    MaskError
        When there is no mask column or it is malformed.
    """
    name = plane_segmentation.name
    available = [c for c in MASK_COLUMNS if c in plane_segmentation]
    if kind is not None:
        if kind not in available:
            raise MaskError(f"{name} has no {kind} column.")
        available = [kind]
    if not available:
        raise MaskError(f"{name} has no image_mask, pixel_mask or voxel_mask column.")
    kind = available[0]
    if kind == "image_mask":
        coords, weights, mask_shape = _read_image_masks(plane_segmentation["image_mask"])
        shape = tuple(shape) if shape is not None else mask_shape
    else:
        coords, weights = _read_ragged_masks(plane_segmentation, kind)
        dims = 2 if kind == "pixel_mask" else 3
        if shape is None:
            extent = np.zeros(dims, dtype=np.int64)
            for c in coords:
                if c.size:
                    extent = np.maximum(extent, c.max(axis=0) + 1)
            shape = tuple(int(v) for v in extent)
        shape = tuple(shape)
        if dims == 3 and len(shape) == 2:
            depth = max((int(c[:, 2].max()) + 1 for c in coords if c.size), default=1)
            shape = (*shape, depth)
    ids = (
        np.asarray(plane_segmentation["id"][()], dtype=np.int64)
        if "id" in plane_segmentation
        else np.arange(len(coords), dtype=np.int64)
    )
    if ids.size != len(coords):
        raise MaskError(f"{name} has {ids.size} ids but {len(coords)} masks in {kind}.")
    for row, c in enumerate(coords):
        if c.size and (np.any(c < 0) or np.any(c.max(axis=0)[:2] >= np.asarray(shape[:2]))):
            raise MaskError(
                f"{name} ROI {int(ids[row])} has pixels outside the {shape[0]}x{shape[1]} plane."
            )
    return RoiMasks(name, kind, ids, tuple(int(s) for s in shape), coords, weights)


#: Rows of an image_mask read per h5py call (bounds memory for large dense masks).
_IMAGE_MASK_BLOCK_BYTES = 64 * 1024 * 1024


def _read_image_masks(
    dataset: h5py.Dataset,
) -> tuple[list[np.ndarray], list[np.ndarray], tuple[int, ...]]:
    if dataset.ndim not in (3, 4):
        raise MaskError(f"{dataset.name} has shape {dataset.shape}; expected (roi, x, y[, z]).")
    per_row = int(np.prod(dataset.shape[1:], dtype=np.int64)) * dataset.dtype.itemsize
    step = max(1, _IMAGE_MASK_BLOCK_BYTES // max(per_row, 1))
    coords, weights = [], []
    for start in range(0, dataset.shape[0], step):
        block = dataset[start : start + step]
        for image in block:
            where = np.nonzero(image > 0)
            coords.append(np.stack(where, axis=1).astype(np.int64))
            weights.append(image[where].astype(np.float32))
    return coords, weights, tuple(int(s) for s in dataset.shape[1:])


def _read_ragged_masks(group: h5py.Group, kind: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    table = group[kind][()]
    dims = 2 if kind == "pixel_mask" else 3
    if table.dtype.names:
        names = table.dtype.names
        axis_names = ["x", "y", "z"][:dims]
        if all(n in names for n in axis_names):
            columns = [table[n] for n in axis_names]
        else:
            columns = [table[n] for n in names[:dims]]
        weight = table["weight"] if "weight" in names else table[names[dims]]
    else:  # a plain (n, dims+1) array
        columns = [table[:, k] for k in range(dims)]
        weight = table[:, dims]
    xyz = np.stack([np.asarray(c).astype(np.int64) for c in columns], axis=1)
    weight = np.asarray(weight, dtype=np.float32)
    index_name = f"{kind}_index"
    if index_name in group:
        ends = np.asarray(group[index_name][()]).astype(np.int64)  # uint8/16 on disk: cast first
    else:
        ends = np.array([len(weight)], dtype=np.int64)
    starts = np.concatenate([[0], ends[:-1]])
    coords = [xyz[s:e] for s, e in zip(starts, ends)]
    weights = [weight[s:e] for s, e in zip(starts, ends)]
    return coords, weights


# --------------------------------------------------------------------------- links
@dataclass(frozen=True)
class RoiTrace:
    """A RoiResponseSeries holding traces of a PlaneSegmentation's ROIs.

    Attributes
    ----------
    path : str
        HDF5 path of the RoiResponseSeries.
    rows : numpy.ndarray
        For each column of the series' data, the PlaneSegmentation row it belongs to.
    """

    path: str
    rows: np.ndarray

    def column_of(self, row: int) -> int | None:
        """The data column holding ROI ``row``'s trace, or None if this series lacks it."""
        hits = np.nonzero(self.rows == row)[0]
        return int(hits[0]) if hits.size else None


def _same_object(a: h5py.HLObject, b: h5py.HLObject) -> bool:
    # h5py object ids compare equal when they name the same HDF5 object (same file and
    # address), whichever path or soft link opened them.
    return a.id == b.id


def _candidate_groups(h5file: h5py.File, max_depth: int = 3) -> Iterator[h5py.Group]:
    """Groups under ``/processing`` down to ``max_depth`` levels (module/container/series).

    Ophys results live there; looking nowhere else keeps the search cheap on large files.
    """
    processing = h5file.get("processing")
    if not isinstance(processing, h5py.Group):
        return
    level = [processing]
    for _ in range(max_depth):
        nxt = []
        for group in level:
            for child in group.values():
                if isinstance(child, h5py.Group):
                    yield child
                    nxt.append(child)
        level = nxt


def find_plane_segmentations(series: Any) -> list[str]:
    """Paths of PlaneSegmentations on the same ``imaging_plane`` as an imaging series (a core
    ``Node`` or its h5py group)."""
    series = h5_object(series)
    plane = series.get("imaging_plane")
    if not isinstance(plane, h5py.Group):
        return []
    found = []
    for group in _candidate_groups(series.file, max_depth=4):
        other = group.get("imaging_plane")
        if not isinstance(other, h5py.Group) or not any(c in group for c in MASK_COLUMNS):
            continue
        if _same_object(plane, other):
            found.append(group.name)
    return found


#: Containers whose traces are offered first when an ROI is clicked: normalised signals first.
_TRACE_CONTAINER_RANK = {"DfOverF": 0, "Fluorescence": 1}


def find_roi_traces(plane_segmentation: h5py.Group) -> list[RoiTrace]:
    """RoiResponseSeries whose ``rois`` region refers to this PlaneSegmentation.

    Ordered by preference: series inside a DfOverF, then a Fluorescence container, then any
    other; by path within each.
    """
    ranked = []
    for group in _candidate_groups(plane_segmentation.file, max_depth=4):
        rois = group.get("rois")
        if not isinstance(rois, h5py.Dataset) or "data" not in group:
            continue
        table_ref = rois.attrs.get("table")
        if not isinstance(table_ref, h5py.Reference) or not table_ref:
            continue
        try:
            table = group.file[table_ref]
        except (KeyError, ValueError):
            continue
        if _same_object(table, plane_segmentation):
            container = decode_value(group.parent.attrs.get("neurodata_type", ""))
            rank = _TRACE_CONTAINER_RANK.get(container, len(_TRACE_CONTAINER_RANK))
            rows = np.asarray(rois[()]).astype(np.int64).ravel()
            ranked.append((rank, group.name, RoiTrace(group.name, rows)))
    return [trace for _rank, _name, trace in sorted(ranked, key=lambda item: item[:2])]


def load_plane_segmentation(
    file: OpenFile, path: str, shape: tuple[int, ...] | None = None
) -> tuple[RoiMasks, list[RoiTrace]]:
    """The masks of the PlaneSegmentation at ``path`` and the RoiResponseSeries of its ROIs.

    ``shape`` is passed to :func:`load_roi_masks`; the traces come ordered as
    :func:`find_roi_traces` orders them. Raises ``KeyError`` when ``path`` does not exist and
    :class:`MaskError` when it holds no readable masks.
    """
    group = file.h5[path]
    return load_roi_masks(group, shape=shape), find_roi_traces(group)


def read_roi_trace(file: OpenFile, path: str, column: int) -> tuple[np.ndarray, np.ndarray]:
    """``(times, values)`` of one ROI's trace: column ``column`` of the RoiResponseSeries at
    ``path``, in physical units (``data * conversion + offset``).

    One-dimensional data is the trace itself. Times are session seconds from the series'
    rate or timestamps, or sample numbers when it has neither.
    """
    group = file.h5[path]
    data = group["data"]
    values = data[:, column] if data.ndim == 2 else data[()]
    values = values * float(data.attrs.get("conversion", 1.0)) + float(
        data.attrs.get("offset", 0.0)
    )
    axis = read_time_axis(group, data.shape[0])
    times = (
        axis.time_of(np.arange(axis.n_frames))
        if axis is not None
        else np.arange(data.shape[0], dtype=np.float64)
    )
    return times, values
