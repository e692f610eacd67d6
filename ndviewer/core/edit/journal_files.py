"""Where an interrupted in-place save keeps its journal, without importing the writer.

Opening a file (the window) and describing it (``info``) must notice a journal left by an
older version's interrupted save, but importing ``journal`` pulls in h5py and the whole
transaction machinery (~10 ms on a start-up that has 0.3 s in all): these names are stdlib
only.
"""

from __future__ import annotations

import os
from pathlib import Path

JOURNAL_SUFFIX = ".ndviewer-journal"


def journal_path(path: str | os.PathLike) -> Path:
    """Where an older version kept the journal of an in-progress save of ``path``."""
    file_path = Path(path)
    return file_path.with_name(file_path.name + JOURNAL_SUFFIX)


def journal_left(path: str | os.PathLike) -> bool:
    """Whether a journal, complete or half-written (``.tmp``), lies next to ``path``."""
    journal = journal_path(path)
    return journal.exists() or journal.with_name(journal.name + ".tmp").exists()
