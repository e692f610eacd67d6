"""A table's rows as CSV, in the order and with the columns the table view shows.

The table view filters and sorts by row index without copying the table; exporting takes
that index array and the shown column names, so the file holds exactly what was on screen
(whole ragged cells, references by their row text), readable by any spreadsheet.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ndviewer.core.nwb.table_view import table_tsv
from ndviewer.core.nwb.tables import Table

__all__ = ["write_table_csv"]


def write_table_csv(
    table: Table,
    rows: Sequence[int] | np.ndarray,
    columns: Sequence[str],
    out: str | os.PathLike,
) -> Path:
    """Write ``rows`` (table row indices, in this order) of ``columns`` (``"id"`` allowed)
    with a header line. Cells are the copy-to-clipboard text of the table view."""
    out = Path(out)
    text = table_tsv(table, rows, list(columns))
    with open(out, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        for line in text.splitlines():
            writer.writerow(line.split("\t"))
    return out
