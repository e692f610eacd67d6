"""Run every ``tests/benchmarks/bench_*.py`` in turn (what ``make bench`` does).

Usage: ``python tests/benchmarks/run_all.py [--quick] [--only NAME ...]``

Each benchmark runs in its own process, one after the other (they measure time: running them
side by side would make the figures meaningless), with its output streamed as it comes.
``--quick`` is passed through. At the end the markdown tables they printed are repeated
together, followed by a line per benchmark; the exit status is 1 if any of them failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH_FOLDER = Path(__file__).resolve().parent
REPO_ROOT = BENCH_FOLDER.parents[1]


def discover(only: list[str] | None = None) -> list[Path]:
    """The benchmark scripts, by name; ``only`` keeps those whose name contains one of them."""
    scripts = sorted(BENCH_FOLDER.glob("bench_*.py"))
    if only:
        scripts = [s for s in scripts if any(word in s.stem for word in only)]
    return scripts


def tables_in(output: str) -> str:
    """The markdown part of a benchmark's output: headings and table rows, blocks kept apart."""
    kept: list[str] = []
    previous_kept = False
    for line in output.splitlines():
        is_markdown = line.startswith(("#", "|"))
        if is_markdown and kept and not previous_kept:
            kept.append("")
        if is_markdown:
            kept.append(line)
        previous_kept = is_markdown
    return "\n".join(kept)


def run(script: Path, quick: bool) -> tuple[int, str, float]:
    """Run one benchmark, echoing its output live; (exit status, output, seconds)."""
    command = [sys.executable, str(script), *(["--quick"] if quick else [])]
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    lines = []
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    status = process.wait()
    return status, "".join(lines), time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="passed to every benchmark")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    args = parser.parse_args(argv)
    scripts = discover(args.only)
    if not scripts:
        print("run_all: no benchmark matched", file=sys.stderr)
        return 1
    results = []
    for script in scripts:
        print(f"\n=== {script.name}{' --quick' if args.quick else ''} ===", flush=True)
        results.append((script, *run(script, args.quick)))
    print("\n\n# Benchmark results" + (" (--quick)" if args.quick else "") + "\n")
    for _script, _status, output, _seconds in results:
        tables = tables_in(output)
        if tables:
            print(tables + "\n")
    for script, status, _output, seconds in results:
        verdict = "ok" if status == 0 else f"FAILED (exit {status})"
        print(f"- {script.name}: {verdict} in {seconds:.0f} s")
    return 0 if all(status == 0 for _, status, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
