"""``ndviewer check`` against nwbinspector and pynwb's validator on the 10^4-object file.

Usage: ``python tests/benchmarks/bench_checks.py [--quick] [--strict]``

Reuses bench_open's many-object file (10 modules x 10 BehavioralTimeSeries x 100
TimeSeries, 11 111 typed objects, built once under ``/tmp/ndviewer-bench/``). Each
measurement is a fresh child process with imports done before the clock starts:

- ``check_file`` with an empty index cache (the whole walk, schema validation and rules);
  its index walk and the second part of its checks run in spawned worker processes;
- ``check_file`` again with the persisted index (re-checking an unchanged file);
- nwbinspector's ``inspect_nwbfile`` (``skip_validate=True``: its best-practice checks only);
- pynwb's ``validate`` (schema validation only).

Target: ``check`` (cold) >= 10x faster than nwbinspector, measured in the same run, the
measurements interleaved round by round so that both sides see the same machine load.
``--quick`` uses bench_open's small file (~1 000 typed objects) and fewer repetitions.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_open import (  # noqa: E402
    BENCH_DIR,
    FULL_FILES,
    PEAK_RSS,
    QUICK_FILES,
    Measure,
    _env,
    _fmt_seconds,
    ensure_file,
    measure,
    run_child,
)

CHILD_CHECK = (
    PEAK_RSS
    + r"""
import json, sys, time
from ndviewer.core.checks.run import check_file
import ndviewer.core.nwb.summary, ndviewer.core.checks.best_practice, ndviewer.core.checks.schema
started = time.perf_counter()
report = check_file(sys.argv[1], use_cache=sys.argv[2] == "cache")
op = time.perf_counter() - started
assert report.error is None, report.error
print(json.dumps({"op": op, "findings": len(report.findings), "peak_kb": peak_rss_kb()}))
"""
)

CHILD_INDEX = (
    PEAK_RSS
    + r"""
import json, sys, time
from ndviewer.core.model.files import open_nwb
from ndviewer.core.nwb.summary import typed_index
started = time.perf_counter()
with open_nwb(sys.argv[1]) as file:
    index = typed_index(file, use_cache=False)
op = time.perf_counter() - started
print(json.dumps({"op": op, "findings": len(index.entries), "peak_kb": peak_rss_kb()}))
"""
)

CHILD_INSPECTOR = (
    PEAK_RSS
    + r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
from nwbinspector import inspect_nwbfile
started = time.perf_counter()
messages = list(inspect_nwbfile(nwbfile_path=sys.argv[1], skip_validate=True))
op = time.perf_counter() - started
print(json.dumps({"op": op, "findings": len(messages), "peak_kb": peak_rss_kb()}))
"""
)

CHILD_VALIDATE = (
    PEAK_RSS
    + r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
from pynwb import validate
started = time.perf_counter()
result = validate(path=sys.argv[1])
errors = result[0] if isinstance(result, tuple) else result
op = time.perf_counter() - started
print(json.dumps({"op": op, "findings": len(list(errors)), "peak_kb": peak_rss_kb()}))
"""
)


def markdown_table(title: str, measures: list[Measure]) -> str:
    lines = [
        f"### {title}",
        "",
        "| measure | median | p95 | median (process) | peak RSS | findings | target "
        "| vs nwbinspector | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for item in measures:
        ratio = ""
        if item.reference is not None and item.values():
            ratio = f"{item.reference.median() / item.median():.1f}x faster"
        verdict = {True: "met", False: "MISSED", None: ""}[item.target_ok]
        findings = item.runs[0].extra.get("findings", "") if item.runs else ""
        lines.append(
            f"| {item.label} | {_fmt_seconds(item.median())} | {_fmt_seconds(item.p95())} | "
            f"{_fmt_seconds(item.median('process'))} | {item.peak('rss_mb'):.0f} MB | "
            f"{findings} | {item.target} | {ratio} | {verdict} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small file, fewer repetitions")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    spec = (QUICK_FILES if args.quick else FULL_FILES)[0]
    path = ensure_file(spec)
    reps = 2 if args.quick else 5
    reps_oracle = 1 if args.quick else 3
    timeout = 1800.0
    workdir = Path(tempfile.mkdtemp(prefix="check-caches-", dir=BENCH_DIR))
    cold_caches = itertools.count()
    load_before = os.getloadavg()

    def cold_env(_i: int) -> dict[str, str]:
        return _env(workdir / f"cold-{next(cold_caches)}")

    def warm_env(_i: int) -> dict[str, str]:
        return _env(workdir / "warm")

    inspector = Measure("nwbinspector inspect_nwbfile", [])
    validator = Measure("pynwb validate", [])
    cold = Measure("check (cold index)", [])
    walk = Measure("of which: the index walk alone", [])
    warm = Measure("check (index reused)", [])
    try:
        run_child(CHILD_CHECK, [str(path), "cache"], warm_env(0), timeout)  # persist the index
        # interleaved, so that every side sees the same load from other work on the machine
        for round_number in range(reps):
            if round_number < reps_oracle:
                for item, code in ((inspector, CHILD_INSPECTOR), (validator, CHILD_VALIDATE)):
                    item.runs += measure(item.label, code, [str(path)], 1, warm_env, timeout).runs
            cold.runs += measure(
                cold.label, CHILD_CHECK, [str(path), "none"], 1, cold_env, timeout
            ).runs
            warm.runs += measure(
                warm.label, CHILD_CHECK, [str(path), "cache"], 1, warm_env, timeout
            ).runs
            walk.runs += measure(walk.label, CHILD_INDEX, [str(path)], 1, cold_env, timeout).runs
    except RuntimeError as exc:
        print(f"bench_checks: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for item in (validator, cold, warm, walk):
        item.reference = inspector
    cold.target = ">= 10x faster than nwbinspector"
    cold.target_ok = inspector.median() / cold.median() >= 10
    title = f"{path.name}: {spec.typed_objects:,} typed objects, {path.stat().st_size / 1e6:.0f} MB"
    print("\n## File checks (bench_checks" + (", --quick" if args.quick else "") + ")\n")
    print(markdown_table(title, [inspector, validator, cold, warm, walk]))
    load_after = os.getloadavg()
    print(
        "\nEvery run is a fresh process, imports done before the clock starts. nwbinspector runs "
        "with skip_validate=True (its best-practice checks only); pynwb validate is schema "
        "validation only; check does both. The index walk alone (core/model, what 'ndviewer info "
        "--no-cache' does) is part of the cold check; its findings column counts objects. "
        f"Machine: {os.cpu_count()} cores; 1-minute load average {load_before[0]:.1f} at the "
        f"start, {load_after[0]:.1f} at the end (other work on the machine slows both sides)."
    )
    return 1 if (args.strict and cold.target_ok is False) else 0


if __name__ == "__main__":
    sys.exit(main())
