"""The file summary (the ``info --json`` object), checked against pynwb; and the demo file."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from ndviewer.core.model.files import open_nwb
from ndviewer.core.model.index import SeriesFacts
from ndviewer.core.nwb.summary import (
    file_summary,
    find_typed_paths,
    general_info,
    series_numbers,
    subject_info,
    typed_index,
)
from tests.core import foundation_fixtures as ff

NWB_FIXTURES = [name for name in ff.WRITERS if name != "plain_hdf5_file"]
CONTRACT_KEYS = [
    "file",
    "nwb_version",
    "namespaces",
    "spec_source",
    "session",
    "objects",
    "series",
    "problems",
]


def _summary(path) -> dict:
    with open_nwb(path) as file:
        return file_summary(file, typed_index(file, use_cache=False))


def test_summary_contract(ecephys_file):
    summary = _summary(ecephys_file)
    assert list(summary) == CONTRACT_KEYS
    assert summary["file"] == str(ecephys_file)
    assert summary["nwb_version"] == "2.11.0"
    assert summary["spec_source"] == "file"
    assert {"name": "core", "version": "2.11.0"} in summary["namespaces"]
    assert all(set(ns) == {"name", "version"} for ns in summary["namespaces"])
    assert summary["session"] == {
        "session_description": "ecephys fixture",
        "identifier": "ecephys",
        "session_start_time": ff.SESSION_START.isoformat(),
    }
    objects = {o["path"]: o for o in summary["objects"]}
    assert "/acquisition/raw/data" not in objects  # untyped: not an "object" of the contract
    assert objects["/acquisition/raw"] == {
        "path": "/acquisition/raw",
        "neurodata_type": "ElectricalSeries",
        "namespace": "core",
        "kind": "group",
        "shape": None,
        "dtype": None,
        "link": None,
    }
    assert objects["/units/spike_times"] == {
        "path": "/units/spike_times",
        "neurodata_type": "VectorData",
        "namespace": "hdmf-common",
        "kind": "dataset",
        "shape": [sum(len(t) for t in ff.UNIT_SPIKE_TIMES)],
        "dtype": "float64",
        "link": None,
    }


@pytest.mark.parametrize("fixture", NWB_FIXTURES)
def test_objects_are_every_typed_object(request, fixture):
    path = request.getfixturevalue(fixture)
    summary = _summary(path)
    with h5py.File(path, "r", locking=False) as h5:
        expected = {}

        def visit(name, obj):
            if "neurodata_type" in obj.attrs and not name.startswith("specifications"):
                expected["/" + name] = obj.attrs["neurodata_type"]

        h5.visititems(visit)
        expected["/"] = h5.attrs["neurodata_type"]
    assert {o["path"]: o["neurodata_type"] for o in summary["objects"]} == expected


@pytest.mark.parametrize("fixture", [*NWB_FIXTURES, "demo_file"])
def test_series_numbers_equal_pynwb(request, fixture):
    path = request.getfixturevalue(fixture)
    summary = _summary(path)
    expected = ff.pynwb_series_numbers(path)
    ours = {s["path"]: s for s in summary["series"]}
    assert sorted(ours) == sorted(expected)
    for series_path, numbers in expected.items():
        mine = dict(ours[series_path])
        assert mine.pop("frame_shape") == numbers.pop("frame_shape"), series_path
        assert mine == pytest.approx(numbers), series_path


def test_session_start_time_equals_pynwb(ecephys_file):
    import datetime

    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(ecephys_file), "r") as io:
        expected = io.read().session_start_time
    stamp = _summary(ecephys_file)["session"]["session_start_time"]
    assert datetime.datetime.fromisoformat(stamp) == expected


@pytest.mark.parametrize(
    ("facts", "numbers"),
    [
        (
            SeriesFacts((100, 4), "volts", 50.0, 1.0),
            {
                "n_samples": 100,
                "n_channels": 4,
                "rate": 50.0,
                "starting_time": 1.0,
                "duration": 2.0,
                "unit": "volts",
                "frame_shape": None,
                "external_files": None,
            },
        ),
        (
            SeriesFacts((10, 8, 6), "n.a.", 5.0, 0.0),
            {
                "n_samples": 10,
                "n_channels": 48,
                "rate": 5.0,
                "starting_time": 0.0,
                "duration": 2.0,
                "unit": "n.a.",
                "frame_shape": None,
                "external_files": None,
            },
        ),
        (
            SeriesFacts((3,), "s", None, None, 3, 2.0, 4.5),
            {
                "n_samples": 3,
                "n_channels": 1,
                "rate": None,
                "starting_time": 2.0,
                "duration": 2.5,
                "unit": "s",
                "frame_shape": None,
                "external_files": None,
            },
        ),
        (
            SeriesFacts((0, 2), "V", None, None, 0, None, None),
            {
                "n_samples": 0,
                "n_channels": 2,
                "rate": None,
                "starting_time": None,
                "duration": 0.0,
                "unit": "V",
                "frame_shape": None,
                "external_files": None,
            },
        ),
        (
            SeriesFacts(None, None),
            {
                "n_samples": 0,
                "n_channels": 1,
                "rate": None,
                "starting_time": None,
                "duration": None,
                "unit": None,
                "frame_shape": None,
                "external_files": None,
            },
        ),
    ],
    ids=["regular", "image", "timestamps", "empty", "no-data"],
)
def test_series_numbers_rules(facts, numbers):
    assert series_numbers(facts) == numbers


def test_image_series_numbers_are_frames_and_frame_shape():
    """Issue 23.4: an imaging series is frames × frame shape, not "16384 ch"."""
    numbers = series_numbers(SeriesFacts((300, 128, 128), "n.a.", 30.0, 0.0), is_image=True)
    assert numbers["n_samples"] == 300
    assert numbers["frame_shape"] == [128, 128]
    assert numbers["duration"] == 10.0


@pytest.mark.parametrize(
    ("facts", "frames", "duration"),
    [
        # num_samples with a rate: duration = frames / rate
        (
            SeriesFacts((0, 0, 0), "n.a.", 30.0, 0.0, num_samples=250, external_files=2),
            250,
            250 / 30,
        ),
        # timestamps only: one frame per timestamp
        (SeriesFacts((0, 0, 0), "n.a.", None, None, 3, 0.0, 1.0, None, 1), 3, 1.0),
    ],
    ids=["num_samples", "timestamps"],
)
def test_external_file_series_frames_and_duration(facts, frames, duration):
    """Issue 23.3: an external-video ImageSeries used to report 0 frames and duration 0."""
    numbers = series_numbers(facts, is_image=True)
    assert numbers["n_samples"] == frames
    assert numbers["duration"] == pytest.approx(duration)
    assert numbers["frame_shape"] is None  # the (0, 0, 0) placeholder says nothing
    assert numbers["n_channels"] == 1


def test_typed_paths_from_the_index_and_from_a_shallow_scan(tmp_path):
    path = tmp_path / "nested.nwb"
    with h5py.File(path, "w") as f:
        f.attrs.update(nwb_version="2.7.0", neurodata_type="NWBFile", namespace="core")

        def typed(name, neurodata_type):
            f.create_group(name).attrs.update(neurodata_type=neurodata_type, namespace="core")

        typed("acquisition/raw", "ElectricalSeries")
        typed("acquisition/raw/inner", "TimeSeries")  # inside a match: not scanned
        typed("processing/ophys", "ProcessingModule")
        typed("processing/ophys/Fluorescence", "Fluorescence")
        typed("processing/ophys/Fluorescence/rrs", "RoiResponseSeries")  # 3 levels down
        f.create_group("processing/ophys/Fluorescence/deeper")
        typed("processing/ophys/Fluorescence/deeper/far", "TimeSeries")  # 4: not scanned
        typed("general/elsewhere", "TimeSeries")  # not under a scanned root
        typed("intervals", "TimeIntervals")  # a root that matches itself
    with open_nwb(path) as file:
        assert find_typed_paths(file, "TimeSeries") == [
            "/processing/ophys/Fluorescence/rrs",
            "/acquisition/raw",
        ]
        assert find_typed_paths(file, "DynamicTable") == ["/intervals"]
        index = typed_index(file, use_cache=False)
        assert find_typed_paths(file, "TimeSeries", index) == [
            "/acquisition/raw",
            "/acquisition/raw/inner",
            "/general/elsewhere",
            "/processing/ophys/Fluorescence/deeper/far",
            "/processing/ophys/Fluorescence/rrs",
        ]
        assert find_typed_paths(file, "Units", index) == find_typed_paths(file, "Units") == []


def test_plain_hdf5_summary(plain_hdf5_file):
    summary = _summary(plain_hdf5_file)
    assert summary == {
        "file": str(plain_hdf5_file),
        "nwb_version": None,
        "namespaces": [],
        "spec_source": "none",
        "session": {"session_description": None, "identifier": None, "session_start_time": None},
        "objects": [],
        "series": [],
        "problems": [],
    }


# -- the demo file -------------------------------------------------------------------------------
def test_demo_session_is_realistic(demo_file):
    make_demo = ff.load_make_demo()
    with open_nwb(demo_file) as file:
        summary = file_summary(file, typed_index(file, use_cache=False))
        general = general_info(file)
        subject = subject_info(file)
        assert file.problems == []
        raw = file.node("/acquisition/ElectricalSeries/data").h5obj()
        samples = raw[:]
        chunks, compression = raw.chunks, raw.compression
    assert summary["spec_source"] == "file"
    assert {"name": "ndx-events", "version": "0.4.0"} in summary["namespaces"]
    assert general["experimenter"] == ["Doe, Jane", "Roe, Richard"]
    assert general["lab"] == "Systems Neuroscience Lab"
    assert "hippocampus" in general["keywords"]
    assert subject["species"] == "Mus musculus"
    assert subject["age"] is None and subject["date_of_birth"] is None  # missing on purpose

    types = {o["path"]: o["neurodata_type"] for o in summary["objects"]}
    assert types["/acquisition/ElectricalSeries"] == "ElectricalSeries"
    assert types["/processing/ecephys/LFP/LFP"] == "ElectricalSeries"
    assert types["/acquisition/TwoPhotonSeries"] == "TwoPhotonSeries"
    assert types["/processing/ophys/ImageSegmentation/PlaneSegmentation"] == "PlaneSegmentation"
    assert types["/processing/ophys/Fluorescence/RoiResponseSeries"] == "RoiResponseSeries"
    assert types["/processing/ophys/DfOverF/RoiResponseSeries"] == "RoiResponseSeries"
    assert types["/processing/behavior/Position/SpatialSeries"] == "SpatialSeries"
    assert types["/events/licks"] == types["/events/rewards"] == "EventsTable"
    assert types["/units"] == "Units" and types["/intervals/trials"] == "TimeIntervals"
    assert types["/general/subject"] == "Subject"
    objects = {o["path"]: o for o in summary["objects"]}
    assert objects["/units/waveform_mean"]["shape"] == [make_demo.N_UNITS, 40, 3]
    assert objects["/intervals/trials/condition"]["shape"] == [make_demo.N_TRIALS]
    assert objects["/processing/ophys/ImageSegmentation/PlaneSegmentation/image_mask"]["shape"] == [
        make_demo.N_ROIS,
        128,
        128,
    ]

    series = {s["path"]: s for s in summary["series"]}
    raw_numbers = series["/acquisition/ElectricalSeries"]
    assert (raw_numbers["n_channels"], raw_numbers["rate"]) == (32, 30_000.0)
    assert raw_numbers["duration"] == pytest.approx(make_demo.RAW_SECONDS * ff.DEMO_TEST_SCALE)
    assert series["/processing/ecephys/LFP/LFP"]["rate"] == 1000.0
    assert series["/acquisition/TwoPhotonSeries"]["n_channels"] == 128 * 128

    # QC material: one dead and one saturated channel, spikes above the noise elsewhere
    assert chunks == (min(len(samples), 30_000), 32) and compression == "gzip"
    assert not samples[:, make_demo.DEAD_CHANNEL].any()
    saturated = samples[:, make_demo.SATURATED_CHANNEL]
    assert (saturated == np.iinfo(np.int16).max).mean() > 0.05
    live = np.delete(samples, [make_demo.DEAD_CHANNEL, make_demo.SATURATED_CHANNEL], axis=1)
    assert live.std(axis=0).min() > 50 and live.min() < -500


def test_demo_is_deterministic_and_minutes_long(tmp_path):
    """Same seed, same bytes of data, whatever block size the raw stream is written in; the
    full session lasts minutes (the whole-session strip and the pyramid matter) and is written
    block by block, so its size and memory do not grow with a longer session."""
    make_demo = ff.load_make_demo()
    first = make_demo.build_demo(tmp_path / "a.nwb", scale=0.05)
    second = make_demo.build_demo(tmp_path / "b.nwb", scale=0.05)
    with h5py.File(first, "r", locking=False) as a, h5py.File(second, "r", locking=False) as b:
        for name in (
            "acquisition/ElectricalSeries/data",
            "acquisition/TwoPhotonSeries/data",
            "units/spike_times",
            "intervals/trials/condition",
        ):
            np.testing.assert_array_equal(a[name][()], b[name][()])
        raw = a["acquisition/ElectricalSeries/data"]
        assert raw.shape == (int(make_demo.RAW_SECONDS * 0.05 * make_demo.RAW_RATE), 32)
        units = [
            {"spike_times": np.array([0.99998, 1.5]), "amplitude": 200.0, "channels": [2, 3, 4]}
        ]
        whole = make_demo._raw_block(0, 90_000, units)
        pieces = [make_demo._raw_block(a, a + 7_000, units) for a in range(0, 90_000, 7_000)]
        np.testing.assert_array_equal(np.concatenate(pieces)[:90_000], whole)
    assert make_demo.SESSION_SECONDS >= 60 and make_demo.RAW_SECONDS == make_demo.SESSION_SECONDS
    # 6 s of session: the full two minutes are ~20x this (about 200 MB of gzip'd raw data)
    assert 5e6 < first.stat().st_size < 15e6
    assert not list(tmp_path.glob("*.partial*"))  # written atomically
