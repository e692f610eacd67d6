"""``python -m ndviewer info`` as a user runs it: a subprocess, its output and exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core import foundation_fixtures as ff

REPO_ROOT = Path(__file__).resolve().parents[2]
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
OBJECT_KEYS = ["path", "neurodata_type", "namespace", "kind", "shape", "dtype", "link"]
SERIES_KEYS = [
    "path",
    "neurodata_type",
    "n_samples",
    "n_channels",
    "rate",
    "starting_time",
    "duration",
    "unit",
    "frame_shape",
    "external_files",
]


def run_info(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ndviewer", "info", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=dict(os.environ),  # the session's private NDVIEWER_CACHE_DIR
        timeout=120,
    )


@pytest.mark.parametrize("fixture", ["ecephys_file", "behavior_file", "ndx_pose_file"])
def test_json_contract_and_series_numbers_equal_pynwb(request, fixture):
    path = request.getfixturevalue(fixture)
    result = run_info(path, "--json", "--no-cache")
    assert (result.returncode, result.stderr) == (0, "")
    summary = json.loads(result.stdout)  # exactly one JSON object
    assert list(summary) == CONTRACT_KEYS
    assert summary["file"] == str(path)
    assert summary["nwb_version"] == "2.11.0"
    assert summary["spec_source"] == "file"
    assert summary["session"]["identifier"] == path.stem.replace("_", "-")
    assert summary["session"]["session_start_time"] == ff.SESSION_START.isoformat()
    assert all(list(obj) == OBJECT_KEYS for obj in summary["objects"])
    types = {obj["path"]: obj["neurodata_type"] for obj in summary["objects"]}
    for object_path, type_name in ff.EXPECTED_TYPES[fixture].items():
        assert types[object_path] == type_name, object_path
    assert all(list(series) == SERIES_KEYS for series in summary["series"])
    expected = ff.pynwb_series_numbers(path)
    ours = {series["path"]: series for series in summary["series"]}
    assert sorted(ours) == sorted(expected)
    for series_path, numbers in expected.items():
        mine = dict(ours[series_path])
        assert mine.pop("frame_shape") == numbers.pop("frame_shape"), series_path
        assert mine == pytest.approx(numbers), series_path


def test_exact_numbers_of_the_ecephys_series(ecephys_file):
    summary = json.loads(run_info(ecephys_file, "--json").stdout)
    series = {s["path"]: s for s in summary["series"]}
    assert series["/acquisition/raw"] == {
        "path": "/acquisition/raw",
        "neurodata_type": "ElectricalSeries",
        "n_samples": ff.ECEPHYS_SAMPLES,
        "n_channels": ff.ECEPHYS_CHANNELS,
        "rate": ff.ECEPHYS_RATE,
        "starting_time": ff.ECEPHYS_START,
        "duration": ff.ECEPHYS_SAMPLES / ff.ECEPHYS_RATE,
        "unit": "volts",
        "frame_shape": None,
        "external_files": None,
    }
    lfp = series["/processing/ecephys/LFP/lfp"]
    assert lfp["rate"] is None  # timestamps are used
    assert lfp["starting_time"] == ff.LFP_TIMESTAMPS[0]
    assert lfp["duration"] == pytest.approx(ff.LFP_TIMESTAMPS[-1] - ff.LFP_TIMESTAMPS[0])


def test_reopening_gives_the_same_answer(intervals_file):
    first = run_info(intervals_file, "--json")
    again = run_info(intervals_file, "--json")  # from the persisted summary
    rebuilt = run_info(intervals_file, "--json", "--no-cache")
    assert first.returncode == again.returncode == rebuilt.returncode == 0
    assert json.loads(first.stdout) == json.loads(again.stdout) == json.loads(rebuilt.stdout)


def test_reopened_json_is_the_printed_text_byte_for_byte(ecephys_file, tmp_path):
    """The second ``--json`` prints the text kept from the first (the same bytes, the same
    warnings), also when the first run printed the readable summary instead."""
    env = {**os.environ, "NDVIEWER_CACHE_DIR": str(tmp_path / "cache")}

    def info(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "ndviewer", "info", str(ecephys_file), *args],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            env=env,
            timeout=120,
        )

    assert info().returncode == 0  # caches the summary, not yet the JSON text
    runs = [info("--json"), info("--json"), info("--json", "--no-cache")]
    assert (tmp_path / "cache" / "info-json").is_dir()
    assert [run.returncode for run in runs] == [0, 0, 0]
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout
    assert runs[0].stderr == runs[1].stderr == runs[2].stderr
    assert json.loads(runs[1].stdout)["objects"]


def test_readable_tree(ecephys_file):
    result = run_info(ecephys_file)
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[0] == f"file:                {ecephys_file}"
    assert lines[1] == "NWB version:         2.11.0"
    assert lines[2].startswith("spec:                file  ") and "core 2.11.0" in lines[2]
    assert "identifier:          ecephys" in lines
    duration = ff.LFP_TIMESTAMPS[-1] - ff.LFP_TIMESTAMPS[0]
    expected_blocks = [
        [
            "/  <NWBFile>",
            "  acquisition/",
            "    raw  <ElectricalSeries>  [2000 samples x 8 ch, 1000 Hz, 2.000 s, volts]",
            "      electrodes  <DynamicTableRegion>  (8,) int64",
        ],
        [
            "    ecephys  <ProcessingModule>",
            "      LFP  <LFP>",
            f"        lfp  <ElectricalSeries>  [300 samples x 2 ch, timestamps, {duration:.3f} s, "
            "volts]",
            "          electrodes  <DynamicTableRegion>  (2,) int64",
            f"      lfp_power  <TimeSeries>  [300 samples x 1 ch, timestamps, {duration:.3f} s, "
            "V^2]",
            "  units  <Units>",
            "    id  <ElementIdentifiers>  (3,) int64",
            "    spike_times  <VectorData>  (6,) float64",
            "    spike_times_index  <VectorIndex>  (3,) uint8",
        ],
    ]
    for block in expected_blocks:
        start = lines.index(block[0])
        assert lines[start : start + len(block)] == block


def test_plain_hdf5_is_generic_hdf5_exit_0(plain_hdf5_file):
    text = run_info(plain_hdf5_file)
    assert (text.returncode, text.stderr) == (0, "")
    assert "NWB version:         (not an NWB file: shown as plain HDF5)" in text.stdout
    result = run_info(plain_hdf5_file, "--json")
    assert (result.returncode, result.stderr) == (0, "")
    summary = json.loads(result.stdout)
    assert (summary["nwb_version"], summary["spec_source"], summary["objects"]) == (
        None,
        "none",
        [],
    )


def test_no_cached_spec_falls_back_says_so_and_succeeds(nocache_file):
    result = run_info(nocache_file, "--json")
    assert result.returncode == 0
    assert result.stderr.count("\n") == 1  # one line
    assert result.stderr.startswith(f"ndviewer: note: {nocache_file} has no cached specification")
    summary = json.loads(result.stdout)
    assert summary["spec_source"] == "fallback"
    assert summary["series"] == [
        {
            "path": "/acquisition/signal",
            "neurodata_type": "TimeSeries",
            "n_samples": 10,
            "n_channels": 1,
            "rate": 5.0,
            "starting_time": 2.0,
            "duration": 2.0,
            "unit": "V",
            "frame_shape": None,
            "external_files": None,
        }
    ]
    assert summary["problems"] == []  # a note is not a problem
