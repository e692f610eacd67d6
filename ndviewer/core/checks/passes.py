"""Both passes over the objects of an indexed file: schema validation and best-practice rules.

Each object is visited once by both, so they share the opened HDF5 handles (``Meta``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import h5py

from ndviewer.core.checks.best_practice import RuleRunner
from ndviewer.core.checks.findings import Finding
from ndviewer.core.checks.h5meta import Meta
from ndviewer.core.checks.schema import SchemaValidator
from ndviewer.core.model.catalog import Catalog
from ndviewer.core.model.index import FileIndex, IndexEntry

Progress = Callable[[str, float], None]


def check_index(
    h5: h5py.File,
    catalog: Catalog,
    index: FileIndex,
    progress: Progress | None = None,
    entries: Sequence[IndexEntry] | None = None,
) -> list[Finding]:
    """Schema and best-practice findings of ``entries`` (default: all) of an indexed file.

    Both passes visit each object in turn, sharing the opened HDF5 handles (``Meta``): run
    one after the other, each opened every object again, and opening is what costs.
    """
    meta = Meta(h5)
    schema = SchemaValidator(h5, catalog, index, meta)
    rules = RuleRunner(h5, catalog, index, meta)
    todo = index.entries if entries is None else entries
    total = max(1, len(todo))
    for number, entry in enumerate(todo):
        schema.check_entry(entry)
        rules.check_entry(entry)
        if progress is not None and number % 500 == 0:
            progress("checking", 0.3 + 0.6 * number / total)
    return schema.findings + rules.findings
