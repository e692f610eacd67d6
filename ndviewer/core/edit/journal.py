"""Journals left by the in-place saves of ndviewer before 0.2, and how to recover from them.

Saves no longer write a journal (``atomic_save`` replaces the file in one step, so a crash
leaves the old or the new file and nothing to recover). A file edited by an older version
may still have a ``NAME.ndviewer-journal`` next to it, recording the prior and target state of
every location of a save that was killed. ``rollback_journal`` writes the prior values back —
through the same safe copy-and-rename save, so a crash during recovery cannot make things
worse — and ``discard_journal`` keeps the file as it is. Neither raises anything but
``EditError`` with a sentence a user can act on; neither ever deletes the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import h5py

from ndviewer.core.edit.atomic_save import fsync_path, save_as_copy
from ndviewer.core.edit.journal_files import journal_path
from ndviewer.core.edit.states import Location, describe_state, verify_states, write_state
from ndviewer.core.errors import EditError

JOURNAL_FORMAT = "ndviewer-edit-journal"


@dataclass
class Journal:
    """The record of an interrupted save: prior and target state of every location touched."""

    path: Path
    file: Path
    created: str
    entries: list[dict]

    @classmethod
    def read(cls, journal_file: Path) -> Journal:
        try:
            data = json.loads(journal_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise EditError(f"The save journal {journal_file} cannot be read ({exc}).") from None
        if data.get("format") != JOURNAL_FORMAT:
            raise EditError(f"{journal_file} is not an ndviewer save journal.")
        return cls(
            journal_file, journal_file.with_name(data["file"]), data["created"], data["entries"]
        )

    def locations(self) -> list[Location]:
        return [Location(e["location"]["path"], e["location"]["attribute"]) for e in self.entries]

    def describe(self) -> list[str]:
        """One line per location: what rolling back would restore."""
        lines = []
        for location, entry in zip(self.locations(), self.entries, strict=True):
            lines.append(
                f"{location}: {describe_state(entry['prior'])} (was being set to "
                f"{describe_state(entry['target'])})"
            )
        return lines


def find_journal(path: str | os.PathLike) -> Journal | None:
    """The journal of an interrupted in-place save of ``path``, if there is one.

    A half-written journal (``.tmp``, from a crash before the journal was complete) means the
    file was not touched yet; it is removed.
    """
    journal_file = journal_path(path)
    leftover = journal_file.with_name(journal_file.name + ".tmp")
    if leftover.exists():
        leftover.unlink()
    if not journal_file.exists():
        return None
    return Journal.read(journal_file)


def write_journal(path: Path, entries: list[dict]) -> Path:
    """Write a journal as the in-place saves of older versions did (tests of recovery)."""
    journal_file = journal_path(path)
    payload = {
        "format": JOURNAL_FORMAT,
        "version": 1,
        "file": path.name,
        "created": "2026-01-01T00:00:00+00:00",
        "pid": 0,
        "entries": entries,
    }
    journal_file.write_text(json.dumps(payload), encoding="utf-8")
    return journal_file


def _remove_journal(journal_file: Path) -> None:
    journal_file.unlink(missing_ok=True)
    fsync_path(journal_file.parent)


def rollback_journal(path: str | os.PathLike) -> list[str]:
    """Restore the prior values recorded in ``path``'s journal, then remove the journal.

    Returns the lines of ``Journal.describe`` that were restored. The restore is a safe save
    (a copy, verified, renamed over the file), so it can be interrupted and rerun. A file the
    interrupted in-place save left unreadable cannot be repaired from values: that is said in
    the ``EditError``, and the journal is kept.
    """
    file_path = Path(path)
    try:
        journal = find_journal(file_path)
    except OSError as exc:
        raise EditError(f"Cannot roll back {file_path}: {exc.strerror or exc}.") from None
    if journal is None:
        raise EditError(f"There is no interrupted save to roll back for {file_path}.")
    locations = journal.locations()
    priors = [entry["prior"] for entry in journal.entries]

    def restore(copy: Path) -> None:
        with h5py.File(copy, "r+", locking=False) as h5:
            for location, prior in reversed(list(zip(locations, priors, strict=True))):
                write_state(h5, location, prior)

    def restore_and_verify(copy: Path) -> None:
        restore(copy)
        verify_states(copy, list(zip(locations, priors, strict=True)), file_path)

    try:
        save_as_copy(file_path, restore_and_verify)
    except EditError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise EditError(
            f"Cannot roll back {file_path}: HDF5 cannot write it ({exc}). The interrupted "
            "in-place save of an older ndviewer may have damaged its HDF5 metadata; restore "
            "the file from a backup. The file and its journal were left as they are."
        ) from None
    lines = journal.describe()
    _remove_journal(journal.path)
    return lines


def discard_journal(path: str | os.PathLike) -> None:
    """Keep the file as it is and forget the interrupted save (the file is not touched)."""
    journal_file = journal_path(path)
    journal_file.with_name(journal_file.name + ".tmp").unlink(missing_ok=True)
    _remove_journal(journal_file)
