"""Batch runs of ``info`` over folders: inputs, reports, resume, pools and worker deaths
(issue #20). The Dask cluster runs are in test_batch_dask.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ndviewer.core.batch.inputs import expand_inputs
from ndviewer.core.batch.report import load_rows, summarize, write_report
from ndviewer.core.batch.runner import run_batch
from ndviewer.core.batch.tasks import info_task
from tests.core.batch_fixtures import EXPECTED_STATUS, write_batch_folder

#: Fields that depend on the run (time, bytes, which process read the file), not the file.
RUN_FIELDS = ("seconds", "bytes_read")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_batch_folder(tmp_path_factory.mktemp("batch"))


def comparable(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in RUN_FIELDS} for row in rows]


def cli(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ndviewer.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
        **kwargs,
    )


def test_inputs_walk_folders_globs_and_lists_without_repeats(folder, tmp_path) -> None:
    items, problems = expand_inputs([str(folder)])
    assert problems == []
    names = [str(Path(i).relative_to(folder)) for i in items]
    assert sorted(names) == sorted(EXPECTED_STATUS)
    assert names == [str(Path(i).relative_to(folder)) for i in expand_inputs([str(folder)])[0]]
    assert not any(".hidden" in i or i.endswith(".txt") for i in items)
    listing = tmp_path / "list.txt"
    listing.write_text(f"# sessions\n{folder}/clean/ecephys.nwb\n\n{folder}/clean/ophys.nwb\n")
    items, problems = expand_inputs(
        [f"@{listing}", f"{folder}/clean/*.nwb", f"{folder}/nowhere/*.nwb", "DANDI:000123"]
    )
    names = [Path(i).name for i in items]
    assert names == ["ecephys.nwb", "ophys.nwb", "behavior.nwb"]  # ordered, no repeats
    assert any("Nothing matches" in p for p in problems)
    assert any("DANDI:000123" in p for p in problems)


def test_info_rows_say_what_info_says_of_each_file(folder) -> None:
    items, _ = expand_inputs([str(folder)])
    outcome = run_batch(items, info_task, jobs=1)
    assert not outcome.interrupted
    by_name = {str(Path(r["file"]).relative_to(folder)): r for r in outcome.rows}
    assert {name: row["status"] for name, row in by_name.items()} == EXPECTED_STATUS
    ecephys = by_name["clean/ecephys.nwb"]
    assert ecephys["series"] >= 1 and ecephys["nwb_version"].startswith("2.")
    assert ecephys["size"] == (folder / "clean/ecephys.nwb").stat().st_size
    assert ecephys["bytes_read"] > 0 and ecephys["problems"] == []
    assert "ISO 8601" in " ".join(by_name["defective/garbage_start_time.nwb"]["problems"])
    truncated = by_name["unreadable/truncated.nwb"]
    assert "truncated" in truncated["error"] and str(folder) in truncated["error"]
    assert summarize(outcome.rows)["error"] == 3


def test_process_pool_gives_the_single_process_rows(folder) -> None:
    items, _ = expand_inputs([str(folder)])
    single = run_batch(items, info_task, jobs=1).rows
    pooled = run_batch(items, info_task, jobs=2).rows
    assert comparable(pooled) == comparable(single)


def dies_on_truncated(item: str) -> dict:
    """A task whose worker process dies on one file (as a segfaulting filter would)."""
    if item.endswith("truncated.nwb"):
        os._exit(3)
    return info_task(item)


def test_a_dying_worker_costs_one_row_not_the_run(folder) -> None:
    items, _ = expand_inputs([str(folder)])
    outcome = run_batch(items, dies_on_truncated, jobs=2)
    assert [r["file"] for r in outcome.rows] == items  # every file has its row
    by_name = {Path(r["file"]).name: r for r in outcome.rows}
    assert "died" in by_name["truncated.nwb"]["error"]
    assert by_name["ecephys.nwb"]["status"] == "ok"
    assert sum(r["status"] == "error" for r in outcome.rows) == 3


@pytest.mark.parametrize("suffix", [".csv", ".json", ".html"])
def test_reports_hold_one_row_per_file(folder, tmp_path, suffix) -> None:
    items, _ = expand_inputs([str(folder)])
    rows = run_batch(items, info_task).rows
    out = write_report(tmp_path / f"report{suffix}", "info", rows, summarize(rows, 1.0))
    text = out.read_text()
    if suffix == ".html":
        assert text.count("<tr class=") == len(rows) and "ok, 2 with problems, 3 unreadable" in text
        return
    back = load_rows(out)
    assert [r["file"] for r in back] == items
    assert [r["status"] for r in back] == [r["status"] for r in rows]
    assert [r["size"] for r in back] == [r["size"] for r in rows]


def test_cli_batch_report_exit_status_and_resume(folder, tmp_path) -> None:
    report = tmp_path / "run.json"
    first = cli("info", str(folder), "--report", str(report), "--jobs", "2", "--json")
    assert first.returncode == 1  # done, and some files could not be read
    printed = [json.loads(line) for line in first.stdout.splitlines()]
    assert sorted(r["file"] for r in printed) == sorted(
        str(folder / name) for name in EXPECTED_STATUS
    )
    assert "9 files: 4 ok, 2 with problems, 3 unreadable" in first.stderr
    # resume: nothing changed, nothing read again; a touched file is read again
    touched = folder / "clean" / "ophys.nwb"
    os.utime(touched, ns=(time.time_ns(), time.time_ns()))
    second = cli("info", str(folder), "--report", str(report), "--resume", "--json")
    again = [json.loads(line)["file"] for line in second.stdout.splitlines()]
    assert again == [str(touched)]
    assert "8 kept from" in second.stderr
    assert len(json.loads(report.read_text())["rows"]) == len(EXPECTED_STATUS)


def test_cli_batch_refusals_exit_2_with_one_line(tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (
        ("info", str(empty)),
        ("info", str(empty), "x.nwb", "--report", str(tmp_path / "out.xlsx")),
        ("info", str(empty), "--resume"),
    ):
        result = cli(*args)
        assert result.returncode == 2, args
        assert result.stdout == ""
        assert result.stderr.strip().splitlines()[-1].startswith("ndviewer: ")


def test_ctrl_c_keeps_the_rows_done_and_resume_finishes(tmp_path) -> None:
    folder = write_batch_folder(tmp_path / "many", copies=12)
    report = tmp_path / "partial.csv"
    env = {"NDVIEWER_BATCH_TASK_DELAY": "0.25", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ndviewer.cli", "info", str(folder), "--jobs", "2"]
        + ["--report", str(report)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    lines = [process.stdout.readline() for _ in range(4)]  # four rows done
    assert all(lines)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "stopped:" in err
    done = load_rows(report)
    total = len(EXPECTED_STATUS) + 12
    assert 4 <= len(done) < total
    resumed = cli("info", str(folder), "--report", str(report), "--resume")
    assert resumed.returncode == 1
    assert len(load_rows(report)) == total
    assert f"{len(done)} kept from" in resumed.stderr


def test_check_rows_hold_what_check_finds_in_each_file(folder) -> None:
    from ndviewer.core.batch.tasks import check_task
    from ndviewer.core.checks.run import check_file

    items, _ = expand_inputs([str(folder)])
    rows = run_batch(items, check_task, jobs=2).rows
    by_name = {str(Path(r["file"]).relative_to(folder)): r for r in rows}
    for name, expected in EXPECTED_STATUS.items():
        row = by_name[name]
        if expected == "error":
            assert row["status"] == "error" and row["error"]
            continue
        report = check_file(folder / name, use_cache=False, parallel=False)
        assert row["findings"] == [f.as_dict() for f in report.sorted()]
        assert row["errors"] == report.counts()["error"]
    garbage = by_name["defective/garbage_start_time.nwb"]["findings"]
    assert any(f["path"] == "/" and f["field"] == "session_start_time" for f in garbage)
    result = cli("check", str(folder), "--jobs", "2")
    assert result.returncode == 1  # errors found, as the single-file check says


def test_qc_rows_flag_the_demo_channels(demo_file, tmp_path) -> None:
    from tests.core import foundation_fixtures as ff

    make_demo = ff.load_make_demo()
    report = tmp_path / "qc.json"
    result = cli(
        "qc", str(demo_file), str(demo_file.parent / "missing.nwb"), "--report", str(report)
    )
    assert result.returncode == 1  # channels flagged, and one file missing
    rows = {Path(r["file"]).name: r for r in json.loads(report.read_text())["rows"]}
    assert rows["missing.nwb"]["status"] == "error"
    demo = rows[demo_file.name]
    raw = next(s for s in demo["qc"] if s["object"] == "/acquisition/ElectricalSeries")
    flags = {c["index"]: c["flags"] for c in raw["flagged_channels"]}
    assert "dead" in flags[make_demo.DEAD_CHANNEL]
    assert "saturated" in flags[make_demo.SATURATED_CHANNEL]
    only = cli(
        "qc", str(demo_file), str(demo_file), "--object", "/processing/ecephys/LFP/LFP", "--json"
    )
    assert [s["object"] for s in json.loads(only.stdout.splitlines()[0])["qc"]] == [
        "/processing/ecephys/LFP/LFP"
    ]
