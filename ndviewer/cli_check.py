"""``ndviewer check``: schema validation and best practices of NWB files, headless.

    ndviewer check FILE... [--json] [--inspector]

Text by default: per file a count line, then one line per finding (errors first). With
``--json`` one JSON object per file per line: ``{"file", "findings": [{"severity", "path",
"field", "check", "message"}]}``. ``--inspector`` adds nwbinspector's findings (checks named
``nwbinspector:<its check>``), run in a subprocess when this interpreter can import it.

Exit status: 0 no error found; 1 at least one finding of severity error; 2 a file could not
be read (one line on stderr naming it; the other files are still checked and printed).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ndviewer.core.checks.findings import SEVERITIES, Report

EXIT_OK, EXIT_PROBLEMS, EXIT_REFUSED = 0, 1, 2


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ndviewer check",
        description=(
            "Validate NWB files against their own cached schema and best practices "
            "(exit 0: no error, 1: errors found, 2: a file could not be read)."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--json", action="store_true", help="one JSON object per file per line")
    parser.add_argument(
        "--inspector",
        action="store_true",
        help="also run nwbinspector (in a subprocess) and list its findings",
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="rebuild the index instead of using the saved one"
    )
    return parser


def format_report(report: Report) -> str:
    counts = report.counts()
    plural = {"error": "errors", "warning": "warnings", "info": "info"}
    summary = ", ".join(f"{counts[s]} {s if counts[s] == 1 else plural[s]}" for s in SEVERITIES)
    lines = [f"{report.file}: {summary}"]
    for finding in report.sorted():
        where = finding.path + (f" [{finding.field}]" if finding.field else "")
        lines.append(f"  {finding.severity:<8}{where}  {finding.check}: {finding.message}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    from ndviewer.core.checks.run import check_file

    status = EXIT_OK
    run_inspector = False
    if args.inspector:
        from ndviewer.core.checks.inspector import inspector_available

        run_inspector = inspector_available()
        if not run_inspector:
            print(
                f"ndviewer: warning: nwbinspector is not installed for {sys.executable}; "
                "only ndviewer's own checks were run.",
                file=sys.stderr,
            )
    for path in args.files:
        from ndviewer.core.checks.inspector import InspectorUnavailable

        try:
            report = check_file(path, use_cache=not args.no_cache, inspector=run_inspector)
        except InspectorUnavailable as exc:
            print(f"ndviewer: warning: {_one_line(str(exc))}", file=sys.stderr)
            report = check_file(path, use_cache=not args.no_cache)
        if report.error is not None:
            print(f"ndviewer: {_one_line(report.error)}", file=sys.stderr)
            status = EXIT_REFUSED
            continue
        try:
            if args.json:
                print(json.dumps(report.as_json()))
            else:
                print(format_report(report))
            sys.stdout.flush()
        except BrokenPipeError:
            sys.stderr.close()
            return status
        if report.has_errors and status == EXIT_OK:
            status = EXIT_PROBLEMS
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
