"""Every kind of bad input: one readable line naming the file and the reason, no traceback,
the file byte-identical afterwards, and other open files unaffected. A file that cannot be
read at all is refused (exit 2, nothing on stdout); one that can be described despite a
problem is described (exit 0, the problem as a warning line and in the JSON ``problems``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from ndviewer.core.errors import FileOpenError
from ndviewer.core.model.files import open_nwb
from ndviewer.core.nwb.summary import file_summary, typed_index
from tests.core import foundation_fixtures as ff

REPO_ROOT = Path(__file__).resolve().parents[2]
UNOPENABLE = [kind for kind in ff.BAD_INPUT_KINDS if kind not in ff.BAD_INPUT_OPENABLE]
RUNNING_AS_ROOT = os.geteuid() == 0

# Root reads mode-000 files anyway, and the interpreter lives where user nobody may not look
# (/root/.pyenv): so import everything "info" needs, then drop to nobody, then run it.
AS_NOBODY = r"""
import os, sys
import argparse, contextlib, datetime, errno, hashlib, json, pickle, posixpath, tempfile
import h5py, hdf5plugin, numpy, platformdirs
import ndviewer.cli, ndviewer.core.cache, ndviewer.core.model.catalog, ndviewer.core.errors
import ndviewer.core.model.files, ndviewer.core.model.index, ndviewer.core.nwb.summary, ndviewer.paths
uid, gid = int(sys.argv[1]), int(sys.argv[2])
os.setgroups([])
os.setgid(gid)
os.setuid(uid)
sys.exit(ndviewer.cli.main(sys.argv[3:]))
"""

EXPECTED_MESSAGES = {
    "missing": "Cannot open {path}: the file does not exist.",
    "zero_bytes": "Cannot open {path}: the file is empty (0 bytes).",
    "not_hdf5": (
        "Cannot open {path}: it is not an HDF5 file (NWB files are HDF5; no HDF5 signature "
        "was found)."
    ),
    "truncated": (
        "Cannot open {path}: the file is truncated or damaged (it may have been copied "
        "incompletely, or the program writing it stopped before closing it)."
    ),
    "permission_denied": "Cannot open {path}: permission denied (you may not read this file).",
}


def run_info(path: Path, *extra: str, as_nobody: bool = False) -> subprocess.CompletedProcess:
    args = ["info", str(path), *extra]
    if as_nobody:
        uid, gid = ff.nobody_ids()
        command = [sys.executable, "-c", AS_NOBODY, str(uid), str(gid), *args]
    else:
        command = [sys.executable, "-m", "ndviewer", *args]
    return subprocess.run(
        command, capture_output=True, text=True, cwd=REPO_ROOT, env=dict(os.environ), timeout=120
    )


def _digest(path: Path, sha256) -> str | None:
    if not path.exists():
        return None
    mode = path.stat().st_mode
    path.chmod(0o600)  # root's test process may need to lift 000 to read it for the hash
    try:
        return sha256(path)
    finally:
        path.chmod(mode)


def _check_cli(bad: ff.BadInput, result: subprocess.CompletedProcess) -> str:
    described = bad.kind in ff.BAD_INPUT_OPENABLE
    assert result.returncode == (0 if described else 2), result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    prefix = "ndviewer: warning: " if described else "ndviewer: "
    assert line.startswith(prefix)
    assert str(bad.path) in line
    assert bad.reason in line
    if described:
        assert result.stdout  # the file is described all the same
    else:
        assert result.stdout == ""
    return line.removeprefix(prefix)


CLI_CASES = [(kind, "--json") for kind in ff.BAD_INPUT_KINDS if kind != "permission_denied"]
# the readable output reports the same way; a few kinds suffice to show it
CLI_CASES += [(kind, "tree") for kind in ("missing", "truncated", "garbage_start_time")]


@pytest.mark.parametrize(("kind", "output"), CLI_CASES)
def test_cli_reports_bad_input(bad_input, sha256, kind, output):
    bad = bad_input(kind)
    before = _digest(bad.path, sha256)
    result = run_info(bad.path, *([output] if output == "--json" else []))
    message = _check_cli(bad, result)
    if kind in EXPECTED_MESSAGES:
        assert message == EXPECTED_MESSAGES[kind].format(path=bad.path)
    if kind in ff.BAD_INPUT_OPENABLE and output == "--json":
        assert json.loads(result.stdout)["problems"] == [message]
    assert _digest(bad.path, sha256) == before
    if kind == "missing":
        assert not bad.path.exists()  # nothing was created either


@pytest.mark.skipif(
    not ff.permission_denied_is_testable(),
    reason="running as root with no 'nobody' user: a mode-000 file stays readable",
)
def test_cli_reports_permission_denied(bad_input, sha256):
    bad = bad_input("permission_denied")
    before = _digest(bad.path, sha256)
    result = run_info(bad.path, "--json", as_nobody=RUNNING_AS_ROOT)
    message = _check_cli(bad, result)
    assert message == EXPECTED_MESSAGES["permission_denied"].format(path=bad.path)
    assert _digest(bad.path, sha256) == before


@pytest.mark.skipif(RUNNING_AS_ROOT, reason="root reads mode-000 files (the CLI test drops root)")
def test_open_reports_permission_denied(bad_input):
    bad = bad_input("permission_denied")
    with pytest.raises(FileOpenError) as caught:
        open_nwb(bad.path)
    assert caught.value.message == EXPECTED_MESSAGES["permission_denied"].format(path=bad.path)


@pytest.mark.parametrize("kind", [k for k in UNOPENABLE if k != "permission_denied"])
def test_open_refuses_with_a_readable_message(bad_input, ecephys_file, sha256, kind):
    """The app keeps running: a good file opened before stays usable after the failure."""
    bad = bad_input(kind)
    before = _digest(bad.path, sha256)
    with open_nwb(ecephys_file) as good:
        with pytest.raises(FileOpenError) as caught:
            open_nwb(bad.path)
        assert caught.value.message == EXPECTED_MESSAGES[kind].format(path=bad.path)
        assert good.node("/acquisition/raw/data").shape == (ff.ECEPHYS_SAMPLES, 8)
        assert good.catalog.is_a("ElectricalSeries", "TimeSeries")
    assert _digest(bad.path, sha256) == before


@pytest.mark.parametrize("kind", ff.BAD_INPUT_OPENABLE)
def test_damaged_metadata_still_opens_with_the_problem_named(bad_input, sha256, kind):
    bad = bad_input(kind)
    before = sha256(bad.path)
    with open_nwb(bad.path) as file:
        summary = file_summary(file, typed_index(file, use_cache=False))
        problems = list(file.problems)
        assert file.node("/acquisition" if kind != "missing_namespace" else "/processing")
    assert sha256(bad.path) == before
    assert len(problems) == 1, problems
    assert str(bad.path) in problems[0] and bad.reason in problems[0]
    if kind == "invalid_spec_json":
        assert problems[0].startswith(
            f"The cached specification of namespace 'core' in {bad.path} is broken ("
        )
        assert problems[0].endswith("ndviewer's built-in copy of it is used instead.")
        # core types still resolve, from the built-in copy
        assert summary["spec_source"] == "file"
        series = {s["path"]: s for s in summary["series"]}
        assert series["/acquisition/raw"]["n_channels"] == ff.ECEPHYS_CHANNELS
    elif kind == "missing_namespace":
        assert problems[0] == (
            f"{bad.path}: namespace 'ndx-pose' is not in the file's cached specification, but "
            "5 objects use its types (PoseEstimation, PoseEstimationSeries, Skeleton, "
            "Skeletons), e.g. /processing/behavior/Skeletons."
        )
        assert "ndx-pose" not in [ns["name"] for ns in summary["namespaces"]]
        types = {o["path"]: o["neurodata_type"] for o in summary["objects"]}
        assert types["/processing/behavior/pose/nose"] == "PoseEstimationSeries"  # still listed
    else:
        assert problems[0] == (
            f"{bad.path}: /session_start_time holds 'last tuesday-ish', which is not an ISO 8601 "
            "date-time (expected e.g. 2024-03-01T09:30:00+01:00)."
        )
        assert summary["session"]["session_start_time"] == "last tuesday-ish"
        assert summary["session"]["identifier"] == "ecephys"


def test_unknown_namespace_attribute_and_unknown_type(ecephys_file, tmp_path, sha256):
    path = tmp_path / "relabelled.nwb"
    shutil.copyfile(ecephys_file, path)
    with h5py.File(path, "r+") as h5:
        h5["acquisition/raw"].attrs["namespace"] = "ndx-gone"
        h5["units"].attrs["neurodata_type"] = "MadeUpUnits"
    before = sha256(path)
    with open_nwb(path) as file:
        file_summary(file, typed_index(file, use_cache=False))
        assert file.problems == [
            f"{path}: namespace 'ndx-gone' is not in the file's cached specification, but "
            "1 object uses its types (ElectricalSeries), e.g. /acquisition/raw.",
            f"{path}: type MadeUpUnits (namespace 'core') is defined by no cached namespace, but "
            "1 object uses it, e.g. /units.",
        ]
    result = run_info(path, "--json")
    assert result.returncode == 0
    assert result.stderr == "".join(f"ndviewer: warning: {p}\n" for p in file.problems)
    assert json.loads(result.stdout)["problems"] == file.problems
    assert sha256(path) == before


def test_every_bad_input_kind_is_covered():
    assert set(ff.BAD_INPUT_KINDS) == set(ff.BAD_INPUT_REASONS)
    assert set(UNOPENABLE) == set(EXPECTED_MESSAGES)
