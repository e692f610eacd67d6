"""A cold check of a large file: each worker process walks its subtrees *and* checks them.

``check_file`` on a file without a persisted index used to walk it (``build_index_parallel``:
subtrees walked by worker processes, the result gathered here) and then check it (a worker
checks part of it again, after the whole index is pickled over). Here each worker checks the
objects it has just walked while they are still open in its HDF5 cache, and only findings
come back with the entries; this process records the top levels, gathers, and checks the few
objects the workers did not see (the top levels, external links) with the whole index.

This follows ``build_index_parallel`` step by step (same plan, batches, external links and
ordering, so the index it persists is the same); it uses that module's private helpers on
purpose, from this one place.
"""

from __future__ import annotations

import h5py

from ndviewer.core.checks.best_practice import RuleRunner
from ndviewer.core.checks.findings import Finding
from ndviewer.core.checks.passes import check_index
from ndviewer.core.model import index as index_module
from ndviewer.core.model.index import FileIndex, SeriesFacts


def _incomplete(facts: SeriesFacts) -> bool:
    """Series whose data or time axis is a link the subtree walk did not see (completed by
    ``_complete_linked_series`` afterwards): their rules run again here, on full facts."""
    return facts.data_shape is None or (
        facts.starting_time is None and facts.timestamps_count is None
    )


def _walk_and_check(path: str, units: list[str], series_types: frozenset[str]):
    """Worker process: walk ``units`` (as ``build_index_parallel``'s workers do), then check
    every object walked. Returns (entries, series, problems, external links, findings,
    deferred series)."""
    entries, series, problems, links = index_module._walk_units(path, units, series_types)
    deferred = sorted(p for p, facts in series.items() if _incomplete(facts))
    file = _worker_nwb(path)
    part = FileIndex(None, list(entries), dict(series))
    findings = check_index(file.h5, file.catalog, part)
    rules = set(_rule_checks())
    skip = set(deferred)
    findings = [f for f in findings if not (f.path in skip and f.check in rules)]
    return entries, series, problems, links, findings, deferred


_worker_file = None


def _worker_nwb(path: str):
    """The file (and its catalogue) this worker process checks, opened once for all the
    batches it is given (loading the catalogue again per batch cost ~50 ms each)."""
    global _worker_file
    from ndviewer.core.model.files import open_nwb

    if _worker_file is None or _worker_file.h5.filename != path or not _worker_file.is_open:
        _worker_file = open_nwb(path)
    return _worker_file


def _rule_checks() -> list[str]:
    from ndviewer.core.checks.rules import rules

    return list(rules())


def walk_and_check(
    h5: h5py.File, catalog, series_types: frozenset[str], executor, min_objects: int
) -> tuple[FileIndex, list[Finding]] | None:
    """(index, findings) of a large file walked and checked by ``executor``'s workers; None
    when the file is small (or damaged near the top) and the ordinary road is better."""

    try:
        shallow, units, estimate = index_module._plan_units(h5, want=16)
        sizes = [
            (h5py.h5g.open(h5.id, unit.lstrip("/").encode()).get_num_objs(), unit) for unit in units
        ]
    except index_module._DAMAGE:
        return None
    if estimate < min_objects or not units:
        return None
    sizes.sort(reverse=True)
    batches: list[list[str]] = [[] for _ in range(4)]
    for number, (_, unit) in enumerate(sizes):
        batches[number % len(batches)].append(unit)
    futures = [
        executor.submit(_walk_and_check, h5.filename, batch, frozenset(series_types))
        for batch in batches
        if batch
    ]
    walker = index_module._Walker(h5, frozenset(series_types))
    for path in shallow:
        walker.record_one(path)
    links = index_module._own_external_links(h5, shallow)
    checked: set[str] = set()
    deferred: list[str] = []
    findings: list[Finding] = []
    for future in futures:
        entries, series, problems, part_links, part_findings, part_deferred = future.result()
        walker.entries.extend(entries)
        walker.series.update(series)
        walker.problems.extend(problems)
        links.extend(part_links)
        checked.update(entry.path for entry in entries)
        findings.extend(part_findings)
        deferred.extend(part_deferred)
    links.sort(key=index_module._link_order)
    index_module._follow_external_links(h5, walker, links)
    entries = sorted(walker.entries, key=index_module._walk_order)
    index = FileIndex(None, entries, walker.series, problems=walker.problems)
    index_module._complete_linked_series(h5, index)
    rest = [entry for entry in index.entries if entry.path not in checked]
    findings.extend(check_index(h5, catalog, index, entries=rest))
    if deferred:
        runner = RuleRunner(h5, catalog, index)
        for path in deferred:
            entry = index.by_path.get(path)
            if entry is not None:
                runner.check_entry(entry)
        findings.extend(runner.findings)
    return index, findings
