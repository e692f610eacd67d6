"""DANDI references resolved through a fake DANDI REST API on 127.0.0.1.

The fake answers with the JSON shapes of api.dandiarchive.org (``/dandisets/{id}/``,
paginated ``/dandisets/{id}/versions/{v}/assets/?path=`` with ``count``/``next``/``results``,
and ``/assets/{id}/download/`` redirecting to the bytes, as the real one redirects to S3), so
``info`` on a DANDI reference reads the very fixture file served beside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from ndviewer.core.errors import FileOpenError
from ndviewer.core.model.files import open_nwb
from ndviewer.core.model.storage import dandi, is_remote
from tests.core.http_fixtures import FileServer

REPO = Path(__file__).resolve().parents[2]
DANDISET = "000123"
VERSION = "0.230101.1234"
ASSET = "5f8a0c3e-1b2c-4d5e-8f90-0123456789ab"
OTHER = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
PATH = "sub-x/sub-x_ses-y.nwb"
ASSETS = [
    {"asset_id": OTHER, "blob": "b1", "zarr": None, "path": "sub-w/sub-w_ses-1.nwb", "size": 10},
    {"asset_id": ASSET, "blob": "b2", "zarr": None, "path": PATH, "size": 20},
    {
        "asset_id": "c" * 8 + "-0000-4000-8000-" + "0" * 12,
        "blob": "b3",
        "zarr": None,
        "path": "dataset_description.json",
        "size": 1,
    },
]


def _fake_api(base: str):
    """Route handlers answering like the DANDI API (two pages of one asset each)."""
    prefix = f"/api/dandisets/{DANDISET}/versions/{VERSION}/assets/"

    def assets(path: str):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        wanted = query.get("path", [""])[0]
        found = [a for a in ASSETS if a["path"].startswith(wanted)]
        page = int(query.get("page", ["1"])[0])
        results = found[page - 1 : page]
        more = page < len(found)
        query["page"] = [str(page + 1)]
        next_url = f"{base}{prefix}?{urllib.parse.urlencode(query, doseq=True)}" if more else None
        return 200, {"count": len(found), "next": next_url, "previous": None, "results": results}

    def dandiset(path: str):
        if not path.startswith(f"/api/dandisets/{DANDISET}/"):
            return 404, {"detail": "Not found."}
        version = {"version": VERSION, "name": "test", "asset_count": 3, "status": "Valid"}
        draft = {**version, "version": "draft"}
        return 200, {
            "identifier": DANDISET,
            "most_recent_published_version": version,
            "draft_version": draft,
            "contact_person": "Doe, Jane",
        }

    def download(path: str):
        asset_id = path.split("/")[3]
        name = {ASSET: "x.nwb", OTHER: "w.nwb"}.get(asset_id)
        return (302, f"{base}/{name}") if name else (404, {"detail": "Not found."})

    return {prefix: assets, "/api/dandisets/": dandiset, "/api/assets/": download}


@pytest.fixture
def archive(ecephys_file: Path, demo_file: Path, monkeypatch: pytest.MonkeyPatch):
    server = FileServer({"x.nwb": ecephys_file, "w.nwb": demo_file})
    server.routes.update(_fake_api(server.base))
    with server:
        monkeypatch.setenv("NDVIEWER_DANDI_API", f"{server.base}/api")
        yield server


@pytest.mark.parametrize(
    "reference",
    [
        f"DANDI:{DANDISET}/{VERSION}/{PATH}",
        f"DANDI:{DANDISET}/{PATH}",  # latest published version
        ASSET,
        f"DANDI:{ASSET}",
        f"https://dandiarchive.org/dandiset/{DANDISET}/{VERSION}/files?location=sub-x%2F",
        f"https://dandiarchive.org/dandiset/{DANDISET}/{VERSION}/files?location={PATH}",
    ],
)
def test_references_resolve_to_the_asset_download(archive: FileServer, reference: str) -> None:
    assert is_remote(reference)
    assert dandi.resolve(reference) == f"{archive.base}/api/assets/{ASSET}/download/"


def test_info_on_a_dandi_reference_equals_the_local_file(
    archive: FileServer, ecephys_file: Path
) -> None:
    def info(target: str) -> dict:
        result = subprocess.run(
            [sys.executable, "-m", "ndviewer", "info", target, "--json", "--no-cache"],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=dict(os.environ),
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        summary.pop("file")
        summary["problems"] = [p.split(": ", 1)[-1] for p in summary["problems"]]
        return summary

    assert info(f"DANDI:{DANDISET}/{VERSION}/{PATH}") == info(str(ecephys_file))
    assert archive.counters.range_requests > 0


def test_opened_reference_reads_the_redirected_bytes(archive: FileServer) -> None:
    with open_nwb(f"DANDI:{DANDISET}/{VERSION}/{PATH}") as file:
        assert file.is_remote and file.is_nwb
        assert "electrodes" in file.h5["general/extracellular_ephys"]


def test_a_dandiset_with_several_files_asks_to_name_one(archive: FileServer) -> None:
    with pytest.raises(FileOpenError) as caught:
        open_nwb(f"DANDI:{DANDISET}")
    message = caught.value.message
    assert "holds 2 NWB files; name one" in message
    assert PATH in message and "sub-w/sub-w_ses-1.nwb" in message
    assert [a.path for a in dandi.list_assets(DANDISET, VERSION)] == [a["path"] for a in ASSETS]


def test_unknown_dandiset_and_asset_are_refused(archive: FileServer) -> None:
    with pytest.raises(FileOpenError, match="no such dandiset"):
        open_nwb("DANDI:999999/sub-x/a.nwb")
    with pytest.raises(FileOpenError, match="404"):
        open_nwb("DANDI:" + "d" * 8 + "-0000-4000-8000-" + "1" * 12)
    with pytest.raises(FileOpenError, match="six digits"):
        open_nwb("DANDI:12/x.nwb")


def test_an_opened_reference_is_named_as_given(archive: FileServer) -> None:
    reference = f"DANDI:{DANDISET}/{VERSION}/{PATH}"
    with open_nwb(reference) as file:
        assert str(file.path) == reference
        assert file.path.name == "sub-x_ses-y.nwb"
        file.reopen()
        assert file.is_open and file.is_nwb
