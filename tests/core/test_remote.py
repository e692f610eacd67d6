"""Opening NWB files over HTTP: same answers as the local file, cached, and clear failures.

Every test serves real pynwb-written fixture files from a local Range-honouring server on
127.0.0.1 (``http_fixtures.FileServer``) that counts requests and bytes. Network timeouts are
short here (``NDVIEWER_TEST_NET_TIMEOUT``, default 1 s) so a stalled server costs ~1 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ndviewer.core.errors import EditError, FileOpenError
from ndviewer.core.model.files import open_nwb, remote_of
from ndviewer.core.model.storage import block_cache
from ndviewer.core.model.storage.remote import RemoteFile, RemoteReadError
from ndviewer.core.nwb.summary import file_summary, typed_index
from tests.core.http_fixtures import FileServer, short_timeout

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def net_timeout(monkeypatch: pytest.MonkeyPatch) -> float:
    timeout = short_timeout()
    monkeypatch.setenv("NDVIEWER_NET_TIMEOUT", str(timeout))
    return timeout


@pytest.fixture
def private_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("NDVIEWER_CACHE_DIR", str(tmp_path / "cache"))
    block_cache.BlockCache._total = None
    return tmp_path / "cache"


def _info(target: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ndviewer", "info", target, "--json", "--no-cache"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.mark.parametrize("fixture", ["ecephys_file", "demo_file", "ophys_file"])
def test_info_json_on_url_equals_local(request, fixture: str, net_timeout: float) -> None:
    path: Path = request.getfixturevalue(fixture)
    local = _info(str(path))
    assert local.returncode == 0, local.stderr
    with FileServer({path.name: path}) as server:
        url = server.url(path.name)
        remote = _info(url)
        assert remote.returncode == 0, remote.stderr
        assert server.counters.range_requests > 0
    local_json, remote_json = json.loads(local.stdout), json.loads(remote.stdout)
    assert remote_json["file"] == url
    local_json.pop("file")
    remote_json.pop("file")
    # problems name the file: compare them with the name replaced
    remote_json["problems"] = [p.replace(url, str(path)) for p in remote_json["problems"]]
    assert remote_json == local_json
    assert len(local_json["objects"]) > 10


def test_trace_values_over_http_equal_local(ecephys_file: Path, private_cache: Path) -> None:
    from ndviewer.core.nwb.timeseries import TimeSeriesSource

    with (
        FileServer({"e.nwb": ecephys_file}) as server,
        open_nwb(server.url("e.nwb")) as remote,
        open_nwb(ecephys_file) as local,
    ):
        index = typed_index(local, use_cache=False)
        assert index.series
        for path in index.series:
            a = TimeSeriesSource.from_path(local, path)
            b = TimeSeriesSource.from_path(remote, path)
            np.testing.assert_array_equal(a.read(0, a.n_samples), b.read(0, b.n_samples))


def test_second_open_is_served_from_the_block_cache(
    demo_file: Path, private_cache: Path, net_timeout: float
) -> None:
    with FileServer({demo_file.name: demo_file}) as server:
        url = server.url(demo_file.name)
        with open_nwb(url) as file:
            first = file_summary(file, typed_index(file, use_cache=False))
            first_stats = remote_of(file.h5).stats
        assert server.counters.requests == first_stats.requests >= 2  # HEAD + range reads
        fetched = server.counters.bytes_sent
        assert 0 < fetched <= demo_file.stat().st_size
        server.counters.reset()
        with open_nwb(url) as file:  # a new session: nothing in memory, blocks on disk
            second = file_summary(file, typed_index(file, use_cache=False))
        # one HEAD to check the file is unchanged (size, ETag), no byte read again
        assert (server.counters.requests, server.counters.range_requests) == (1, 0)
        assert server.counters.bytes_sent == 0
    assert second == first
    assert any((private_cache / "remote").rglob("*.blk"))


def test_changed_file_is_not_served_stale_blocks(
    ecephys_file: Path, demo_file: Path, tmp_path: Path, private_cache: Path
) -> None:
    served = tmp_path / "x.nwb"
    served.write_bytes(ecephys_file.read_bytes())
    with FileServer({"x.nwb": served}) as server:
        with open_nwb(server.url("x.nwb")) as file:
            first_count = len(typed_index(file, use_cache=False).entries)
        served.write_bytes(demo_file.read_bytes())  # replaced: new size, new ETag
        server.counters.reset()
        with open_nwb(server.url("x.nwb")) as file:
            second_count = len(typed_index(file, use_cache=False).entries)
        assert server.counters.range_requests > 0
    with open_nwb(demo_file) as local:
        assert second_count == len(typed_index(local, use_cache=False).entries) != first_count


def test_cache_size_limit_evicts_least_recently_used(
    demo_file: Path, private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NDVIEWER_REMOTE_CACHE_MB", "0.5")  # two 256 KiB blocks
    with FileServer({"d.nwb": demo_file}) as server:
        remote = RemoteFile(server.url("d.nwb"))
        remote.prefetch([(0, demo_file.stat().st_size)])
        remote.close()
    blocks = list((private_cache / "remote").rglob("*.blk"))
    assert 0 < sum(b.stat().st_size for b in blocks) <= 0.5 * (1 << 20)
    assert len(blocks) < -(-demo_file.stat().st_size // (256 << 10))


def test_parallel_prefetch_reads_the_same_bytes(demo_file: Path, private_cache: Path) -> None:
    data = demo_file.read_bytes()
    with FileServer({"d.nwb": demo_file}) as server:
        remote = RemoteFile(server.url("d.nwb"), block=16 << 10, use_disk_cache=False)
        ranges = [(0, 1000), (300_000, 70_000), (1_000_000, 5), (len(data) - 10, 10)]
        remote.prefetch(ranges)
        requests = server.counters.range_requests
        # one request per separate run, side by side; the 5-block run (8 blocks missing in
        # all, so at most 4 blocks a request) in two pieces
        assert requests == 5
        for offset, length in ranges:
            remote.seek(offset)
            assert remote.read(length) == data[offset : offset + length]
        assert server.counters.range_requests == requests  # all from memory
        remote.seek(123_456)
        assert remote.read(200_000) == data[123_456:323_456]


@pytest.mark.parametrize(
    ("mode", "words"),
    [("stall", "stopped answering after"), ("drop", "dropped the connection")],
)
def test_failing_server_gives_one_clear_error_without_hanging(
    ecephys_file: Path, private_cache: Path, net_timeout: float, mode: str, words: str
) -> None:
    with FileServer({"e.nwb": ecephys_file}, mode=mode) as server:
        url = server.url("e.nwb")
        started = time.monotonic()
        with pytest.raises(FileOpenError) as caught:
            open_nwb(url)
        elapsed = time.monotonic() - started
    assert words in caught.value.message
    assert caught.value.message.startswith(f"Cannot read {url}:")
    assert "\n" not in caught.value.message
    assert elapsed < net_timeout * 3 + 2


def test_server_stalling_mid_session_raises_within_the_timeout(
    ecephys_file: Path, private_cache: Path, net_timeout: float
) -> None:
    with FileServer({"e.nwb": ecephys_file}) as server:
        remote = RemoteFile(server.url("e.nwb"), block=4 << 10, use_disk_cache=False)
        remote.read(100)
        server.mode = "stall"
        started = time.monotonic()
        remote.seek(100_000)
        with pytest.raises(RemoteReadError, match="stopped answering after"):
            remote.read(100)
        assert time.monotonic() - started < net_timeout * 2 + 1


def test_cli_info_on_a_stalled_server_refuses_in_one_line(ecephys_file: Path) -> None:
    timeout = short_timeout()
    with FileServer({"e.nwb": ecephys_file}, mode="stall") as server:
        started = time.monotonic()
        result = _info(server.url("e.nwb"), {"NDVIEWER_NET_TIMEOUT": str(timeout)})
        elapsed = time.monotonic() - started
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "stopped answering after" in lines[0], result.stderr
    assert elapsed < timeout * 3 + 10  # + interpreter start


def test_missing_url_and_non_hdf5_are_refused(tmp_path: Path, private_cache: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not hdf5 " * 100)
    with FileServer({"notes.txt": text}) as server:
        with pytest.raises(FileOpenError, match="404"):
            open_nwb(server.url("absent.nwb"))
        with pytest.raises(FileOpenError, match="not an HDF5 file"):
            open_nwb(server.url("notes.txt"))


def test_editing_a_url_is_refused(ecephys_file: Path, private_cache: Path) -> None:
    from ndviewer.core.edit.batch_edit import main as edit_main
    from ndviewer.core.edit.transaction import check_writable

    with FileServer({"e.nwb": ecephys_file}) as server:
        url = server.url("e.nwb")
        with open_nwb(url) as file:
            assert file.is_remote
            assert "Editing is disabled" in file.read_only_reason
            assert file.path.name == "e.nwb"
        with pytest.raises(EditError, match="editing is disabled"):
            check_writable(url)
        assert edit_main([url, "--set", "/session_description=x"]) == 2
    with open_nwb(ecephys_file) as local:
        assert not local.is_remote and local.read_only_reason is None


def test_trace_reader_fetches_chunks_directly_and_in_parallel(
    ecephys_file: Path, private_cache: Path
) -> None:
    """Over HTTP the block reader reads chunk bytes at HDF5's offsets (no h5py lock, units
    fetched and inflated side by side), with the same values as the local file."""
    from ndviewer.core.signal.lod.blocks import H5BlockReader

    with (
        FileServer({"e.nwb": ecephys_file}) as server,
        open_nwb(server.url("e.nwb")) as remote,
        open_nwb(ecephys_file) as local,
    ):
        a = H5BlockReader(local.h5["acquisition/raw/data"])
        b = H5BlockReader(remote.h5["acquisition/raw/data"])
        assert a.direct and b.direct and b._remote is remote_of(remote.h5)
        np.testing.assert_array_equal(a.read(0, a.n_samples, 0, 8), b.read(0, b.n_samples, 0, 8))
        np.testing.assert_array_equal(a.read(123, 1456, 2, 7), b.read(123, 1456, 2, 7))
        assert server.counters.range_requests > 0
