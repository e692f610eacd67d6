"""Image sources: frame <-> time both ways, frame reads, geometry, Images, external files."""

from __future__ import annotations

from concurrent.futures import Future

import h5py
import numpy as np
import pytest
from pynwb import NWBHDF5IO

from ndviewer.core.model.files import open_nwb
from ndviewer.core.nwb.images import (
    FrameCache,
    ImageDataError,
    ImageSource,
    TimeAxis,
    describe_missing,
    frame_geometry,
    is_viewable_image,
    open_image_source,
)
from tests.core.images_fixtures import (
    write_external_file,
    write_images_file,
    write_imaging_file,
    write_voxel_file,
)


@pytest.fixture(scope="module")
def rate_file(tmp_path_factory):
    return write_imaging_file(tmp_path_factory.mktemp("rate"), n_frames=40)


@pytest.fixture(scope="module")
def stamped_file(tmp_path_factory):
    return write_imaging_file(
        tmp_path_factory.mktemp("ts"), n_frames=25, timestamps=True, compression=None
    )


def _pynwb_times(path, name):
    with NWBHDF5IO(path, "r") as io:
        series = io.read().acquisition[name]
        return np.asarray(series.get_timestamps())


def test_rate_series_times_both_ways(rate_file):
    with h5py.File(rate_file.path, "r") as f:
        source = open_image_source(f["acquisition/TwoPhotonSeries"])
        axis = source.time
        assert axis.regular and axis.rate == rate_file.rate
        expected = _pynwb_times(rate_file.path, "TwoPhotonSeries")
        assert expected.size == 40
        np.testing.assert_allclose(axis.time_of(np.arange(40)), expected, rtol=0, atol=1e-12)
        for i in range(40):
            assert axis.index_at(expected[i]) == i
            # anywhere inside the frame's period shows that frame
            assert axis.index_at(expected[i] + 0.99 / rate_file.rate) == i
        assert axis.index_at(expected[0] - 5.0) == 0
        assert axis.index_at(1e9) == 39
        assert axis.start == pytest.approx(2.0)
        assert axis.stop == pytest.approx(2.0 + 40 / 30.0)
        assert source.frame_label(3) == f"frame 3 · {2.0 + 3 / 30:.3f} s"


def test_timestamp_series_times_both_ways(stamped_file):
    with h5py.File(stamped_file.path, "r") as f:
        axis = open_image_source(f["acquisition/TwoPhotonSeries"]).time
    expected = _pynwb_times(stamped_file.path, "TwoPhotonSeries")
    np.testing.assert_array_equal(axis.time_of(np.arange(25)), expected)
    assert not axis.regular
    for i in range(25):
        assert axis.index_at(expected[i]) == i
        assert axis.index_at(np.nextafter(expected[i], -np.inf)) == max(i - 1, 0)
    assert axis.frame_rate == pytest.approx(1 / np.median(np.diff(expected)))


def test_time_axis_needs_rate_or_timestamps():
    with pytest.raises(ValueError):
        TimeAxis(3, rate=0.0)
    axis = TimeAxis(0, rate=10.0)
    assert axis.index_at(5.0) == 0


@pytest.mark.parametrize("fixture", ["rate_file", "stamped_file"])
def test_frames_read_back(request, fixture):
    info = request.getfixturevalue(fixture)
    with h5py.File(info.path, "r") as f:
        source = open_image_source(f["acquisition/TwoPhotonSeries"])
        assert source.n_frames == len(info.frames)
        geometry = source.frame_geometry()
        assert geometry.size == (24, 20) and geometry.channels == 1 and geometry.n_planes == 1
        for i in (0, 7, len(info.frames) - 1):
            np.testing.assert_array_equal(source.read_frame(i), info.frames[i])
            np.testing.assert_array_equal(source.submit_frame(i).result(timeout=10), info.frames[i])
        assert source.frame_nbytes() == 24 * 20 * 2
        assert source.unit == "n.a."


def test_volumetric_series_planes(tmp_path):
    info = write_voxel_file(tmp_path)
    with h5py.File(info.path, "r") as f:
        source = open_image_source(f["acquisition/Volume"])
        geometry = source.frame_geometry()
        assert geometry.n_planes == 3 and geometry.channels == 1
        frame = source.read_frame(4)
        np.testing.assert_array_equal(geometry.plane(frame, 2), info.frames[4, :, :, 2])
        np.testing.assert_array_equal(geometry.plane(frame, 99), info.frames[4, :, :, 2])


