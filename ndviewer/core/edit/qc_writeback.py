"""QC verdicts as standard NWB: a ``bad_channel`` column and ``/intervals/invalid_times`` rows.

What a lab concludes from signal QC must outlive the session and be readable by any NWB tool,
so it goes where the format puts it (see NWB-NOTES "Where QC and bad data go"):

- a boolean ``bad_channel`` VectorData column on the electrodes table (typed as pynwb writes
  it, with a description saying how it was decided) and its name in the table's ``colnames``;
- bad time ranges as rows of the TimeIntervals table ``/intervals/invalid_times`` (created if
  absent) with a ``reason`` text column, rows sorted by start time.

Re-running updates instead of duplicating: the channels of the checked series get their new
verdict (other rows keep theirs), and the rows of ``invalid_times`` whose reason QC owns
(``replace_reasons``) are replaced; rows others wrote stay, with every column they have.

This module only builds the assignments; they are applied by an ``EditSession`` (GUI: undo,
diff before save) or a ``Transaction`` (CLI), so the atomic save guarantees hold.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import h5py
import numpy as np

from ndviewer.core.edit.states import (
    Change,
    GroupValue,
    Location,
    ValueSpec,
    coerce,
    read_value,
    values_equal,
)
from ndviewer.core.errors import EditError
from ndviewer.core.model.values import decode_value

__all__ = [
    "BAD_CHANNEL",
    "INVALID_TIMES",
    "QC_REASONS",
    "Assignment",
    "qc_assignments",
    "qc_changes",
]

BAD_CHANNEL = "bad_channel"
INVALID_TIMES = "/intervals/invalid_times"
QC_REASONS = ("artefact", "dropout", "manual")
INVALID_TIMES_DESCRIPTION = "Time intervals to be removed from analysis"
_COLUMN_DESCRIPTIONS = {
    "start_time": "Start time of epoch, in seconds",
    "stop_time": "Stop time of epoch, in seconds",
    "reason": "Why the interval is invalid: artefact (most channels far out at once), "
    "dropout (every channel exactly zero) or manual (marked by a person), from ndviewer QC",
}

Assignment = tuple[Location, Any, ValueSpec]


def _typed_attrs(neurodata_type: str, namespace: str, description: str | None) -> tuple:
    attrs: list[tuple[str, Any, Any]] = [
        ("neurodata_type", neurodata_type, "text"),
        ("namespace", namespace, "text"),
        ("object_id", str(uuid.uuid4()), "text"),
    ]
    if description is not None:
        attrs.append(("description", description, "text"))
    return tuple(attrs)


def _text(value: Any) -> str:
    value = decode_value(value)
    return value if isinstance(value, str) else str(value)


def _colnames(group: h5py.Group) -> list[str]:
    raw = group.attrs.get("colnames")
    if raw is None:
        return []
    return [_text(v) for v in np.atleast_1d(raw)]


def bad_channel_assignments(
    h5: h5py.File, table_path: str, bad_rows: dict[int, bool], description: str
) -> list[Assignment]:
    """Set ``bad_channel`` of the electrodes table at ``table_path`` for ``bad_rows``."""
    table = h5.get(table_path)
    if not isinstance(table, h5py.Group) or not isinstance(table.get("id"), h5py.Dataset):
        raise EditError(f"{table_path} is not a table with an id column; no bad_channel column.")
    n_rows = int(table["id"].shape[0])
    column = table.get(BAD_CHANNEL)
    location = Location(f"{table.name}/{BAD_CHANNEL}")
    assignments: list[Assignment] = []
    if column is None:
        values = [False] * n_rows
        spec = ValueSpec(
            label=BAD_CHANNEL,
            dtype="bool",
            shape=[None],
            attrs=_typed_attrs("VectorData", "hdmf-common", description),
        )
    else:
        if (
            not isinstance(column, h5py.Dataset)
            or column.dtype.kind != "b"
            or column.shape != (n_rows,)
        ):
            raise EditError(
                f"{location.path} exists but is not a true/false column of {n_rows} rows; "
                "rename it before writing QC."
            )
        values = [bool(v) for v in column[()]]
        spec = ValueSpec(label=BAD_CHANNEL, dtype="bool", shape=[None])
        assignments.append(
            (Location(location.path, "description"), description, ValueSpec(dtype="text"))
        )
    for row, bad in bad_rows.items():
        if not 0 <= row < n_rows:
            raise EditError(f"Row {row} is outside {table_path} ({n_rows} rows).")
        values[row] = bool(bad)
    assignments.insert(0, (location, values, spec))
    names = _colnames(table)
    if BAD_CHANNEL not in names:
        assignments.append(
            (Location(table.name, "colnames"), [*names, BAD_CHANNEL], ValueSpec(shape=[None]))
        )
    return assignments


def _column_default(dtype: np.dtype) -> Any:
    if h5py.check_string_dtype(dtype) is not None:
        return ""
    if dtype.kind == "f":
        return float("nan")
    if dtype.kind == "b":
        return False
    if dtype.kind in "iu":
        return 0
    raise EditError(f"a column of HDF5 type {dtype}")


def _read_rows(table: h5py.Group, name: str, n_rows: int) -> list[Any]:
    """Per-row values of a plain or ragged (``name_index``) 1-D column."""
    data = table[name]
    if not isinstance(data, h5py.Dataset) or data.ndim != 1:
        raise EditError(f"column {name} (not 1-D)")
    dtype = data.dtype
    if h5py.check_string_dtype(dtype) is None and (dtype.names or dtype.kind not in "iufb"):
        # e.g. pynwb's ``timeseries`` column: (idx_start, count, object reference) records
        raise EditError(f"column {name} (references or records)")
    values = [decode_value(v) if isinstance(v, bytes) else v for v in data[()].tolist()]
    index = table.get(f"{name}_index")
    if index is None:
        if len(values) != n_rows:
            raise EditError(f"column {name} (length {len(values)} for {n_rows} rows)")
        return values
    if f"{name}_index_index" in table:
        raise EditError(f"doubly ragged column {name}")
    ends = [int(e) for e in index[()]]
    starts = [0, *ends[:-1]]
    return [values[a:b] for a, b in zip(starts, ends, strict=True)]


def invalid_times_assignments(
    h5: h5py.File,
    bad_times: Sequence[tuple[float, float, str]],
    replace_reasons: Iterable[str] = ("artefact", "dropout"),
) -> list[Assignment]:
    """Make ``/intervals/invalid_times`` hold ``bad_times`` (start, stop, reason), replacing
    the rows whose reason is one of ``replace_reasons`` and keeping all others."""
    replace = set(replace_reasons)
    group = h5.get(INVALID_TIMES)
    new_rows = [(float(a), float(b), str(r)) for a, b, r in bad_times]
    if group is None:
        if not new_rows:
            return []
        return _new_invalid_times(sorted(new_rows))
    if not isinstance(group, h5py.Group) or "id" not in group:
        raise EditError(f"{INVALID_TIMES} exists but is not a table; QC cannot add rows to it.")
    names = _colnames(group)
    n_rows = int(group["id"].shape[0])
    try:
        columns = {name: _read_rows(group, name, n_rows) for name in names}
        ids = [int(v) for v in group["id"][()]]
    except (KeyError, TypeError) as exc:
        raise EditError(f"{INVALID_TIMES} is damaged ({exc}); QC cannot add rows to it.") from None
    except EditError as exc:
        raise EditError(
            f"{INVALID_TIMES} has {exc.message}, which ndviewer cannot extend; QC times were "
            "not written."
        ) from None
    reasons = columns.get("reason", [""] * n_rows)
    kept = [k for k in range(n_rows) if str(reasons[k]) not in replace]
    rows: list[tuple[float, int, dict[str, Any]]] = []
    for k in kept:
        rows.append((float(columns["start_time"][k]), ids[k], {n: columns[n][k] for n in names}))
    next_id = max((ids[k] for k in kept), default=-1) + 1
    for start, stop, reason in new_rows:
        values: dict[str, Any] = {}
        for name in names:
            if name in ("start_time", "stop_time", "reason"):
                continue
            if f"{name}_index" in group:
                values[name] = []
            else:
                try:
                    values[name] = _column_default(group[name].dtype)
                except EditError as exc:
                    raise EditError(
                        f"{INVALID_TIMES} has {exc.message} in column {name}, which ndviewer "
                        "cannot fill for new rows; QC times were not written."
                    ) from None
        values.update(start_time=start, stop_time=stop, reason=reason)
        rows.append((start, next_id, values))
        next_id += 1
    rows.sort(key=lambda r: r[0])
    base = group.name
    assignments: list[Assignment] = [
        (Location(f"{base}/id"), [r[1] for r in rows], ValueSpec(dtype="int", shape=[None]))
    ]
    all_names = list(names)
    for name in ("start_time", "stop_time", "reason"):
        if name not in all_names:
            all_names.append(name)
    for name in all_names:
        per_row = [r[2].get(name, "") for r in rows]
        if name not in group:
            dtype = "float64" if name != "reason" else "text"
            spec = ValueSpec(
                label=name,
                dtype=dtype,
                shape=[None],
                attrs=_typed_attrs("VectorData", "hdmf-common", _COLUMN_DESCRIPTIONS.get(name)),
            )
            assignments.append((Location(f"{base}/{name}"), per_row, spec))
            continue
        if f"{name}_index" in group:
            flat = [v for row in per_row for v in row]
            ends = list(np.cumsum([len(row) for row in per_row], dtype=np.int64).tolist())
            assignments.append(
                (Location(f"{base}/{name}"), flat, ValueSpec(dtype=None, shape=[None]))
            )
            assignments.append(
                (Location(f"{base}/{name}_index"), ends, ValueSpec(dtype=None, shape=[None]))
            )
        else:
            dtype = "float64" if name in ("start_time", "stop_time") else None
            assignments.append(
                (Location(f"{base}/{name}"), per_row, ValueSpec(dtype=dtype, shape=[None]))
            )
    if all_names != names:
        assignments.append((Location(base, "colnames"), all_names, ValueSpec(shape=[None])))
    return assignments


def _new_invalid_times(rows: list[tuple[float, float, str]]) -> list[Assignment]:
    base = INVALID_TIMES
    assignments: list[Assignment] = [
        (Location(base), GroupValue.new("TimeIntervals", "core"), ValueSpec(dtype=None)),
        (Location(base, "description"), INVALID_TIMES_DESCRIPTION, ValueSpec()),
        (
            Location(base, "colnames"),
            ["start_time", "stop_time", "reason"],
            ValueSpec(shape=[None]),
        ),
        (
            Location(f"{base}/id"),
            list(range(len(rows))),
            ValueSpec(
                dtype="int",
                shape=[None],
                attrs=_typed_attrs("ElementIdentifiers", "hdmf-common", None),
            ),
        ),
    ]
    for k, name in enumerate(("start_time", "stop_time", "reason")):
        dtype = "text" if name == "reason" else "float64"
        spec = ValueSpec(
            label=name,
            dtype=dtype,
            shape=[None],
            attrs=_typed_attrs("VectorData", "hdmf-common", _COLUMN_DESCRIPTIONS[name]),
        )
        assignments.append((Location(f"{base}/{name}"), [r[k] for r in rows], spec))
    return assignments


def qc_assignments(
    h5: h5py.File,
    *,
    electrodes_table: str | None,
    bad_rows: dict[int, bool],
    description: str,
    bad_times: Sequence[tuple[float, float, str]],
    replace_reasons: Iterable[str] = ("artefact", "dropout"),
) -> list[Assignment]:
    """Everything QC writes, as assignments for ``EditSession.apply`` (one undoable step)."""
    assignments: list[Assignment] = []
    if electrodes_table is not None and bad_rows:
        assignments += bad_channel_assignments(h5, electrodes_table, bad_rows, description)
    assignments += invalid_times_assignments(h5, bad_times, replace_reasons)
    return assignments


def qc_changes(h5: h5py.File, assignments: Sequence[Assignment]) -> list[Change]:
    """The assignments as ``Change``s from what ``h5`` holds now (for a ``Transaction``);
    those that change nothing are dropped."""
    changes = []
    for location, value, spec in assignments:
        old = read_value(h5, location)
        new = coerce(spec, value)
        if values_equal(old, new) and type(old) is type(new):
            continue
        changes.append(Change(location, old, new, spec))
    order = {"group": 0}
    return sorted(
        changes,
        key=lambda c: (
            order.get("group" if isinstance(c.new, GroupValue) else "", 1),
            c.location.depth,
            str(c.location),
        ),
    )


def describe_decision(settings_text: str) -> str:
    """The ``bad_channel`` description: how the verdict was reached."""
    return (
        "True where ndviewer signal QC flagged the channel (dead/flat, saturated, noisy vs the "
        f"other channels, or line noise) {settings_text}; reviewed values may be overridden."
    )
