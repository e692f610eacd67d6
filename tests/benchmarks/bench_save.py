"""Benchmark of the safe save: one metadata field written into a ~10 GB NWB file.

Usage: ``python tests/benchmarks/bench_save.py [--quick] [--folder /tmp/ndviewer-bench-save]``

The file (384 ch × 30 kHz int16 in NWB layout, written once by ``bench_traces``' writer and
reused while present; ``--quick``: 1 GB) gets ``/general/lab`` changed, five times per path:

* **clone**: ``Transaction.commit`` on an XFS filesystem with reflinks (a loop-mounted image
  under ``/tmp``, made when run as root with ``mkfs.xfs`` present): the copy is a
  copy-on-write clone;
* **full copy**: ``Transaction.commit`` on the machine's own filesystem (ext4 here, no
  clones): ``copy_file_range`` copies every byte, then the copy is renamed over the file;
  measured with the file in the page cache (warm) and, when run as root, after dropping the
  page cache before each save (cold: what a file larger than the memory always costs);
* **in place (reference)**: what saves did before the atomic save, minus the journal: h5py
  ``r+`` open, write, flush, close, fsync. Not crash-safe; the floor of any save's cost.

For each: median and p95 seconds, throughput of the copy, and the extra disk the save holds
while it runs (the copy, or for a clone what ``statvfs`` shows it costs) and after it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BENCH_FOLDER = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_FOLDER))

from disk_tools import drop_page_cache  # noqa: E402

REPEATS = 5


def _free(folder: Path) -> int:
    info = os.statvfs(folder)
    return info.f_bavail * info.f_frsize


def _file(folder: Path, seconds: int) -> Path:
    from bench_traces import recording

    return recording(folder, seconds, gzip=False)


def _save_once(path: Path, value: str) -> dict:
    from ndviewer.core.edit.states import Location, ValueSpec
    from ndviewer.core.edit.transaction import EditSession

    session = EditSession(path)
    session.set(Location("/general/lab"), value, ValueSpec(dtype="text"))
    transaction = session.transaction()
    free_before = _free(path.parent)
    peak = {"extra": 0}

    def progress(done: int, total: int) -> None:
        peak["extra"] = max(peak["extra"], free_before - _free(path.parent))

    started = time.perf_counter()
    report = transaction.commit(path, progress=progress)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "method": report.method,
        "bytes_copied": report.bytes_copied,
        "extra_during": peak["extra"],
        "extra_after": free_before - _free(path.parent),
    }


def _in_place_once(path: Path, value: str) -> dict:
    import h5py

    from ndviewer.core.edit.states import (
        Change,
        Location,
        ValueSpec,
        read_state,
        read_value,
        target_state,
        write_state,
    )

    location = Location("/general/lab")
    started = time.perf_counter()
    with h5py.File(path, "r+") as h5:
        prior = read_state(h5, location)
        change = Change(location, read_value(h5, location), value, ValueSpec(dtype="text"))
        write_state(h5, location, target_state(prior, change))
        h5.flush()
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    return {
        "seconds": time.perf_counter() - started,
        "method": "in place",
        "bytes_copied": 0,
        "extra_during": 0,
        "extra_after": 0,
    }


def measure(path: Path, kind: str) -> dict:
    """Run in a subprocess: REPEATS saves of one kind on ``path``."""
    runs = []
    for k in range(3 if kind == "full copy, cold" else REPEATS):
        if kind == "full copy, cold":
            drop_page_cache()
        value = f"Bench lab {kind} {k} {time.time()}"
        runs.append(_in_place_once(path, value) if kind == "in place" else _save_once(path, value))
    seconds = [r["seconds"] for r in runs]
    return {
        "kind": kind,
        "size": path.stat().st_size,
        "method": runs[-1]["method"],
        "median_s": float(np.median(seconds)),
        "p95_s": float(np.percentile(seconds, 95)),
        "bytes_copied": runs[-1]["bytes_copied"],
        "extra_during": max(r["extra_during"] for r in runs),
        "extra_after": max(r["extra_after"] for r in runs),
    }


def _subprocess(path: Path, kind: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", str(path), "--kind", kind],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


@contextlib.contextmanager
def _xfs_mount(folder: Path, size: int):
    """An XFS filesystem with reflinks on a loop device (root + mkfs.xfs), else None."""
    image = folder / "xfs.img"
    mount = folder / "xfs"
    if os.geteuid() != 0 or shutil.which("mkfs.xfs") is None:
        yield None
        return
    try:
        mount.mkdir(exist_ok=True)
        with open(image, "wb") as handle:
            handle.truncate(int(size * 1.3) + (1 << 30))
        subprocess.run(["mkfs.xfs", "-q", "-f", "-m", "reflink=1", str(image)], check=True)
        subprocess.run(["mount", "-o", "loop", str(image), str(mount)], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"no XFS clone filesystem here ({exc}): the clone path is not measured")
        image.unlink(missing_ok=True)
        yield None
        return
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)
        image.unlink(missing_ok=True)


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 1 GB file")
    parser.add_argument("--folder", type=Path, default=Path("/tmp/ndviewer-bench-save"))
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.kind)))
        return 0
    seconds = 44 if args.quick else 434  # 384 ch × 30 kHz × 2 bytes: 1.0 / 10.0 GB
    args.folder.mkdir(parents=True, exist_ok=True)
    path = _file(args.folder, seconds)
    size = path.stat().st_size
    results = [_subprocess(path, "in place"), _subprocess(path, "full copy")]
    if os.geteuid() == 0:
        results.append(_subprocess(path, "full copy, cold"))
    with _xfs_mount(args.folder, size) as mount:
        if mount is not None:
            cloned = mount / path.name
            print(f"copying the file onto XFS ({_gb(size)}) ...", flush=True)
            shutil.copyfile(path, cloned)
            results.append(_subprocess(cloned, "clone"))
    print(f"\n## Safe save of one metadata field into a {_gb(size)} NWB file\n")
    print(
        "| path | method | median | p95 | copy rate | extra disk while saving | extra disk after |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        rate = f"{r['bytes_copied'] / 1e6 / r['median_s']:,.0f} MB/s" if r["bytes_copied"] else "—"
        print(
            f"| {r['kind']} | {r['method']} | {r['median_s']:.3f} s | {r['p95_s']:.3f} s | "
            f"{rate} | {_gb(max(r['extra_during'], 0))} | {_gb(max(r['extra_after'], 0))} |"
        )
    full = next(r for r in results if r["kind"] == "full copy")
    in_place = next(r for r in results if r["kind"] == "in place")
    cold = next((r for r in results if r["kind"] == "full copy, cold"), full)
    rate = cold["bytes_copied"] / cold["median_s"]
    print(
        f"\nFull copy / in place: {full['median_s'] / in_place['median_s']:.0f}× (warm). A "
        f"100 GB file does not fit in the page cache: at the {cold['kind']} rate "
        f"({rate / 1e6:,.0f} MB/s) it takes about {100e9 / rate:.0f} s to save on a "
        "filesystem without clones and needs 100 GB free while it saves."
    )
    clone = next((r for r in results if r["kind"] == "clone"), None)
    if clone:
        print(f"Clone / in place: {clone['median_s'] / in_place['median_s']:.1f}×.")
    print("\nDetails: " + json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