def test_frame_geometry_rules():
    assert frame_geometry((5, 6)).size == (5, 6)
    rgb = frame_geometry((5, 6, 3))
    assert rgb.is_color and rgb.channels == 3 and rgb.n_planes == 1
    assert frame_geometry((5, 6, 3), color=False).n_planes == 3
    assert frame_geometry((5, 6, 7)).n_planes == 7
    both = frame_geometry((5, 6, 2, 4))
    assert (both.n_planes, both.channels) == (2, 4)
    frame = np.arange(5 * 6 * 2 * 4).reshape(5, 6, 2, 4)
    np.testing.assert_array_equal(both.plane(frame, 1), frame[:, :, 1, :])
    with pytest.raises(ImageDataError):
        frame_geometry((5,))
    with pytest.raises(ImageDataError):
        frame_geometry((5, 6, 7), color=True)


def test_images_container_order_and_colour(tmp_path):
    path, arrays = write_images_file(tmp_path)
    with h5py.File(path, "r") as f:
        source = open_image_source(f["processing/ophys/summary"])
        # order_of_images puts zz_gray first although names sort the other way
        assert source.labels == ["zz_gray", "aa_rgb"]
        assert source.time is None
        assert not source.frame_geometry(0).is_color
        assert source.frame_geometry(1).channels == 3
        np.testing.assert_array_equal(source.read_frame(0), arrays["zz_gray"])
        np.testing.assert_array_equal(source.submit_frame(1).result(timeout=10), arrays["aa_rgb"])
        assert source.frame_label(1) == "aa_rgb"
        single = open_image_source(f["processing/ophys/summary/aa_rgb"])
        assert single.n_frames == 1 and single.frame_geometry().channels == 3


@pytest.mark.parametrize("present", [True, False])
def test_external_files_resolved_against_nwb_folder(tmp_path, present):
    path = write_external_file(tmp_path, create_video=present)
    with h5py.File(path, "r") as f:
        source = open_image_source(f["acquisition/behavior_video"])
        files = source.external_files
        assert source.n_frames == 0 and source.n_frames_declared == 150
        assert [x.written for x in files] == ["videos/behavior.avi", "/nonexistent/abs.avi"]
        assert [x.starting_frame for x in files] == [0, 100]
        assert files[0].path == (tmp_path / "videos" / "behavior.avi").resolve()
        assert files[0].exists is present and files[1].exists is False
        message = describe_missing(files, source.path)
    assert "/nonexistent/abs.avi" in message and "/acquisition/behavior_video" in message
    assert (str(files[0].path) in message) is (not present)
    assert source.time.rate == 25.0


def test_non_image_data_is_rejected(tmp_path):
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("series")
        g.create_dataset("data", data=np.zeros((5, 3)))
    with h5py.File(path, "r") as f, pytest.raises(ImageDataError, match="/series/data"):
        open_image_source(f["series"])


def test_viewable_images_are_what_open_image_source_shows(rate_file, tmp_path):
    images_path, _arrays = write_images_file(tmp_path)
    external_path = write_external_file(tmp_path, create_video=False)
    with open_nwb(rate_file.path) as file:
        is_a = file.catalog.is_a
        node = file.node("/acquisition/TwoPhotonSeries")
        assert is_viewable_image(node, is_a)
        assert open_image_source(node).n_frames == 40  # a Node opens like its h5py group
        # a 2-D or 3-D numeric dataset may be an Image (3-D: RGB), whoever holds it
        assert is_viewable_image(file.node("/acquisition/TwoPhotonSeries/data"), is_a)
        for path in (
            "/processing/ophys/ImageSegmentation/PlaneSegmentation",  # a table
            "/processing/ophys/Fluorescence/RoiResponseSeries",  # 2-D data: traces
            "/acquisition/TwoPhotonSeries/starting_time",  # a scalar
            "/acquisition/TwoPhotonSeries/imaging_plane",  # a link to a group of metadata
        ):
            assert not is_viewable_image(file.node(path), is_a), path
    with open_nwb(images_path) as file:
        is_a = file.catalog.is_a
        assert is_viewable_image(file.node("/processing/ophys/summary"), is_a)
        assert is_viewable_image(file.node("/processing/ophys/summary/aa_rgb"), is_a)
        assert not is_viewable_image(file.node("/processing/ophys/summary"), lambda t, b: False)
        assert not is_viewable_image(file.node("/processing/ophys"), is_a)
    with open_nwb(external_path) as file:
        assert is_viewable_image(file.node("/acquisition/behavior_video"), file.catalog.is_a)
    empty_path = tmp_path / "empty.h5"
    with h5py.File(empty_path, "w") as f:
        group = f.create_group("images")
        group.attrs["neurodata_type"] = "Images"
        group.create_dataset("flat", data=np.zeros(5))  # 1-D: not a picture
        f["broken"] = h5py.SoftLink("/nowhere")
    with open_nwb(empty_path) as file:
        assert not is_viewable_image(file.node("/images"), lambda t, base: t == base)
        assert not is_viewable_image(file.node("/broken"), lambda t, base: t == base)


