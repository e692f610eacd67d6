"""An unknown subcommand prints usage and exits 2, headless: it once opened the window with
"validate" as a file name (then "check", now a real subcommand), or aborted with SIGABRT (rc 134) when there was no display."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "ndviewer", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
    )


def test_unknown_subcommand_prints_usage_and_exits_2(ecephys_file):
    result = run_cli("validate", str(ecephys_file))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "usage: ndviewer [FILE ...] [--select PATH]"
    from ndviewer.cli import SUBCOMMANDS

    assert lines[1] == "       ndviewer {" + ",".join(SUBCOMMANDS) + "} ..."
    assert {"info", "edit", "export"} <= set(SUBCOMMANDS)
    assert lines[2].startswith("ndviewer: unknown subcommand or missing file 'validate'")
    assert "Traceback" not in result.stderr


def test_files_are_not_taken_for_subcommands(tmp_path, monkeypatch):
    from ndviewer.cli import _unknown_subcommand

    monkeypatch.chdir(tmp_path)
    assert _unknown_subcommand("check")
    assert _unknown_subcommand("valid-ate")
    (tmp_path / "check").write_bytes(b"")
    assert not _unknown_subcommand("check")  # a file of that name is opened
    assert not _unknown_subcommand("session.nwb")  # missing files are the window's business
    assert not _unknown_subcommand("data/session")
    assert not _unknown_subcommand("--select")
