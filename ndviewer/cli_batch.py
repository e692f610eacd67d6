"""``ndviewer info|check|qc`` over many files: folders, globs, ``@lists``, dandisets.

The same command line as for one file, plus ``--report OUT.{csv,json,html}``, ``--jobs N``
(local processes; the default uses every core), ``--scheduler ADDRESS`` (a running
``dask.distributed`` scheduler, e.g. one started by dask-jobqueue on SLURM) and ``--resume``.
Rows are printed as they finish (``--json``: one JSON object per line); the summary line and
the progress go to stderr. Exit status: 0 when every file was read (and, for ``check`` and
``qc``, nothing was found), 1 when some file could not be read or a check found problems, 2
when the run is refused (nothing to run over, a bad option), 130 when stopped by Ctrl+C (the
report then holds the rows done so far, and ``--resume`` continues).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence

from ndviewer.core.batch.inputs import is_dandiset, is_pattern, is_url

BATCH_OPTIONS = ("--report", "--jobs", "--scheduler", "--resume")
EXIT_INTERRUPTED = 130


#: Options of the single-file commands that take a value (not a file name).
VALUE_OPTIONS = ("--object", "--report", "--jobs", "--scheduler")


def _positionals(argv: Sequence[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            out.append(arg)
    return out


def is_batch(argv: Sequence[str], command: str = "info") -> bool:
    """Whether a command line asks for more than one file (or for a batch option).
    ``check FILE FILE…`` stays with ``check``, which takes several files itself."""
    positional = _positionals(argv)
    if any(a.split("=")[0] in BATCH_OPTIONS for a in argv):
        return True
    if len(positional) > 1 and command != "check":
        return True
    return any(
        a.startswith("@")
        or is_dandiset(a)
        or (os.path.isdir(a) and not a.rstrip("/").endswith(".nwb.zarr"))
        or (is_pattern(a) and not os.path.exists(a) and not is_url(a))
        for a in positional
    )


def _fail(message: str) -> int:
    print(f"ndviewer: {' '.join(message.split())}", file=sys.stderr)
    return 2


def _text_row(row: dict) -> str:
    if row["status"] == "error":
        return f"unreadable  {row['file']}  {row['error']}"
    parts = []
    if row.get("nwb_version"):
        parts.append(f"NWB {row['nwb_version']}")
    if row.get("series") is not None:
        parts.append(f"{row['series']} series")
    if row.get("duration_s"):
        parts.append(f"{row['duration_s']:g} s")
    if row.get("problems"):
        parts.append(f"{len(row['problems'])} problem{'s' if len(row['problems']) != 1 else ''}")
    if row.get("flagged_channels") is not None:
        parts.append(
            f"{row['flagged_channels']} flagged channel{'s' if row['flagged_channels'] != 1 else ''}"
            f", {row['bad_times']} bad time range{'s' if row['bad_times'] != 1 else ''}"
        )
    if row.get("findings") is not None:
        parts.append(
            f"{row['errors']} error{'s' if row['errors'] != 1 else ''}, "
            f"{row['warnings']} warning{'s' if row['warnings'] != 1 else ''}, "
            f"{row['infos']} info"
        )
    label = "ok" if row["status"] == "ok" else row["status"]
    return f"{label:<11} {row['file']}  ({', '.join(parts)})"


def _dandiset_resolver():
    """Lists the NWB assets of a dandiset through the DANDI API (core/model/storage)."""
    from ndviewer.core.model.storage.dandi import dandiset_assets

    return dandiset_assets


def main(command: str, argv: Sequence[str]) -> int:
    from ndviewer.core.batch.inputs import expand_inputs
    from ndviewer.core.batch.progress import TerminalProgress
    from ndviewer.core.batch.report import (
        FORMATS,
        load_rows,
        same_identity,
        summarize,
        summary_line,
        write_report,
    )
    from ndviewer.core.batch.runner import run_batch
    from ndviewer.core.batch.tasks import TASKS, identity

    parser = argparse.ArgumentParser(
        prog=f"ndviewer {command}",
        description=f"Run '{command}' over files, folders (recursively), globs, @LIST files "
        "(one path or URL per line) or dandisets.",
    )
    parser.add_argument("inputs", nargs="+", metavar="FILE|FOLDER|GLOB|@LIST|DANDI:ID")
    parser.add_argument("--json", action="store_true", help="one JSON row per file on stdout")
    parser.add_argument("--report", metavar="OUT", help="write OUT.csv, OUT.json or OUT.html")
    parser.add_argument(
        "--jobs", type=int, default=0, metavar="N", help="local processes (default: every core)"
    )
    parser.add_argument(
        "--scheduler", metavar="ADDRESS", help="run on this dask.distributed scheduler"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="skip files whose row in --report is for the file as it is now",
    )
    parser.add_argument("--no-cache", action="store_true", help=argparse.SUPPRESS)
    if command == "qc":
        parser.add_argument(
            "--object", metavar="PATH", help="the series to check (default: every ElectricalSeries)"
        )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 2 if exc.code else 0
    task = TASKS.get(command)
    if task is None:
        return _fail(f"'{command}' cannot run over many files yet.")
    if getattr(args, "object", None):
        import functools

        task = functools.partial(task, object_path=args.object)
    if args.report and os.path.splitext(args.report)[1].lower() not in FORMATS:
        return _fail(f"Cannot write {args.report}: the report must end in {', '.join(FORMATS)}.")
    if args.resume and not args.report:
        return _fail("--resume needs the --report of the run to continue.")
    if args.jobs < 0:
        return _fail("--jobs must be 1 or more.")

    items, problems = expand_inputs(args.inputs, resolve_dandiset=_dandiset_resolver())
    for problem in problems:
        print(f"ndviewer: warning: {problem}", file=sys.stderr)
    if not items:
        return _fail("Nothing to run over: " + (problems[0] if problems else "no files given."))

    kept: dict[str, dict] = {}
    if args.resume:
        previous = {row["file"]: row for row in load_rows(args.report)}
        for item in items:
            row = previous.get(item)
            if row is not None and same_identity(row, identity(item)):
                kept[item] = row
    todo = [item for item in items if item not in kept]
    jobs = args.jobs or min(os.cpu_count() or 1, max(len(todo), 1))

    progress = TerminalProgress(len(todo), sys.stderr)

    def on_row(row: dict) -> None:
        progress.update(row)
        try:
            print(json.dumps(row, default=str) if args.json else _text_row(row), flush=True)
        except BrokenPipeError:
            pass

    start = time.perf_counter()
    try:
        outcome = run_batch(todo, task, jobs=jobs, scheduler=args.scheduler, on_row=on_row)
    except Exception as exc:  # the scheduler unreachable, …: refused in one line
        progress.close()
        return _fail(getattr(exc, "message", None) or f"The run could not start: {exc}.")
    progress.close()
    seconds = time.perf_counter() - start
    fresh = {row["file"]: row for row in outcome.rows}
    rows = [kept.get(item) or fresh[item] for item in items if item in kept or item in fresh]
    summary = summarize(rows, seconds, ran=len(outcome.rows))
    if kept:
        summary["resumed"] = len(kept)
    if args.report:
        write_report(args.report, command, rows, summary)
    line = summary_line(summary)
    if kept:
        line += f"; {len(kept)} kept from {args.report}"
    print(f"ndviewer: {line}", file=sys.stderr)
    if outcome.interrupted:
        print(
            f"ndviewer: stopped: {len(outcome.rows)} of {len(todo)} files done"
            + (
                f"; 'ndviewer {command} … --report {args.report} --resume' continues"
                if args.report
                else ""
            ),
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    # exit 1 as the single-file command would: an unreadable file, (check) an error finding,
    # (qc) a flagged channel or time range
    failed = (
        summary["error"]
        or any(row.get("errors") for row in rows)
        or (command == "qc" and summary["problems"])
    )
    return 1 if failed else 0
