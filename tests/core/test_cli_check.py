"""``python -m ndviewer check`` as a user runs it: output, JSON lines and exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core import checks_fixtures as cf

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "ndviewer", "check", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli-check")
    return {
        "clean": cf.write_checks_file(folder / "clean.nwb", defective=False),
        "bad": cf.write_checks_file(folder / "bad.nwb", defective=True),
    }


def test_clean_file_exits_0_with_a_summary_line(files) -> None:
    done = _run(str(files["clean"]))
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith(f"{files['clean']}: 0 errors, 0 warnings")
    assert done.stderr == ""


def test_defective_file_exits_1_and_lists_findings_errors_first(files) -> None:
    done = _run(str(files["bad"]))
    assert done.returncode == 1
    lines = done.stdout.splitlines()[1:]
    severities = [line.split()[0] for line in lines]
    assert severities == sorted(severities, key=("error", "warning", "info").index)
    assert any("/acquisition/negative_rate [rate]  rate_negative:" in line for line in lines)


def test_json_is_one_object_per_file_per_line(files) -> None:
    done = _run("--json", str(files["clean"]), str(files["bad"]))
    assert done.returncode == 1
    objects = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["file"] for o in objects] == [str(files["clean"]), str(files["bad"])]
    assert objects[0]["findings"] == [] or all(
        f["severity"] == "info" for f in objects[0]["findings"]
    )
    keys = {(f["check"], f["path"], f["field"]) for f in objects[1]["findings"]}
    assert keys >= cf.PLANTED
    assert all(
        set(f) == {"severity", "path", "field", "check", "message"} for f in objects[1]["findings"]
    )


def test_unreadable_file_exits_2_with_one_line_and_others_still_checked(
    files, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.nwb"
    done = _run("--json", str(missing), str(files["clean"]))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"ndviewer: Cannot open {missing}: the file does not exist."
    ]
    assert [json.loads(line)["file"] for line in done.stdout.splitlines()] == [str(files["clean"])]


def test_inspector_findings_join_ours(files) -> None:
    done = _run("--json", "--inspector", str(files["bad"]))
    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)["findings"]
    checks = {(f["check"], f["path"]) for f in findings}
    assert ("rate_negative", "/acquisition/negative_rate") in checks
    assert ("nwbinspector:check_rate_is_positive", "/acquisition/negative_rate") in checks


def test_check_loads_no_qt(files) -> None:
    code = (
        "import sys; from ndviewer.cli import main; rc = main(['check', sys.argv[1]]); "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', "
        "'pynwb', 'nwbinspector')]; print('LOADED', bad, file=sys.stderr); sys.exit(rc)"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-c", code, str(files["clean"])],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stderr
