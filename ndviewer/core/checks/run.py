"""``check_file``: open, index, validate against the schema, apply the rules, close.

A pure function of the path returning a picklable ``Report``, so a batch run can map it over
files in worker processes; a file that cannot be read gives a report with ``error`` set.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ndviewer.core.checks.best_practice import run_rules
from ndviewer.core.checks.findings import Report
from ndviewer.core.checks.schema import validate_schema
from ndviewer.core.errors import NdviewerError

_DAMAGE = (RuntimeError, OSError, KeyError, ValueError, TypeError, RecursionError)
Progress = Callable[[str, float], None]


def check_file(
    path: str | os.PathLike,
    use_cache: bool = True,
    inspector: bool = False,
    progress: Progress | None = None,
) -> Report:
    """Every finding for one file: schema violations, then best-practice findings, then (with
    ``inspector``) nwbinspector's, run in a subprocess. ``progress(stage, fraction)`` is told
    where the run is."""
    from ndviewer.core.model.files import open_nwb
    from ndviewer.core.nwb.summary import typed_index

    report = Report(str(path))

    def tell(stage: str, fraction: float) -> None:
        if progress is not None:
            progress(stage, fraction)

    try:
        tell("indexing", 0.0)
        with open_nwb(path) as file:
            catalog = file.catalog
            index = typed_index(file, use_cache=use_cache)
            tell("schema", 0.3)
            report.findings.extend(validate_schema(file.h5, catalog, index))
            tell("best practices", 0.6)
            report.findings.extend(run_rules(file.h5, catalog, index))
    except NdviewerError as exc:
        report.error = exc.message
        return report
    except _DAMAGE as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        report.error = f"Cannot check {path}: the file is damaged ({reason})."
        return report
    if inspector:
        from ndviewer.core.checks.inspector import run_inspector

        tell("nwbinspector", 0.8)
        report.findings.extend(run_inspector(str(path)))
    tell("done", 1.0)
    return report
