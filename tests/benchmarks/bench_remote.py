"""Remote reading: what it costs to browse a large NWB file served over HTTP on loopback.

Usage::

    python tests/benchmarks/bench_remote.py [--quick] [--file F.nwb] [--compare]

The ephys file of ``bench_traces`` (384 channels × 30 kHz, gzip, 600 s: 6.8 GB; ``--quick``
uses its 60 s raw twin, 1.4 GB) is served by a local Range-honouring server. Measured, each
from a cold block cache (run ``--repeat`` times for median and p95):

* the typed tree: open + the typed index (what the tree and ``info`` show);
* then the first trace window (what the trace panel reads first: 384 channels × 1 s);
* the same again from the warm persisted block cache (a second session);

as requests, bytes fetched (and their share of the file) and seconds, against downloading the
whole file over the same loopback. Targets: < 2 % of the file and the tree < 1 s.

``--compare`` measures the candidate readers on the small fixture files (fsspec's
HTTPFileSystem, remfile, ours): requests and bytes to open and walk the typed tree.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.core.http_fixtures import FileServer  # noqa: E402


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def _fresh_cache() -> None:
    os.environ["NDVIEWER_CACHE_DIR"] = tempfile.mkdtemp(prefix="ndviewer-bench-remote-")


def _first_series(index) -> str:
    for path, facts in index.series.items():
        if facts.data_shape and len(facts.data_shape) == 2 and facts.data_shape[1] >= 64:
            return path
    return next(iter(index.series))


def browse(url: str) -> dict:
    """Open, index (the tree), then read the first trace window; counters after each step."""
    from ndviewer.core.model.files import open_nwb, remote_of
    from ndviewer.core.nwb.summary import typed_index
    from ndviewer.core.nwb.timeseries import TimeSeriesSource

    started = time.perf_counter()
    with open_nwb(url) as file:
        index = typed_index(file, use_cache=False)
        tree_s = time.perf_counter() - started
        stats = remote_of(file.h5).stats
        tree = (stats.requests, stats.bytes)
        source = TimeSeriesSource.from_path(file, _first_series(index))
        rate = source.time_axis.rate or 30000.0
        n = int(min(max(3000, rate), source.n_samples))  # the panel's first window: >= 1 s
        window = source.read(0, n, None)
        window_s = time.perf_counter() - started
        size = remote_of(file.h5).size
        return {
            "tree_s": tree_s,
            "tree_requests": tree[0] + 1,  # + the HEAD of the probe (not a body read)
            "tree_bytes": tree[1],
            "window_s": window_s,
            "requests": stats.requests + 1,
            "bytes": stats.bytes,
            "size": size,
            "shape": window.shape,
        }


def download_seconds(url: str) -> float:
    import urllib.request

    started = time.perf_counter()
    with urllib.request.urlopen(url) as response:
        while response.read(8 << 20):
            pass
    return time.perf_counter() - started


def measure_large(path: Path, repeat: int) -> None:
    with FileServer({path.name: path}) as server:
        url = server.url(path.name)
        cold, warm = [], []
        for _ in range(repeat):
            _fresh_cache()
            cold.append(browse(url))
            warm.append(browse(url))
        download = download_seconds(url)
    size = cold[0]["size"]
    print(f"\n## Remote browsing of {path.name} ({size / 1e9:.2f} GB) on loopback\n")
    print("| step | requests | MB fetched | % of file | median s | p95 s |")
    print("|---|---|---|---|---|---|")
    for label, runs, key_s, key_r, key_b in (
        ("typed tree (cold cache)", cold, "tree_s", "tree_requests", "tree_bytes"),
        ("+ first trace window (cold)", cold, "window_s", "requests", "bytes"),
        ("tree + window again (warm cache)", warm, "window_s", "requests", "bytes"),
    ):
        seconds = [r[key_s] for r in runs]
        print(
            f"| {label} | {runs[0][key_r]} | {runs[0][key_b] / 1e6:.2f} | "
            f"{100 * runs[0][key_b] / size:.3f} | {statistics.median(seconds):.3f} | "
            f"{_p95(seconds):.3f} |"
        )
    print(f"| download the whole file | 1 | {size / 1e6:.0f} | 100 | {download:.1f} | - |")
    ok = cold[0]["bytes"] < 0.02 * size and statistics.median(r["tree_s"] for r in cold) < 1.0
    print(f"\ntarget (< 2 % of the file, tree < 1 s): {'met' if ok else 'MISSED'}")


def compare_readers(files: list[Path]) -> None:
    """Requests and bytes to open + walk the typed tree with each candidate reader."""
    import h5py

    from ndviewer.core.model.index import build_index

    def with_fsspec(url: str):
        import fsspec

        fs = fsspec.filesystem("http")
        return fs.open(url, "rb")

    def with_remfile(url: str):
        import remfile

        return remfile.File(url)

    def ours(url: str):
        from ndviewer.core.model.storage.remote import RemoteFile

        return RemoteFile(url, use_disk_cache=False)

    print("\n## Readers compared: open + typed walk over loopback\n")
    print("| file | size KB | reader | requests | KB fetched | seconds |")
    print("|---|---|---|---|---|---|")
    for path in files:
        for name, opener in (("fsspec", with_fsspec), ("remfile", with_remfile), ("ours", ours)):
            try:
                opener.__call__  # noqa: B018
                with FileServer({path.name: path}) as server:
                    started = time.perf_counter()
                    handle = opener(server.url(path.name))
                    with h5py.File(handle, "r") as h5:
                        build_index(h5)
                    seconds = time.perf_counter() - started
                    counters = server.counters
                    print(
                        f"| {path.name} | {path.stat().st_size // 1024} | {name} | "
                        f"{counters.requests} | {counters.bytes_sent // 1024} | {seconds:.3f} |"
                    )
            except ImportError:
                print(f"| {path.name} | - | {name} | not installed | - | - |")
    import h5py as _h5py

    ros3 = "ros3" in _h5py.registered_drivers()
    print(f"\nh5py ros3 driver: {'available' if ros3 else 'not built into this h5py wheel'}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--file", type=Path)
    parser.add_argument("--repeat", type=int, default=0)
    parser.add_argument("--compare", nargs="*", type=Path, metavar="FILE")
    args = parser.parse_args()
    if args.compare is not None:
        compare_readers(args.compare)
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_traces import recording  # the same ephys file as the trace benchmark

    folder = Path(os.environ.get("NDVIEWER_BENCH_DIR", "/tmp/ndviewer-bench-traces"))
    folder.mkdir(parents=True, exist_ok=True)
    path = args.file or (
        recording(folder, 60, gzip=False) if args.quick else recording(folder, 600, gzip=True)
    )
    measure_large(path, args.repeat or (2 if args.quick else 5))
    return 0


if __name__ == "__main__":
    sys.exit(main())
