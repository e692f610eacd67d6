"""Benchmark of the built bundle as a user meets it: size, start, hand-over, simultaneous
launches, recovery after a crash (``make bundle-check`` runs it after building).

Usage: ``python tests/benchmarks/bench_bundle.py [--bundle dist/ndviewer/ndviewer] [--quick]``

* size: the one-folder bundle on disk (symlinks once, as ``du``);
* start: launch → the window shown with the demo file's tree (the ``--screenshot`` PNG
  written with no delay; offscreen), median of 5; cold = after dropping the page cache (root);
* hand-over: a second launch while a window runs → that process has exited (its file is a
  tab of the running window), median of 5;
* four simultaneous launches → windows left running and tabs in the one window;
* SIGKILL of the running window, then a launch: does it start normally (becomes the window)?
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from disk_tools import drop_page_cache, folder_mib  # noqa: E402


def _env(folder: Path, instance: str) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", NDVIEWER_INSTANCE=instance)
    env["NDVIEWER_CONFIG_DIR"] = str(folder / "config")
    env["NDVIEWER_LOG_DIR"] = str(folder / "log")
    env["NDVIEWER_SCREENSHOT_DELAY_MS"] = "0"
    return env


def time_to_window(bundle: Path, demo: Path, folder: Path) -> float:
    shot = folder / f"shot-{uuid.uuid4().hex[:6]}.png"
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(bundle), str(demo), "--screenshot", str(shot)],
        env=_env(folder, "bench-start"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not shot.exists() and process.poll() is None:
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    process.wait(timeout=30)
    return elapsed


def _launch(bundle: Path, env: dict, *files: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(bundle), *map(str, files)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _tabs(instance: str, count: int, timeout: float = 30.0) -> list[str] | None:
    from PySide6.QtCore import QCoreApplication

    from ndviewer.gui.single_instance import send_files

    QCoreApplication.instance() or QCoreApplication([])
    os.environ["NDVIEWER_INSTANCE"] = instance
    deadline = time.monotonic() + timeout
    tabs = None
    while time.monotonic() < deadline:
        tabs = send_files([])
        if tabs is not None and len(tabs) >= count:
            break
        time.sleep(0.05)
    return tabs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=REPO / "dist" / "ndviewer" / "ndviewer")
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 5")
    args = parser.parse_args(argv)
    if not args.bundle.is_file():
        # `make bench` runs every benchmark; this one needs `make bundle` first
        print(f"bench_bundle: no bundle at {args.bundle}; `make bundle-check` builds and runs it")
        return 0
    repeats = 3 if args.quick else 5
    folder = Path(tempfile.mkdtemp(prefix="ndviewer-bench-bundle-"))
    demo = REPO / "resources" / "demo" / "demo.nwb"
    if not demo.exists():
        subprocess.run(
            [sys.executable, str(REPO / "resources/demo/make_demo.py"), str(demo)], check=True
        )
    files = []
    for k in range(4):
        files.append(folder / f"session{k}.nwb")
        shutil.copy(demo, files[-1])
    size = folder_mib(args.bundle.parent)
    time_to_window(args.bundle, demo, folder)  # first run: the bundle's own files cached
    warm = [time_to_window(args.bundle, demo, folder) for _ in range(repeats)]
    cold = []
    for _ in range(repeats):
        if not drop_page_cache():
            break
        cold.append(time_to_window(args.bundle, demo, folder))

    instance = f"bench-{uuid.uuid4().hex[:8]}"
    env = _env(folder, instance)
    first = _launch(args.bundle, env, files[0])
    _tabs(instance, 1)
    handovers = []
    for k in range(repeats):
        started = time.perf_counter()
        second = _launch(args.bundle, env, files[1 + k % 3])
        second.wait(timeout=30)
        handovers.append(time.perf_counter() - started)
    first.kill()
    first.wait()

    instance = f"bench-{uuid.uuid4().hex[:8]}"
    env = _env(folder, instance)
    together = [_launch(args.bundle, env, path) for path in files]
    deadline = time.monotonic() + 60
    while sum(p.poll() is not None for p in together) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    tabs = _tabs(instance, 4) or []
    running = sum(p.poll() is None for p in together)
    for p in together:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait()
    after_kill = _launch(args.bundle, env, files[0])
    recovered = _tabs(instance, 1, timeout=20) == [str(files[0].resolve())]
    alive = after_kill.poll() is None
    after_kill.kill()
    after_kill.wait()
    shutil.rmtree(folder, ignore_errors=True)

    def fmt(values: list[float]) -> str:
        if not values:
            return "not measured (needs root to drop the page cache)"
        return f"{statistics.median(values):.2f} s (max {max(values):.2f} s)"

    print("\n## Bundle (bench_bundle)\n")
    print("| measure | result | target |")
    print("|---|---|---|")
    print(f"| bundle size | {size:.0f} MiB | ≤ 250 MiB |")
    print(f"| cold start → window with the demo, median of {len(cold)} | {fmt(cold)} | ≤ 1.0 s |")
    print(f"| warm start → window with the demo, median of {repeats} | {fmt(warm)} | ≤ 0.6 s |")
    print(
        f"| second launch hands its file over and exits, median of {repeats} | "
        f"{fmt(handovers)} | ≤ 0.3 s |"
    )
    print(
        f"| four simultaneous launches | {running} window(s) left, {len(tabs)} tabs | "
        "1 window, 4 tabs |"
    )
    print(
        f"| launch after SIGKILL of the window | "
        f"{'starts normally' if recovered and alive else 'FAILED'} | starts normally |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
