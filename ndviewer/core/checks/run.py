"""``check_file``: open, index, validate against the schema, apply the rules, close.

A pure function of the path returning a picklable ``Report``, so a batch run can map it over
files in worker processes; a file that cannot be read gives a report with ``error`` set.

h5py serialises every HDF5 call behind one lock, so threads cannot share the checking of a
large file: from ``PARALLEL_THRESHOLD`` typed objects on, a worker process checks the second
part of the objects while this process checks the first (the same workers also walk the index
when it is not cached; they are forked before the file is opened when that is safe, see
``walk_executor``).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ndviewer.core.checks.findings import Finding, Report
from ndviewer.core.checks.passes import check_index
from ndviewer.core.errors import NdviewerError
from ndviewer.core.model.index import SERIES_FIELDS, FileIndex, IndexEntry, SeriesFacts

_DAMAGE = (RuntimeError, OSError, KeyError, ValueError, TypeError, RecursionError)
Progress = Callable[[str, float], None]
#: Typed objects from which a worker process takes half of the checking (below it, starting
#: the worker costs more than it saves).
PARALLEL_THRESHOLD = 3000
#: The share of the objects this process keeps: the worker starts ~0.5 s late (interpreter,
#: imports, catalogue).
OWN_SHARE = 0.55
#: Objects (estimated below the top levels) from which a cold check walks and checks the
#: file in worker processes together (``fused``), as ``build_index_parallel`` decides.
FUSED_THRESHOLD = 4000


def _check_part(
    path: str, entries: list[tuple], series: dict[str, tuple], start: int
) -> list[Finding]:
    """Worker process: check ``entries[start:]`` of the file at ``path``."""
    from ndviewer.core.model.files import open_nwb

    with open_nwb(path) as file:
        index = FileIndex(
            None,
            [IndexEntry._make(row) for row in entries],
            {key: SeriesFacts(*row) for key, row in series.items()},
        )
        return check_index(file.h5, file.catalog, index, entries=index.entries[start:])


def _series_rows(index: FileIndex) -> dict[str, tuple]:
    return {
        path: tuple(getattr(facts, name) for name in SERIES_FIELDS)
        for path, facts in index.series.items()
    }


def _executor():
    """Two worker processes, started before the file is opened (forked when safe: see
    ``walk_executor``)."""
    from ndviewer.core.model.index import walk_executor

    return walk_executor(2)


def check_file(
    path: str | os.PathLike,
    use_cache: bool = True,
    inspector: bool = False,
    progress: Progress | None = None,
    parallel: bool = True,
) -> Report:
    """Every finding for one file: schema violations and best-practice findings, then (with
    ``inspector``) nwbinspector's, run in a subprocess. ``progress(stage, fraction)`` is told
    where the run is."""
    from ndviewer.core.model.files import open_nwb
    from ndviewer.core.model.index import (
        build_index,
        build_index_parallel,
        load_cached_index,
        save_index,
    )
    from ndviewer.core.nwb.summary import series_types

    report = Report(str(path))

    def tell(stage: str, fraction: float) -> None:
        if progress is not None:
            progress(stage, fraction)

    executor = _executor() if parallel else None
    try:
        tell("indexing", 0.0)
        with open_nwb(path, use_cache) as file:
            if not file.is_nwb:
                report.findings.append(
                    Finding(
                        "error",
                        "/",
                        "nwb_version",
                        "not_nwb",
                        "This is an HDF5 file but not an NWB file (its root has no nwb_version "
                        "attribute and is not an NWBFile), so there is no NWB schema to check.",
                    )
                )
                return report
            catalog = file.catalog
            index = load_cached_index(file.identity) if use_cache else None
            fused = None
            if index is None and executor is not None:
                from ndviewer.core.checks.fused import walk_and_check

                fused = walk_and_check(
                    file.h5, catalog, series_types(file), executor, FUSED_THRESHOLD
                )
            if fused is not None:
                index, findings = fused
                index.identity = file.identity
                if use_cache:
                    save_index(index)
                report.findings.extend(findings)
            elif index is None:
                types = series_types(file)
                index = (
                    build_index_parallel(file.h5, types, executor=executor)
                    if executor is not None
                    else build_index(file.h5, types)
                )
                index.identity = file.identity
                if use_cache:
                    save_index(index)
            tell("checking", 0.3)
            if fused is not None:
                pass  # walked and checked together
            elif executor is not None and len(index.typed) >= PARALLEL_THRESHOLD:
                split = int(len(index.entries) * OWN_SHARE)
                future = executor.submit(
                    _check_part,
                    str(path),
                    [tuple(e) for e in index.entries],
                    _series_rows(index),
                    split,
                )
                report.findings.extend(
                    check_index(file.h5, catalog, index, progress, entries=index.entries[:split])
                )
                report.findings.extend(future.result())
            else:
                report.findings.extend(check_index(file.h5, catalog, index, progress))
    except NdviewerError as exc:
        report.error = exc.message
        return report
    except _DAMAGE as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        report.error = f"Cannot check {path}: the file is damaged ({reason})."
        return report
    finally:
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
    if inspector:
        from ndviewer.core.checks.inspector import run_inspector

        tell("nwbinspector", 0.8)
        report.findings.extend(run_inspector(str(path), index=index))
    tell("done", 1.0)
    return report
