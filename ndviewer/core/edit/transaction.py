"""The only door through which ndviewer writes files: transactions and the edit session.

``EditSession`` keeps the edits made to one file with undo/redo and reduces them to the net
pending changes (old on disk → new, see ``states``); ``Transaction.commit(path)`` writes them
as one unit:

1. check the file can be saved (permissions, folder, no HDF5 lock held by another program,
   no journal of an older version's interrupted save) and that nothing changed on disk since
   the values were read;
2. validate every new value against its spec (dtype, shape, best-practice validators) and the
   storage it will land in (an ASCII string cannot hold "é");
3. write the changes into a copy of the file, keeping each field's on-disk form, read every
   location of the copy back, and rename the copy over the file (``atomic_save``): a crash at
   any moment leaves the old file or the new one, never a mixture and never a broken file.

The GUI save, ``ndviewer edit``, templates and QC write-back all come through here.

The viewer's own read handle must be closed before ``commit`` (Windows cannot rename over an
open file, and HDF5 must not cache a replaced file's metadata): the caller closes, commits on
the *path*, and reopens. ``EditSession`` reads old values through an optional open handle for
that reason.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py

from ndviewer.core.edit.atomic_save import (
    Progress,
    SaveReport,
    fault,
    lock_original,
    lock_reason,
    read_only_reason,
    save_as_copy,
)
from ndviewer.core.edit.journal import journal_path
from ndviewer.core.edit.states import (
    ABSENT,
    Change,
    GroupValue,
    Location,
    ValueSpec,
    check_value,
    coerce,
    format_value,
    read_state,
    read_value,
    target_state,
    values_equal,
    verify_states,
    write_state,
)
from ndviewer.core.errors import EditError
from ndviewer.core.model.storage import is_remote
from ndviewer.core.model.storage.zarr_store import is_zarr
from ndviewer.core.model.values import decode_value

__all__ = [
    "Edit",
    "EditSession",
    "SaveReport",
    "Transaction",
    "check_writable",
]


def _refuse_pending_journal(path: Path) -> None:
    if journal_path(path).exists():
        raise EditError(
            f"Cannot save {path}: an earlier save was interrupted (by an older ndviewer); roll "
            "it back or keep it before saving again."
        )


def refuse_remote(path: str | os.PathLike) -> None:
    """URLs are read through range requests into a cache, Zarr stores through an HDF5 mirror:
    there is nothing the transaction could write back to."""
    if is_remote(str(path)):
        raise EditError(
            f"Cannot edit {path}: it is read over the network, and editing is disabled for "
            "remote files (download it to edit a local copy)."
        )
    if is_zarr(path):
        raise EditError(
            f"Cannot edit {path}: it is a Zarr store, and ndviewer saves edits to HDF5 NWB "
            "files only."
        )


def check_writable(path: str | os.PathLike) -> None:
    """Raise ``EditError`` with the reason unless ``path`` can be saved safely right now."""
    refuse_remote(path)
    file_path = Path(path)
    if not file_path.is_file():
        raise EditError(f"Cannot save {file_path}: the file does not exist.")
    reason = read_only_reason(Path(os.path.realpath(file_path)))
    if reason:
        raise EditError(f"Cannot save {file_path}: {reason}.")
    _refuse_pending_journal(file_path)
    lock = lock_original(file_path)
    if lock is not None:
        os.close(lock)


# -- the transaction -------------------------------------------------------------------------------
@dataclass
class _Step:
    location: Location
    prior: dict
    target: dict


class Transaction:
    """A set of changes to one file, validated and written as one unit (see module doc)."""

    def __init__(self, changes: Sequence[Change]) -> None:
        seen: set[Location] = set()
        for change in changes:
            if change.location in seen:
                raise EditError(f"{change.location} is changed twice in one save.")
            seen.add(change.location)
        self.changes = list(changes)

    def problems(self) -> list[str]:
        """Problems with the new values themselves (spec dtype/shape, validators)."""
        problems = []
        for change in self.changes:
            problems.extend(check_value(change.spec, change.new))
        return problems

    def check(self, path: str | os.PathLike) -> list[str]:
        """Everything that would stop ``commit``, found without writing (for ``--dry-run``)."""
        problems = self.problems()
        file_path = Path(path)
        try:
            h5 = h5py.File(file_path, "r", locking=False)
        except OSError as exc:
            return [*problems, f"Cannot read {file_path}: {exc}."]
        try:
            self._plan(h5, file_path)
        except EditError as exc:
            problems.append(exc.message)
        finally:
            h5.close()
        return problems

    def _plan(self, h5: h5py.File, path: Path) -> list[_Step]:
        steps: list[_Step] = []
        planned: dict[Location, dict] = {}
        for change in self.changes:
            current = read_value(h5, change.location)
            if not values_equal(current, change.old):
                raise EditError(
                    f"{change.location} in {path} changed since it was edited (it is now "
                    f"{format_value(current)}, not {format_value(change.old)}); reload the file "
                    "and edit again."
                )
            if change.new is not ABSENT:
                for parent in _missing_parents(h5, change.location, planned):
                    parent_location = Location(parent)
                    parent_step = _Step(
                        parent_location, {"kind": "absent"}, {"kind": "group", "attrs": {}}
                    )
                    steps.append(parent_step)
                    planned[parent_location] = parent_step.target
            prior = read_state(h5, change.location)
            step = _Step(change.location, prior, target_state(prior, change))
            steps.append(step)
            planned[change.location] = step.target
        for change in self.changes:
            if isinstance(change.new, GroupValue):
                for member, label in change.spec.required:
                    state = planned.get(member)
                    exists = (
                        state["kind"] != "absent"
                        if state is not None
                        else read_value(h5, member) is not ABSENT
                    )
                    if not exists:
                        raise EditError(
                            f"The new {change.new.neurodata_type} {change.location.path} needs "
                            f"{label or member}; fill it in before saving."
                        )
            if change.new is ABSENT and change.location.attribute is None:
                obj = h5.get(change.location.path)
                if isinstance(obj, h5py.Group):
                    leftover = [
                        name
                        for name in obj
                        if planned.get(Location(f"{obj.name}/{name}"), {}).get("kind") != "absent"
                    ]
                    if leftover:
                        raise EditError(
                            f"Cannot remove {change.location.path}: it still "
                            f"contains {', '.join(leftover[:5])}."
                        )
        return steps

    def commit(
        self,
        path: str | os.PathLike,
        *,
        progress: Progress | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> SaveReport | None:
        """Write every change to the file at ``path``, or nothing (see the module doc).

        The caller must have closed its own handles on the file. Raises ``EditError`` with a
        readable message if the values are invalid, the file cannot be written (read-only,
        locked by another program, an interrupted in-place save pending), the user cancels
        the copy (``SaveCancelled``) or the written copy does not read back right; in every
        such case the file is exactly as it was.
        """
        file_path = Path(path)
        problems = self.problems()
        if problems:
            raise EditError(f"Nothing was saved to {file_path}: " + " ".join(problems))
        if not self.changes:
            return None
        _refuse_pending_journal(file_path)
        reason = read_only_reason(Path(os.path.realpath(file_path)))
        if reason:
            raise EditError(f"Cannot save {file_path}: {reason}. Nothing was changed.")
        fault("before-open")
        lock = lock_original(file_path)  # fails at once if another program has it open
        try:
            try:
                h5 = h5py.File(file_path, "r", locking=False)
            except OSError as exc:
                raise EditError(
                    f"Cannot save {file_path}: {lock_reason(str(exc))}. Nothing was changed."
                ) from None
            with h5:
                steps = self._plan(h5, file_path)
        except BaseException:
            if lock is not None:
                os.close(lock)
            raise
        fault("planned")

        def write(copy: Path) -> None:
            with h5py.File(copy, "r+", locking=False) as h5:
                for index, step in enumerate(steps):
                    write_state(h5, step.location, step.target)
                    fault(f"step-{index}-written")
                    h5.flush()
                    fault(f"step-{index}-flushed")
            fault("copy-closed")
            verify_states(copy, [(s.location, s.target) for s in steps], file_path)
            fault("verified")

        try:
            return save_as_copy(
                file_path, write, progress=progress, cancelled=cancelled, original_lock=lock
            )
        except (EditError, KeyboardInterrupt):
            raise
        except (OSError, RuntimeError, ValueError, TypeError, KeyError) as exc:
            raise EditError(f"Saving {file_path} failed ({exc}); nothing was changed.") from exc


def _missing_parents(h5: h5py.File, location: Location, planned: dict[Location, dict]) -> list[str]:
    """Untyped groups that must be created for ``location`` to be written (outermost first)."""
    path = location.path if location.attribute is not None else location.parent
    missing = []
    while path not in ("/", ""):
        state = planned.get(Location(path))
        if state is not None and state["kind"] != "absent":
            break
        if state is None and h5.get(path, getlink=True) is not None:
            break
        missing.append(path)
        path = posixpath.dirname(path)
    return list(reversed(missing))


# -- the session: edits with undo/redo -------------------------------------------------------------
@dataclass(frozen=True)
class Edit:
    """One user action (possibly several locations, e.g. create Subject + set species)."""

    label: str
    changes: tuple[Change, ...]


def _order_key(change: Change) -> tuple:
    location = change.location
    if isinstance(change.new, GroupValue) and change.old is ABSENT:
        return (0, location.depth, str(location))
    if change.new is not ABSENT:
        return (1, location.depth, str(location))
    if location.attribute is not None or not isinstance(change.old, GroupValue):
        return (2, -location.depth, str(location))
    return (3, -location.depth, str(location))


class EditSession:
    """The edits made to one file: current values, undo/redo, and the net pending changes.

    Undo and redo move the session's *current* values; ``pending`` is the difference between
    the current values and those last saved. Saving does not clear the history, so undoing an
    edit that has already been saved yields a new pending change back to the old value.

    Parameters
    ----------
    path
        The file being edited.
    h5
        An open read handle to read old values through (the viewer's own); without one the
        file is opened briefly whenever a value not yet seen is needed.
    """

    def __init__(self, path: str | os.PathLike, h5: h5py.File | None = None) -> None:
        self.path = Path(path)
        self._h5 = h5
        self._saved: dict[Location, Any] = {}
        self._current: dict[Location, Any] = {}
        self._specs: dict[Location, ValueSpec] = {}
        self._undo: list[Edit] = []
        self._redo: list[Edit] = []
        self._listeners: list[Callable[[EditSession], None]] = []

    # -- observing
    def subscribe(self, callback: Callable[[EditSession], None]) -> Callable[[], None]:
        """Call ``callback(session)`` after every change of state; returns an unsubscriber."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def _notify(self) -> None:
        for callback in list(self._listeners):
            callback(self)

    def attach(self, h5: h5py.File | None) -> None:
        """Use a (re)opened read handle for reading old values (None: open on demand)."""
        self._h5 = h5

    # -- values
    def _read_saved(self, locations: Iterable[Location]) -> None:
        wanted = [loc for loc in locations if loc not in self._saved]
        if not wanted:
            return

        def read(h5: h5py.File) -> None:
            for location in wanted:
                self._saved[location] = read_value(h5, location)

        self._with_h5(read)

    def value(self, location: Location) -> Any:
        """The current value of ``location``: the pending one if edited, else the file's."""
        if location in self._current:
            return self._current[location]
        self._read_saved([location])
        return self._saved[location]

    def _with_h5(self, read: Callable[[h5py.File], Any]) -> Any:
        if self._h5 is not None and self._h5.id.valid:
            return read(self._h5)
        with h5py.File(self.path, "r", locking=False) as h5:
            return read(h5)

    def object_type(self, path: str) -> str | None:
        """The neurodata type of the object at ``path``, pending creations and removals
        included; None if it is absent or untyped. Never reads a dataset's data."""
        location = Location(path)
        if location in self._current:
            value = self._current[location]
            if isinstance(value, GroupValue) or value is ABSENT:
                return value.neurodata_type if value is not ABSENT else None

        def read(h5: h5py.File) -> str | None:
            obj = h5.get(location.path)
            if obj is None:
                return None
            raw = obj.attrs.get("neurodata_type", obj.attrs.get("data_type"))
            return None if raw is None else str(decode_value(raw))

        return self._with_h5(read)

    def child_names(self, path: str) -> list[str]:
        """Names of the members of the group at ``path``, pending creations and removals
        included (so a Device added but not saved is listed)."""
        location = Location(path)

        def read(h5: h5py.File) -> list[str]:
            obj = h5.get(location.path)
            return list(obj.keys()) if isinstance(obj, h5py.Group) else []

        names = self._with_h5(read)
        for changed, value in self._current.items():
            if (
                changed.attribute is not None
                or changed.parent != location.path
                or changed.path == location.path
            ):
                continue
            if value is ABSENT and changed.name in names:
                names.remove(changed.name)
            elif value is not ABSENT and changed.name not in names:
                names.append(changed.name)
        return names

    def saved_value(self, location: Location) -> Any:
        self._read_saved([location])
        return self._saved[location]

    # -- editing
    def apply(
        self, assignments: Sequence[tuple[Location, Any, ValueSpec]], label: str = ""
    ) -> Edit | None:
        """Set several locations as one undoable step; raises ``EditError`` if any is invalid.

        Assignments that do not change anything are dropped; None is returned if nothing
        changed.
        """
        problems = [p for _, value, spec in assignments for p in check_value(spec, value)]
        if problems:
            raise EditError(" ".join(problems))
        self._read_saved(location for location, _, _ in assignments)
        changes = []
        for location, value, spec in assignments:
            old = self.value(location)
            new = coerce(spec, value)
            if values_equal(old, new) and type(old) is type(new):
                continue
            changes.append(Change(location, old, new, spec))
        if not changes:
            return None
        edit = Edit(label or changes[0].describe(), tuple(changes))
        self._do(edit, forward=True)
        self._undo.append(edit)
        self._redo.clear()
        self._notify()
        return edit

    def set(self, location: Location, value: Any, spec: ValueSpec | None = None) -> Edit | None:
        """Set one location (see ``apply``)."""
        return self.apply([(location, value, spec or ValueSpec(dtype=None))])

    def _do(self, edit: Edit, forward: bool) -> None:
        for change in edit.changes if forward else reversed(edit.changes):
            self._current[change.location] = change.new if forward else change.old
            self._specs[change.location] = change.spec

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_label(self) -> str | None:
        return self._undo[-1].label if self._undo else None

    @property
    def redo_label(self) -> str | None:
        return self._redo[-1].label if self._redo else None

    def undo(self) -> Edit | None:
        if not self._undo:
            return None
        edit = self._undo.pop()
        self._do(edit, forward=False)
        self._redo.append(edit)
        self._notify()
        return edit

    def redo(self) -> Edit | None:
        if not self._redo:
            return None
        edit = self._redo.pop()
        self._do(edit, forward=True)
        self._undo.append(edit)
        self._notify()
        return edit

    # -- pending and saving
    def pending(self) -> list[Change]:
        """The net changes from the saved file to the current values, in writing order."""
        changes = []
        for location, value in self._current.items():
            saved = self._saved[location]
            if values_equal(saved, value) and type(saved) is type(value):
                continue
            changes.append(Change(location, saved, value, self._specs[location]))
        return sorted(changes, key=_order_key)

    @property
    def is_dirty(self) -> bool:
        return bool(self.pending())

    def diff(self) -> list[str]:
        """The pending changes as ``location: old → new`` lines."""
        return [change.describe() for change in self.pending()]

    def transaction(self) -> Transaction:
        return Transaction(self.pending())

    def save(
        self,
        progress: Progress | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> list[Change]:
        """Commit the pending changes to ``path`` (the caller's handles must be closed).

        Returns the changes written. After a successful save they are the new saved values.
        ``progress``/``cancelled`` follow the copy of a large file (see ``atomic_save``).
        """
        changes = self.pending()
        if not changes:
            return []
        Transaction(changes).commit(self.path, progress=progress, cancelled=cancelled)
        self.mark_saved(changes)
        return changes

    def mark_saved(self, changes: Sequence[Change]) -> None:
        """Record ``changes`` as written (for a caller that committed them in another thread;
        listeners are notified here, on the caller's thread)."""
        for change in changes:
            self._saved[change.location] = change.new
        self._notify()

    def discard(self) -> None:
        """Forget all pending changes and the history (e.g. after reloading the file)."""
        self._current.clear()
        self._saved.clear()
        self._undo.clear()
        self._redo.clear()
        self._notify()
