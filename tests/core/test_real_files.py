"""Issue 23: what real files do that the fixtures did not: links into sibling files, video kept
outside the file, imaging series, damaged links, odd file names, interrupted saves; and exit
codes a script can trust (0 described, 2 refused)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from ndviewer.core.edit import batch_edit
from ndviewer.core.model.files import open_nwb
from ndviewer.core.model.nodes import BROKEN_LINK, EXTERNAL_LINK, UNREADABLE
from ndviewer.core.nwb.images import SeriesSource
from ndviewer.core.nwb.summary import file_summary, typed_index
from ndviewer.core.signal.chunk_reader import ReadTooLargeError
from tests.core import foundation_fixtures as ff

REPO_ROOT = Path(__file__).resolve().parents[2]
RAW_SAMPLES, RAW_RATE = 500, 250.0


def run_cli(*args: str | Path, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.run(
        [sys.executable, "-m", "ndviewer", *map(os.fspath, args)],
        capture_output=True,
        text=True,
        errors="surrogateescape",
        cwd=cwd,
        env=env,
        timeout=120,
    )


@pytest.fixture
def linked_pair(tmp_path) -> Path:
    """session.nwb whose /acquisition/linked_raw is an ExternalLink to raw.nwb's series, and
    whose /acquisition/gone links to a file that does not exist (both written with pynwb,
    the links added with h5py as labs do when raw data is kept apart)."""
    from pynwb import TimeSeries

    folder = tmp_path / "session"
    folder.mkdir()
    raw = ff._nwbfile("raw")
    raw.add_acquisition(
        TimeSeries(
            name="raw",
            data=np.arange(RAW_SAMPLES * 4, dtype=np.int16).reshape(RAW_SAMPLES, 4),
            rate=RAW_RATE,
            unit="volts",
        )
    )
    ff._write(raw, folder / "raw.nwb")
    main = ff._nwbfile("session")
    main.add_acquisition(TimeSeries(name="speed", data=np.ones(10), rate=1.0, unit="m/s"))
    path = ff._write(main, folder / "main.nwb")
    with h5py.File(path, "r+") as h5:
        h5["acquisition/linked_raw"] = h5py.ExternalLink("raw.nwb", "/acquisition/raw")
        h5["acquisition/gone"] = h5py.ExternalLink("missing.nwb", "/acquisition/raw")
    return path


def test_external_links_are_followed_from_the_linking_files_folder(linked_pair, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_cli("info", linked_pair, "--json", "--no-cache", cwd=elsewhere)
    assert result.returncode == 0
    summary = json.loads(result.stdout)
    objects = {o["path"]: o for o in summary["objects"]}
    assert objects["/acquisition/linked_raw"]["neurodata_type"] == "TimeSeries"
    assert objects["/acquisition/linked_raw"]["link"] == "raw.nwb::/acquisition/raw"
    series = {s["path"]: s for s in summary["series"]}
    linked = series["/acquisition/linked_raw"]
    assert (linked["n_samples"], linked["n_channels"], linked["rate"]) == (
        RAW_SAMPLES,
        4,
        RAW_RATE,
    )
    assert linked["duration"] == RAW_SAMPLES / RAW_RATE
    assert linked["unit"] == "volts"
    # the dangling link is one explained problem, not a failure of the file
    missing = linked_pair.parent / "missing.nwb"
    assert summary["problems"] == [
        f"{linked_pair}: the external link /acquisition/gone points to "
        "missing.nwb::/acquisition/raw, which cannot be followed "
        f"({missing}: the file does not exist)."
    ]
    assert result.stderr == f"ndviewer: warning: {summary['problems'][0]}\n"
    text = run_cli("info", linked_pair, "--no-cache", cwd=elsewhere)
    assert text.returncode == 0
    assert (
        f"    linked_raw  <TimeSeries>  [{RAW_SAMPLES} samples x 4 ch, 250 Hz, 2.000 s, volts]"
        "  -> raw.nwb::/acquisition/raw"
    ) in text.stdout.splitlines()


def test_external_link_nodes_show_the_target_and_dangling_ones_say_why(linked_pair):
    with open_nwb(linked_pair) as file:
        linked = file.node("/acquisition/linked_raw")
        assert linked.kind == EXTERNAL_LINK
        assert linked.neurodata_type == "TimeSeries"
        assert linked.link_target == "raw.nwb::/acquisition/raw"
        assert linked.child("data").shape == (RAW_SAMPLES, 4)
        gone = file.node("/acquisition/gone")
        assert gone.kind == BROKEN_LINK
        assert gone.error == (
            "external link to missing.nwb::/acquisition/raw: "
            f"{linked_pair.parent / 'missing.nwb'} does not exist"
        )
        assert file.node("/acquisition/speed").neurodata_type == "TimeSeries"


def test_external_video_image_series_frames_and_duration(tmp_path):
    from pynwb.image import ImageSeries

    nwb = ff._nwbfile("video")
    nwb.add_acquisition(
        ImageSeries(
            name="video",
            external_file=["a.mp4", "b.mp4"],
            starting_frame=[0, 100],
            format="external",
            rate=30.0,
            unit="n.a.",
            num_samples=250,
        )
    )
    nwb.add_acquisition(
        ImageSeries(
            name="stamped",
            external_file=["a.mp4"],
            starting_frame=[0],
            format="external",
            timestamps=[0.0, 0.5, 1.25],
            unit="n.a.",
        )
    )
    path = ff._write(nwb, tmp_path / "video.nwb")
    result = run_cli("info", path, "--json", "--no-cache")
    assert (result.returncode, result.stderr) == (0, "")
    series = {s["path"]: s for s in json.loads(result.stdout)["series"]}
    video = series["/acquisition/video"]
    assert (video["n_samples"], video["rate"], video["external_files"]) == (250, 30.0, 2)
    assert video["duration"] == pytest.approx(250 / 30.0)
    assert video["frame_shape"] is None
    stamped = series["/acquisition/stamped"]
    assert (stamped["n_samples"], stamped["duration"]) == (3, 1.25)
    text = run_cli("info", path, "--no-cache").stdout.splitlines()
    assert "    video  <ImageSeries>  [250 frames in external files, 30 Hz, 8.333 s, n.a.]" in text


def test_imaging_series_is_frames_by_frame_shape(ophys_file):
    result = run_cli("info", ophys_file, "--json", "--no-cache")
    series = {s["path"]: s for s in json.loads(result.stdout)["series"]}
    two_photon = series["/acquisition/two_photon"]
    assert two_photon["frame_shape"] == [ff.OPHYS_NX, ff.OPHYS_NY]
    assert two_photon["n_samples"] == ff.OPHYS_FRAMES
    text = run_cli("info", ophys_file, "--no-cache").stdout
    assert f"[{ff.OPHYS_FRAMES} frames × {ff.OPHYS_NX} × {ff.OPHYS_NY}, 30 Hz," in text
    assert " ch, 30 Hz" not in text.split("two_photon", 1)[1].splitlines()[0]


def test_non_utf8_file_name_is_described_with_the_cache(ecephys_file, tmp_path):
    path = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9-session.nwb"))
    shutil.copyfile(ecephys_file, path)
    first = run_cli("info", path, "--json")
    again = run_cli("info", path, "--json")  # from the persisted summary
    assert (first.returncode, again.returncode) == (0, 0), first.stderr
    assert "Traceback" not in first.stderr + again.stderr
    assert json.loads(first.stdout)["series"] == json.loads(again.stdout)["series"]
    text = run_cli("info", path)
    assert text.returncode == 0 and "raw  <ElectricalSeries>" in text.stdout


def test_info_warns_of_an_interrupted_older_save(ecephys_file, tmp_path):
    path = tmp_path / "journaled.nwb"
    shutil.copyfile(ecephys_file, path)
    Path(f"{path}.ndviewer-journal").write_text("{}")
    result = run_cli("info", path, "--json")
    assert result.returncode == 0
    problems = json.loads(result.stdout)["problems"]
    assert len(problems) == 1 and "an earlier save was interrupted" in problems[0]
    assert result.stderr == f"ndviewer: warning: {problems[0]}\n"


@pytest.mark.parametrize("breakage", ["read_only", "journal"])
def test_edit_dry_run_refuses_what_the_save_would(ecephys_file, tmp_path, capsys, breakage):
    path = tmp_path / "target.nwb"
    shutil.copyfile(ecephys_file, path)
    if breakage == "read_only":
        path.chmod(0o444)
    else:
        Path(f"{path}.ndviewer-journal").write_text("{}")
    before = path.read_bytes()
    for extra in (["--dry-run"], []):
        out = io.StringIO()
        status = batch_edit.main([str(path), "--set", "general/lab=X", *extra], out=out)
        err = capsys.readouterr().err
        assert status == 2, extra
        assert out.getvalue() == ""
        assert err.count("\n") == 1 and err.startswith(f"ndviewer: Cannot save {path}: ")
        assert err.rstrip().endswith("Nothing was written.")
    assert path.read_bytes() == before


@pytest.fixture
def damaged_links(ecephys_file, tmp_path) -> Path:
    path = tmp_path / "cycle.nwb"
    shutil.copyfile(ecephys_file, path)
    with h5py.File(path, "r+") as h5:
        h5["acquisition/cycle_a"] = h5py.SoftLink("/acquisition/cycle_b")
        h5["acquisition/cycle_b"] = h5py.SoftLink("/acquisition/cycle_a")
        movie = h5.create_group("acquisition/huge_movie")
        movie.attrs["neurodata_type"] = "ImageSeries"
        movie.attrs["namespace"] = "core"
        movie.create_dataset(
            "data", shape=(100_000, 100_000, 100_000), dtype="uint16", chunks=(1, 256, 256)
        )
        movie.create_dataset("starting_time", data=0.0).attrs["rate"] = 30.0
    return path


def test_link_cycle_and_enormous_shape_stay_one_node_each(damaged_links):
    with open_nwb(damaged_links) as file:
        cycle = file.node("/acquisition/cycle_a")
        assert cycle.kind in (UNREADABLE, BROKEN_LINK)
        assert cycle.error and not cycle.is_group
        assert file.node("/acquisition/raw").neurodata_type == "ElectricalSeries"
        with pytest.raises(ReadTooLargeError) as caught:
            SeriesSource(file.node("/acquisition/huge_movie").h5obj())
        assert "one frame of /acquisition/huge_movie would need 18.6 GiB" in caught.value.message
        summary = file_summary(file, typed_index(file, use_cache=False))
        series = {s["path"]: s for s in summary["series"]}
        assert series["/acquisition/huge_movie"]["frame_shape"] == [100_000, 100_000]
    result = run_cli("info", damaged_links, "--json", "--no-cache")
    assert result.returncode == 0 and "Traceback" not in result.stderr
