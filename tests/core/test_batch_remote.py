"""Batch runs over a dandiset through the (fake, local) DANDI API, and --resume by ETag
(issue #20 with #19's remote files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.core.test_dandi import DANDISET, archive  # noqa: F401  (the fixture)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ndviewer.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )


def test_a_whole_dandiset_is_one_row_per_nwb_asset_and_resume_uses_etags(
    archive,  # noqa: F811
    tmp_path,
    ecephys_file,
    demo_file,
) -> None:
    report = tmp_path / "dandiset.json"
    result = _cli("info", f"DANDI:{DANDISET}", "--report", str(report), "--jobs", "1", "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2 and all(r["status"] == "ok" for r in rows)  # the .json asset skipped
    assert all(r["file"].startswith(archive.base) and r["etag"] for r in rows)
    local = {
        str(path): json.loads(_cli("info", str(path), "--json").stdout)
        for path in (ecephys_file, demo_file)
    }
    assert sorted(r["series"] for r in rows) == sorted(len(s["series"]) for s in local.values())
    archive.counters.reset()
    again = _cli("info", f"DANDI:{DANDISET}", "--report", str(report), "--resume", "--json")
    assert again.returncode == 0, again.stderr
    assert again.stdout == ""  # nothing read again: same size and ETag
    assert "2 kept from" in again.stderr
    assert archive.counters.range_requests == 0
