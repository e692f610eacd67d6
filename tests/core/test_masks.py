"""Every mask kind rasterises to the pixels pynwb wrote; outlines hug them; traces link up."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from pynwb import NWBHDF5IO

from ndviewer.core.model.files import open_nwb
from ndviewer.core.nwb.masks import (
    MaskError,
    find_plane_segmentations,
    find_roi_traces,
    load_plane_segmentation,
    load_roi_masks,
    read_roi_trace,
)
from tests.core.images_fixtures import NX, NY, write_imaging_file, write_voxel_file

SEG = "processing/ophys/ImageSegmentation/PlaneSegmentation"


@pytest.fixture(scope="module", params=["image_mask", "pixel_mask"])
def imaging(request, tmp_path_factory):
    return write_imaging_file(
        tmp_path_factory.mktemp(request.param), n_frames=4, mask_kind=request.param
    )


def _pynwb_masks(path, kind):
    with NWBHDF5IO(path, "r") as io:
        seg = io.read().processing["ophys"]["ImageSegmentation"]["PlaneSegmentation"]
        return [np.asarray(seg[kind][i]) for i in range(len(seg.id))], list(seg.id[:])


def test_masks_rasterise_to_written_pixels(imaging):
    kind = next(iter(imaging.masks))
    expected = imaging.masks[kind]
    oracle, ids = _pynwb_masks(imaging.path, kind)
    with h5py.File(imaging.path, "r") as f:
        masks = load_roi_masks(f[SEG], shape=(NX, NY))
    assert masks.kind == kind and masks.n_rois == 3
    assert masks.ids.tolist() == ids == [10, 11, 12]
    assert masks.shape == (NX, NY)
    for row, mask in enumerate(expected):
        np.testing.assert_array_equal(masks.mask(row), mask)
        if kind == "pixel_mask":  # pynwb's rows are (x, y, weight) per pixel
            rows = oracle[row]
            dense = np.zeros((NX, NY), np.float32)
            dense[rows["x"].astype(int), rows["y"].astype(int)] = rows["weight"]
            np.testing.assert_array_equal(masks.mask(row), dense)
        else:
            np.testing.assert_array_equal(masks.mask(row), oracle[row])


def test_label_image_and_hit_test(imaging):
    with h5py.File(imaging.path, "r") as f:
        masks = load_roi_masks(f[SEG], shape=(NX, NY))
    labels = masks.label_image()
    expected = np.zeros((NX, NY), np.int32)
    for row, mask in enumerate(imaging.masks[masks.kind]):
        expected[mask > 0] = row + 1
    np.testing.assert_array_equal(labels, expected)
    assert masks.roi_at(3.5, 4.2) == 0
    assert masks.roi_at(12.0, 15.9) == 1
    assert masks.roi_at(19.5, 13.5) == 2  # overlap of bar and corner: the later row wins
    assert masks.roi_at(0.5, 0.5) is None
    assert masks.roi_at(-1, 3) is None and masks.roi_at(NX, 0) is None
    cx, cy = masks.centroid(1)
    assert (cx, cy) == pytest.approx((15.0, 15.5))


def _outline_from_segments(segments):
    return {tuple(map(tuple, s.tolist())) for s in segments}


def test_outline_is_exact_pixel_boundary(imaging):
    with h5py.File(imaging.path, "r") as f:
        masks = load_roi_masks(f[SEG], shape=(NX, NY))
    # The bar: x in 10..19 at y = 15 -> a 10 x 1 rectangle [10, 20] x [15, 16]
    segments = masks.outline(1)
    assert len(segments) == 2 * 10 + 2
    got = _outline_from_segments(segments)
    assert ((10.0, 15.0), (10.0, 16.0)) in got and ((20.0, 15.0), (20.0, 16.0)) in got
    assert all(((x, 15.0), (x + 1.0, 15.0)) in got for x in range(10, 20))
    # Perimeter of any mask = number of in/out pixel-edge transitions
    for row, mask in enumerate(imaging.masks[masks.kind]):
        padded = np.pad(mask > 0, 1)
        perimeter = np.count_nonzero(padded[1:] != padded[:-1]) + np.count_nonzero(
            padded[:, 1:] != padded[:, :-1]
        )
        assert len(masks.outline(row)) == perimeter
    all_segments, rows = masks.outlines()
    assert len(all_segments) == len(rows) == sum(len(masks.outline(r)) for r in range(3))


def test_voxel_masks_by_plane(tmp_path):
    info = write_voxel_file(tmp_path)
    with h5py.File(info.path, "r") as f:
        seg = f["processing/ophys/ImageSegmentation/VoxelSegmentation"]
        masks = load_roi_masks(seg, shape=(NX, NY))
    assert masks.kind == "voxel_mask" and masks.shape == (NX, NY, 3)
    for row, volume in enumerate(info.volume_masks):
        for z in range(3):
            np.testing.assert_array_equal(masks.mask(row, z), volume[:, :, z])
        np.testing.assert_array_equal(masks.mask(row), volume.max(axis=2))
    assert masks.roi_at(2.5, 3.5, z=1) == 0
    assert masks.roi_at(1.5, 2.5, z=1) is None
    assert masks.roi_at(16.0, 10.0, z=2) == 1 and masks.roi_at(16.0, 10.0, z=0) is None


def test_traces_and_segmentations_are_linked(tmp_path):
    info = write_imaging_file(tmp_path, n_frames=5)
    with h5py.File(info.path, "r") as f:
        assert find_plane_segmentations(f["acquisition/TwoPhotonSeries"]) == ["/" + SEG]
        found = find_roi_traces(f[SEG])
        # DfOverF first (normalised signals are what users compare), then Fluorescence
        assert [t.path for t in found] == [
            "/processing/ophys/DfOverF/DfOverF_partial",
            "/processing/ophys/Fluorescence/RoiResponseSeries",
        ]
        traces = {t.path: t for t in found}
        partial = traces["/processing/ophys/DfOverF/DfOverF_partial"]
        assert partial.column_of(2) == 0 and partial.column_of(0) == 1
        assert partial.column_of(1) is None
        column = partial.column_of(0)
        np.testing.assert_array_equal(f[partial.path]["data"][:, column], info.traces[:, 0])


def test_segmentation_and_roi_traces_by_path(tmp_path):
    info = write_imaging_file(tmp_path, n_frames=5)
    with open_nwb(info.path) as file:
        # a Node of the series finds its segmentations as its h5py group does
        assert find_plane_segmentations(file.node("/acquisition/TwoPhotonSeries")) == ["/" + SEG]
        masks, traces = load_plane_segmentation(file, "/" + SEG, (NX, NY))
        assert masks.n_rois == 3 and masks.ids.tolist() == info.roi_ids
        assert masks.shape == (NX, NY) and masks.kind == "image_mask"
        np.testing.assert_array_equal(masks.mask(2), info.masks["image_mask"][2])
        assert [t.path for t in traces] == [
            "/processing/ophys/DfOverF/DfOverF_partial",
            "/processing/ophys/Fluorescence/RoiResponseSeries",
        ]
        partial = traces[0]
        times, values = read_roi_trace(file, partial.path, partial.column_of(0))
        np.testing.assert_array_equal(values, info.traces[:, 0])
        np.testing.assert_allclose(times, info.starting_time + np.arange(5) / info.rate)
        with pytest.raises(KeyError):
            load_plane_segmentation(file, "/processing/ophys/nothing")


def test_roi_trace_in_physical_units_and_sample_numbers(tmp_path):
    path = tmp_path / "trace.h5"
    stored = np.arange(12, dtype=np.int16).reshape(6, 2)
    with h5py.File(path, "w") as f:
        scaled = f.create_group("scaled")
        data = scaled.create_dataset("data", data=stored)
        data.attrs["conversion"] = 0.5
        data.attrs["offset"] = -1.0
        scaled.create_dataset("timestamps", data=[0.1, 0.2, 0.4, 0.8, 1.6, 3.2])
        plain = f.create_group("plain")  # 1-D data and no time axis: sample numbers
        plain.create_dataset("data", data=stored[:, 1])
    with open_nwb(path) as file:
        times, values = read_roi_trace(file, "/scaled", 1)
        np.testing.assert_array_equal(values, stored[:, 1] * 0.5 - 1.0)
        np.testing.assert_array_equal(times, [0.1, 0.2, 0.4, 0.8, 1.6, 3.2])
        times, values = read_roi_trace(file, "/plain", 0)
        np.testing.assert_array_equal(values, stored[:, 1])
        np.testing.assert_array_equal(times, np.arange(6.0))


def test_missing_and_bad_masks(tmp_path):
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f.create_group("empty")
        g = f.create_group("outside")
        dtype = np.dtype([("x", "u4"), ("y", "u4"), ("weight", "f4")])
        g.create_dataset("pixel_mask", data=np.array([(50, 1, 1.0)], dtype=dtype))
        g.create_dataset("pixel_mask_index", data=np.array([1], np.uint8))
        g.create_dataset("id", data=[7])
    with h5py.File(path, "r") as f:
        with pytest.raises(MaskError, match="/empty has no"):
            load_roi_masks(f["empty"])
        with pytest.raises(MaskError, match="ROI 7 has pixels outside"):
            load_roi_masks(f["outside"], shape=(10, 10))
        assert load_roi_masks(f["outside"]).shape == (51, 2)