class _ManualSource(ImageSource):
    """Frames of 8 bytes whose reads complete only when the test says so."""

    n_frames = 20
    labels: list = []

    def __init__(self):
        self.futures = {}

    @property
    def dtype(self):
        return np.dtype(np.uint8)

    def frame_geometry(self, index=0):
        return frame_geometry((2, 4))

    def submit_frame(self, index):
        assert index not in self.futures, "a frame was read twice"
        self.futures[index] = Future()
        return self.futures[index]

    def land(self, index):
        self.futures[index].set_result(np.full((2, 4), index, np.uint8))


def test_frame_cache_is_bounded_and_reads_ahead():
    source = _ManualSource()
    landed = []
    cache = FrameCache(source, max_bytes=5 * 8, on_ready=lambda i, f: landed.append((i, f)))
    assert cache.max_frames == 5
    assert cache.request(0) is None and cache.is_pending(0)
    assert cache.request(0) is None  # asking again does not read again
    assert cache.prefetch(range(10), max_pending=3) == 2  # 0 is in flight: 1 and 2 start
    assert sorted(source.futures) == [0, 1, 2]
    for i in (1, 0, 2):
        source.land(i)
    assert [i for i, _ in landed] == [1, 0, 2]
    assert int(landed[0][1][0, 0]) == 1
    assert cache.prefetch(range(-3, 30)) == 5  # limited by the cache size, skips 0..2
    for i in range(3, 8):
        source.land(i)
    assert len(cache) == 5 and cache.nbytes == 40
    assert cache.get(0) is None and cache.get(1) is None  # the oldest went first
    assert int(cache.request(7)[0, 0]) == 7 and not cache.is_pending(7)
    # queued reads can be withdrawn; a withdrawn read neither lands nor calls back
    assert cache.prefetch([10, 11]) == 2
    assert cache.cancel_pending(keep=[11]) == 1
    assert not cache.is_pending(10) and cache.is_pending(11)
    calls = len(landed)
    source.land(11)
    assert len(landed) == calls + 1 and cache.get(10) is None
    failing = Future()
    source.futures[19] = failing
    source.submit_frame = lambda index: failing
    cache.request(19)
    failing.set_exception(OSError("disk gone"))
    assert isinstance(landed[-1][1], OSError) and cache.get(19) is None
    cache.close()
    assert cache.request(3) is None and not cache.is_pending(3)


def test_queued_frame_reads_can_be_withdrawn(rate_file):
    import threading

    from ndviewer.core.signal.chunk_reader import ChunkReader, make_decode_pool

    pool = make_decode_pool(1)
    gate = threading.Event()
    pool.submit(gate.wait)  # occupy the only thread: later reads stay queued
    with h5py.File(rate_file.path, "r") as f:
        source = open_image_source(f["acquisition/TwoPhotonSeries"])
        source.reader = ChunkReader(source.data, pool)
        queued = source.submit_frame(5)
        kept = source.submit_frame(6)
        assert queued.cancel() and queued.cancelled()
        gate.set()
        np.testing.assert_array_equal(kept.result(timeout=10), rate_file.frames[6])
        assert kept.cancel() is False
    pool.shutdown()
