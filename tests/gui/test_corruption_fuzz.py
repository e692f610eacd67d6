"""Seeded corruption fuzz (issue 23.9, 23.10): byte flips, truncations, deep spec JSON, link
cycles and enormous declared shapes over pynwb-written files.

For every case: ``info --json`` and ``edit --dry-run`` end with a readable outcome (exit 0
with a JSON object, or exit 2 with one ``ndviewer:`` line and nothing on stdout), never a
traceback; the window opens the file (or says why not) and every row of its first levels can
be selected without an uncaught exception; no step takes more than 10 s; the file is
byte-identical afterwards. ``make test`` runs a few cases (``NDVIEWER_FUZZ_CASES``, default
14: every kind twice); ``make fuzz`` runs a few hundred.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core import corruption_fixtures as cf

REPO_ROOT = Path(__file__).resolve().parents[2]
COUNT = int(os.environ.get("NDVIEWER_FUZZ_CASES", "14"))
SEED = int(os.environ.get("NDVIEWER_FUZZ_SEED", str(cf.DEFAULT_SEED)))
CASE_SECONDS = 10.0


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def cases(tmp_path_factory, ecephys_file, ophys_file) -> list[cf.Case]:
    return cf.make_cases(
        [ecephys_file, ophys_file], tmp_path_factory.mktemp("corrupt"), COUNT, SEED
    )


def _drive(mode: str, cases: list[cf.Case]) -> dict[str, dict]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env["NDVIEWER_FUZZ_CASE_SECONDS"] = str(CASE_SECONDS)
    result = subprocess.run(
        [sys.executable, "-m", "tests.gui.corruption_driver", mode, *(str(c.path) for c in cases)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=60 + CASE_SECONDS * 2 * len(cases),
    )
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    done = {r["path"]: r for r in records if "path" in r}
    started = [r["start"] for r in records if "start" in r]
    if len(done) < len(cases):
        hung = started[-1] if started else "(none)"
        how = next((c.how for c in cases if str(c.path) == hung), "")
        pytest.fail(
            f"{mode} driver stopped at {hung} ({how}): hung over {CASE_SECONDS} s or "
            f"crashed (exit {result.returncode}):\n{result.stderr[-3000:]}"
        )
    return done


def test_corrupted_files_never_crash_hang_or_change(cases):
    before = {c.path: _digest(c.path) for c in cases}
    cli = _drive("cli", cases)
    window = _drive("window", cases)
    failures = []
    outcomes = {"described": 0, "refused": 0, "window shown": 0, "window refused": 0}
    for case in cases:
        where = f"case {case.number} {case.kind} ({case.how})"
        record = cli[str(case.path)]
        for command in ("info", "edit"):
            run = record[command]
            if run["traceback"]:
                failures.append(f"{where}: {command} raised\n{run['traceback']}")
                continue
            if run["seconds"] > CASE_SECONDS:
                failures.append(f"{where}: {command} took {run['seconds']:.1f} s")
            if run["status"] == 2:
                lines = run["stderr"].splitlines()
                if run["stdout"] or len(lines) != 1 or not lines[0].startswith("ndviewer: "):
                    failures.append(f"{where}: {command} refused untidily: {run['stderr']!r}")
                elif command == "info":
                    outcomes["refused"] += 1
            elif run["status"] == 0:
                if command == "info":
                    summary = json.loads(run["stdout"])
                    outcomes["described"] += 1
                    warnings = [
                        line
                        for line in run["stderr"].splitlines()
                        if line.startswith("ndviewer: warning: ")
                    ]
                    if len(warnings) != len(summary["problems"]):
                        failures.append(f"{where}: warnings {warnings} != {summary['problems']}")
            else:
                failures.append(f"{where}: {command} exited {run['status']}: {run['stderr']!r}")
        shown = window[str(case.path)]
        if shown["tracebacks"]:
            failures.append(f"{where}: the window raised\n" + "\n".join(shown["tracebacks"]))
        if shown["seconds"] > CASE_SECONDS:
            failures.append(f"{where}: the window took {shown['seconds']:.1f} s")
        if shown["shown"]:
            outcomes["window shown"] += 1
        elif shown["failed"]:
            outcomes["window refused"] += 1
            if "Traceback" in shown["failed"] or "\n" in shown["failed"].strip():
                failures.append(f"{where}: unreadable refusal {shown['failed']!r}")
        else:
            failures.append(f"{where}: the window neither showed nor refused the file")
        if _digest(case.path) != before[case.path]:
            failures.append(f"{where}: the file changed")
    print(f"{len(cases)} cases: {outcomes}")
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n\n".join(
        failures[:10]
    )
    # the kinds that keep the file readable must be described, not refused
    readable = [c for c in cases if c.kind in ("deep_json", "link_cycle", "huge_shape")]
    for case in readable:
        assert cli[str(case.path)]["info"]["status"] == 0, case.how
        assert window[str(case.path)]["shown"], case.how
