"""What a table view does with a :class:`~ndviewer.core.nwb.tables.Table`: order its rows by a
column, keep the rows matching filters the user typed, and show cells as text (one line in the
grid, every value in the preview pane, tab-separated for the clipboard).

Sorting and filtering work on a column's sort keys (one comparable value per row, read once and
kept by the table), so re-sorting or refining a filter of 10^6 rows reads nothing again. Text
keys are dictionary-encoded (:class:`~ndviewer.core.nwb.tables.TextKeys`): a filter tests each
distinct string once and maps the answers to rows, a sort orders the codes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ndviewer.core.errors import NdviewerError
from ndviewer.core.model.values import decode_text
from ndviewer.core.nwb.tables import (
    KEY_BLOCK_ROWS,
    REFERENCE,
    REGION,
    Column,
    RaggedCell,
    Table,
    TextKeys,
)
from ndviewer.core.nwb.vectors import as_rows

# -- sorting and filtering ------------------------------------------------------------------


def sort_order(
    table: Table,
    name: str,
    descending: bool = False,
    rows: np.ndarray | None = None,
    step: Callable[[float], None] | None = None,
) -> np.ndarray:
    """Row numbers of ``table`` ordered by column ``name`` (``"id"`` for the row ids), within
    ``rows`` if given; ties keep table order, NaN goes last. ``step(fraction)`` reports the
    reading of the keys (and may raise to stop)."""
    keys = table.keys(name, step)
    if isinstance(keys, TextKeys):  # codes are ranks of the sorted strings: same order
        keys = keys.codes
    if rows is None:
        return order_by_keys(keys, descending)
    subset = np.asarray(rows)
    return subset[order_by_keys(keys[subset], descending)]


def filter_rows(
    table: Table,
    filters: Mapping[str, str],
    rows: np.ndarray | None = None,
    step: Callable[[float], None] | None = None,
) -> np.ndarray:
    """Row numbers of ``table`` (ascending, within ``rows`` if given) matching every column
    filter (column name -> text as :func:`filter_mask` reads it). ``step(fraction)`` is
    called between blocks (and may raise to stop)."""
    active = [(name, text) for name, text in filters.items() if text.strip()]
    mask = np.ones(table.n_rows, dtype=bool)
    for k, (name, text) in enumerate(active):

        def part(fraction: float, k: int = k) -> None:
            if step is not None:
                step((k + fraction) / len(active))

        keys = table.keys(name, lambda f, part=part: part(f / 2))
        if isinstance(keys, TextKeys):
            # each distinct string tested once; rows look their answer up by code
            answers = filter_mask(keys.uniques, text)
            for lo in range(0, len(keys), KEY_BLOCK_ROWS):
                hi = min(len(keys), lo + KEY_BLOCK_ROWS)
                mask[lo:hi] &= answers[keys.codes[lo:hi]]
                part(0.5 + hi / len(keys) / 2)
            continue
        for lo in range(0, len(keys), KEY_BLOCK_ROWS):
            hi = min(len(keys), lo + KEY_BLOCK_ROWS)
            mask[lo:hi] &= filter_mask(keys[lo:hi], text)
            part(0.5 + hi / len(keys) / 2)
    if rows is None:
        return np.flatnonzero(mask)
    rows = np.asarray(rows)
    return rows[mask[rows]]


def order_by_keys(keys: np.ndarray, descending: bool = False) -> np.ndarray:
    """Stable argsort of ``keys``; NaN keys go last in both directions."""
    if keys.dtype.kind == "f":
        invalid = np.isnan(keys)
        if invalid.any():
            positions = np.flatnonzero(~invalid)
            ordered = positions[_stable_order(keys[positions], descending)]
            return np.concatenate([ordered, np.flatnonzero(invalid)])
    return _stable_order(keys, descending)


#: From this many keys on, a sort that is not packed (text, see :func:`_stable_order`) runs
#: as two half sorts on two threads and one merge.
PARALLEL_SORT_KEYS = 2_000_000


def _argsort_stable(keys: np.ndarray) -> np.ndarray:
    """``np.argsort(keys, kind="stable")``; large arrays (their order as int32 below 2^31
    keys) as two halves sorted side by side (numpy sorts without the GIL) and merged by binary
    search: 10^7 floats 1.8 -> 1.3 s on two cores. (Four quarters, two at a time, measured no lower a peak: the merges' arrays
    outweigh the smaller sorts'.)"""
    n = len(keys)
    if n < PARALLEL_SORT_KEYS or (keys.dtype.kind in "biu" and keys.dtype.itemsize <= 2):
        # small integers (e.g. the codes of text keys) are radix-sorted: 10^7 in ~0.2 s
        return np.argsort(keys, kind="stable")
    from concurrent.futures import ThreadPoolExecutor

    small = np.int32 if n < 1 << 31 else np.int64  # the halves' positions: half the memory
    half = n // 2

    def sort_half(lo: int, hi: int) -> np.ndarray:
        order = np.argsort(keys[lo:hi], kind="stable").astype(small)
        order += lo
        return order

    with ThreadPoolExecutor(2, thread_name_prefix="sort") as pool:
        first, second = pool.map(sort_half, (0, half), (half, n))
    return _merge_sorted(keys, first, second, small)


#: Keys merged at a time by the parallel sort.
MERGE_SLICE = 1 << 16


def _merge_sorted(keys: np.ndarray, first: np.ndarray, second: np.ndarray, dtype) -> np.ndarray:
    """Merge two stable orders of ``keys`` (every row of ``first`` before every row of
    ``second`` in the table) into one, ties keeping table order."""
    # Each key of the second goes after every equal key of the first (stability): its
    # place is the number of first keys <= it plus its rank in the second. In slices, so
    # that no temporary is as long as the second.
    sorted_first = keys[first]
    to = np.empty(second.size, dtype=dtype)
    for lo in range(0, second.size, MERGE_SLICE):
        hi = min(second.size, lo + MERGE_SLICE)
        where = np.searchsorted(sorted_first, keys[second[lo:hi]], side="right")
        where += np.arange(lo, hi)
        to[lo:hi] = where
    del sorted_first
    n = first.size + second.size
    order = np.empty(n, dtype=dtype)
    from_second = np.zeros(n, dtype=bool)
    from_second[to] = True
    order[to] = second
    del to
    np.logical_not(from_second, out=from_second)
    order[from_second] = first
    return order


#: From this many keys on, numbers of 4 or 8 bytes are sorted packed (:func:`_packed_order`).
PACKED_SORT_KEYS = 1 << 15
_SIGN = np.uint64(1 << 63)


def _ordinal(values: np.ndarray) -> np.ndarray:
    """uint64 whose unsigned order is the order of ``values`` (numbers, no NaN); -0.0 and 0.0
    map to the same, as they compare equal. A new array."""
    kind = values.dtype.kind
    if kind == "f":
        bits = values.astype(np.float64)  # a copy, exact for float16/32
        bits += 0.0  # -0.0 -> 0.0
        flip = bits.view(np.int64) >> 63  # all ones for negatives
        flip |= np.int64(-(1 << 63))
        out = bits.view(np.uint64)
        out ^= flip.view(np.uint64)
        return out
    if kind == "i":
        out = values.astype(np.int64).view(np.uint64)
        out ^= _SIGN
        return out
    return values.astype(np.uint64)


def _packed_order(keys: np.ndarray, descending: bool) -> np.ndarray | None:
    """The stable order of numeric ``keys`` (no NaN), by one sort of uint64 words: each key's
    order-preserving bits (minus the smallest) above its row number. numpy sorts plain words
    far faster than it argsorts (in place, no indirection, SIMD where the CPU has it): 10^7
    floats ~0.7 s on one core instead of ~1.8 s (or ~1.3 s on two), and 80 MB of words
    instead of the argsort's 160+ MB of index arrays.

    When key and row do not fit 64 bits together the key's lowest bits are dropped; keys that
    then collide but differ are put right afterwards (few, unless the keys are crowded). A
    descending sort sorts the complemented keys: ties stay in row order. None when the rows
    need more than 40 bits."""
    n = len(keys)
    row_bits = max(1, (n - 1).bit_length())
    if row_bits > 40:
        return None
    ends = _ordinal(np.array([keys.min(), keys.max()], dtype=keys.dtype))
    if descending:
        ends = ~ends[::-1]
    base = ends[0]
    shift = max(0, int(ends[1] - base).bit_length() + row_bits - 64)
    words = np.empty(n, dtype=np.uint64)
    for lo in range(0, n, KEY_BLOCK_ROWS):
        hi = min(n, lo + KEY_BLOCK_ROWS)
        block = _ordinal(keys[lo:hi])
        if descending:
            np.invert(block, out=block)
        block -= base
        if shift:
            block >>= np.uint64(shift)
        block <<= np.uint64(row_bits)
        block |= np.arange(lo, hi, dtype=np.uint64)
        words[lo:hi] = block
    del block
    words.sort()
    ties = _shortened_ties(words, row_bits) if shift else None
    order = _rows_of(words, row_bits)
    if ties is not None:
        _put_collisions_right(keys, order, ties, descending)
    return order


def _shortened_ties(words: np.ndarray, row_bits: int) -> np.ndarray:
    """Positions p of sorted ``words`` whose key part equals that of p + 1 (int32)."""
    n = len(words)
    ties = [np.zeros(0, dtype=np.int64)]
    key_shift = np.uint64(row_bits)
    for lo in range(0, n - 1, KEY_BLOCK_ROWS):
        hi = min(n - 1, lo + KEY_BLOCK_ROWS)
        tied = (words[lo + 1 : hi + 1] >> key_shift) == (words[lo:hi] >> key_shift)
        ties.append(np.flatnonzero(tied) + lo)
    return np.concatenate(ties).astype(np.int32 if n < 1 << 31 else np.int64)


def _rows_of(words: np.ndarray, row_bits: int) -> np.ndarray:
    """The row parts of ``words``; below 2^31 rows as int32 written over the words' own
    memory, then shrunk to it (at 10^7 rows no second 40 MB array next to the 80 MB)."""
    n = len(words)
    row_mask = np.uint64((1 << row_bits) - 1)
    if n >= 1 << 31 or words.base is not None or n < 2:
        return (words & row_mask).astype(np.int64)
    rows = words.view(np.int32)
    for lo in range(0, n, KEY_BLOCK_ROWS):
        # block lo writes bytes [4 lo, 4 hi) of those [8 lo, 8 hi) it reads: from the
        # second block on, bytes already read; the first block's are read before written
        hi = min(n, lo + KEY_BLOCK_ROWS)
        rows[lo:hi] = words[lo:hi] & row_mask
    del rows
    words.resize((n + 1) // 2, refcheck=False)  # keeps the first half (realloc)
    return words.view(np.int32)[:n]


def _put_collisions_right(
    keys: np.ndarray, order: np.ndarray, ties: np.ndarray, descending: bool
) -> None:
    """Reorder in place, by full key then row, the runs of ``order`` whose neighbours
    ``ties`` (pair positions p: order[p], order[p + 1]) had equal shortened keys and where
    some pair is out of order."""
    if not ties.size:
        return
    bad = np.zeros(ties.size, dtype=bool)
    for lo in range(0, ties.size, KEY_BLOCK_ROWS):
        hi = min(ties.size, lo + KEY_BLOCK_ROWS)
        here = keys[order[ties[lo:hi]]]
        after = keys[order[ties[lo:hi] + 1]]
        bad[lo:hi] = (after > here) if descending else (after < here)
    if not bad.any():
        return
    # runs of consecutive tied pairs: pairs p..q hold elements p..q + 1
    run = np.empty(ties.size, dtype=np.int64)
    run[0] = 0
    np.cumsum(np.diff(ties) != 1, out=run[1:])
    wanted = np.unique(run[bad])
    starts = np.searchsorted(run, wanted, side="left")
    ends = np.searchsorted(run, wanted, side="right")  # pair index past each run
    first = ties[starts].astype(np.int64)
    lengths = ties[ends - 1].astype(np.int64) + 2 - first
    run_of = np.repeat(np.arange(wanted.size), lengths)
    positions = np.repeat(first - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
    rows = order[positions]
    full = _ordinal(keys[rows])
    if descending:
        np.invert(full, out=full)
    order[positions] = rows[np.lexsort((rows, full, run_of))]


def _stable_order(keys: np.ndarray, descending: bool) -> np.ndarray:
    # numbers of 4 or 8 bytes: packed words; small integers (e.g. the codes of text keys):
    # numpy's radix sort; the rest (bytes, unicode): argsort
    if keys.dtype.kind in "iuf" and keys.dtype.itemsize >= 4 and len(keys) >= PACKED_SORT_KEYS:
        order = _packed_order(keys, descending)
        if order is not None:
            return order
    if not descending:
        return _argsort_stable(keys)
    n = len(keys)
    if n >= PARALLEL_SORT_KEYS and keys.flags.c_contiguous:
        # the reversed keys below are not contiguous, and numpy copies what it sorts: at
        # 10^7 floats that copy is 80 MB at the peak; an ascending sort reversed run by run
        # costs one more pass instead
        return _reversed_keeping_ties(keys, _argsort_stable(keys))
    # Sorting the reversed keys and reversing the result keeps ties in ascending row order
    # (in place: at 10^7 rows every temporary index array is 80 MB).
    order = _argsort_stable(keys[::-1])
    np.subtract(n - 1, order, out=order)
    return order[::-1]


#: Positions of an order handled at a time by :func:`_reversed_keeping_ties`.
REVERSE_SLICE = 1 << 16


def _reversed_keeping_ties(keys: np.ndarray, ascending: np.ndarray) -> np.ndarray:
    """The descending order (ties in ascending row order) from the stable ascending one:
    reversed, then each run of equal keys reversed back. In place (the result is a reversed
    view of ``ascending``), slice by slice; a run is never cut (a slice ends at a run's end,
    growing if one run is longer than it)."""
    n = len(ascending)
    backwards = ascending[::-1]
    lo = 0
    while lo < n:
        hi = min(n, lo + REVERSE_SLICE)
        while True:
            values = keys[backwards[lo : min(n, hi + 1)]]
            changes = np.flatnonzero(values[1:] != values[:-1]) + 1  # run starts after lo
            if hi == n:
                cut = hi - lo
                break
            if changes.size:
                cut = int(changes[-1])  # the last run may go on past hi: leave it
                break
            hi = min(n, hi + REVERSE_SLICE)  # one run longer than the slice
        starts = np.concatenate([[0], changes[changes < cut]])
        lengths = np.diff(np.append(starts, cut))
        # position p of run [s, s + m) takes the element at s + m - 1 - (p - s)
        first = np.repeat(starts, lengths)
        last = np.repeat(starts + lengths - 1, lengths)
        source = first + last - np.arange(cut)
        backwards[lo : lo + cut] = backwards[lo : lo + cut][source]
        lo += cut
    return backwards


_COMPARISON = re.compile(r"^\s*(>=|<=|==|!=|>|<|=)\s*(.+?)\s*$")
_RANGE = re.compile(r"^\s*(\S+)\s*\.\.\s*(\S+)\s*$")


def filter_mask(keys: np.ndarray, text: str) -> np.ndarray:
    """Which keys match a filter typed by the user.

    Numbers (and ragged counts, ids, bools as 0/1): ``3``, ``> 3``, ``>= 3``, ``< 3``,
    ``<= 3``, ``= 3``, ``!= 3``, ``2..5`` (inclusive). Text: case-insensitive substring,
    ``=word`` for an exact match, ``!word`` for "does not contain".
    """
    text = text.strip()
    if keys.dtype.kind in "biuf":
        return _numeric_mask(keys, text)
    if keys.dtype.kind == "S":
        return _bytes_mask(keys, text)
    values = keys if keys.dtype.kind == "U" else keys.astype(str)
    if text.startswith("!="):
        return values != text[2:].strip()
    if text.startswith("=="):
        return values == text[2:].strip()
    if text.startswith("="):
        return values == text[1:].strip()
    if text.startswith("!") and len(text) > 1:
        return ~_contains(values, text[1:])
    return _contains(values, text)


def _contains(values: np.ndarray, needle: str) -> np.ndarray:
    """Case-insensitive substring test over a unicode array (numpy's string ufuncs)."""
    strings = getattr(np, "strings", np.char)  # np.strings (numpy >= 2) is the faster one
    return strings.find(strings.lower(values), needle.lower()) >= 0


#: Lower-casing of ASCII bytes, as one table lookup per byte.
_ASCII_LOWER = np.arange(256, dtype=np.uint8)
_ASCII_LOWER[ord("A") : ord("Z") + 1] += 32


def _bytes_mask(keys: np.ndarray, text: str) -> np.ndarray:
    """:func:`filter_mask` over UTF-8 bytes keys, without decoding them when all is ASCII."""
    if text.startswith(("!=", "==")):
        exact = keys == text[2:].strip().encode("utf-8")
        return ~exact if text.startswith("!=") else exact
    if text.startswith("="):
        return keys == text[1:].strip().encode("utf-8")
    if text.startswith("!") and len(text) > 1:
        return ~_bytes_contain(keys, text[1:])
    return _bytes_contain(keys, text)


def _bytes_contain(keys: np.ndarray, needle: str) -> np.ndarray:
    """Case-insensitive substring test: ASCII keys are lowered byte-wise (as ``str.lower``
    does for ASCII), anything else is decoded and lowered as text."""
    strings = getattr(np, "strings", np.char)
    if not keys.size:
        return np.zeros(0, dtype=bool)
    raw = np.ascontiguousarray(keys).view(np.uint8)
    if needle.isascii() and int(raw.max()) < 128:
        lowered = _ASCII_LOWER[raw].view(keys.dtype)
        return strings.find(lowered, needle.lower().encode("ascii")) >= 0
    return _contains(strings.decode(keys, "utf-8", "replace"), needle)


def _parse_number(text: str, filter_text: str) -> float:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return 1.0 if lowered == "true" else 0.0
    try:
        return float(text)
    except ValueError:
        raise NdviewerError(
            f"The filter {filter_text!r} needs a number, e.g. '> 2.5', '3' or '1..10'."
        ) from None


def _numeric_mask(keys: np.ndarray, text: str) -> np.ndarray:
    values = keys.astype(float) if keys.dtype.kind == "b" else keys
    match = _RANGE.match(text)
    if match:
        lo = _parse_number(match.group(1), text)
        hi = _parse_number(match.group(2), text)
        return (values >= min(lo, hi)) & (values <= max(lo, hi))
    match = _COMPARISON.match(text)
    op, number = (match.group(1), match.group(2)) if match else ("=", text)
    threshold = _parse_number(number, text)
    with np.errstate(invalid="ignore"):
        if op == ">":
            return values > threshold
        if op == ">=":
            return values >= threshold
        if op == "<":
            return values < threshold
        if op == "<=":
            return values <= threshold
        if op == "!=":
            return values != threshold
        if math.isnan(threshold):
            return np.isnan(values) if values.dtype.kind == "f" else np.zeros(len(values), bool)
        return values == threshold


# -- display --------------------------------------------------------------------------------


def format_value(value: Any, max_items: int = 6, precise: bool = False) -> str:
    """Short one-line text for one value (not a whole ragged cell).

    Floats show 6 significant digits, or every digit needed to read them back when
    ``precise`` (for copying).
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("\n", " ⏎ ")
    if isinstance(value, bytes):
        return decode_text(value)
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, float | np.floating):
        return repr(float(value)) if precise else f"{float(value):.6g}"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, tuple):
        return "(" + ", ".join(format_value(v, max_items, precise) for v in value) + ")"
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return format_value(value.item(), max_items, precise)
    if isinstance(value, np.ndarray) and value.ndim >= 2 and not precise:
        # e.g. a mean waveform: its shape says more than the first nested rows would
        flat = value.ravel()
        head = ", ".join(format_value(v, max_items) for v in flat[:max_items])
        shape = " × ".join(str(n) for n in value.shape)
        return f"{shape}: {head}{', …' if flat.size > max_items else ''}"
    if isinstance(value, np.ndarray | list):
        items = list(value[:max_items])
        text = ", ".join(format_value(v, max_items, precise) for v in items)
        return f"[{text}{', …' if len(value) > max_items else ''}]"
    return str(value)


def format_cell(column: Column | None, value: Any) -> str:
    """The text a table view shows for a cell (ragged cells: count, then the first values)."""
    if isinstance(value, RaggedCell):
        noun = "item" if value.count == 1 else "items"
        if value.head is None or value.count == 0:
            return f"{value.count} {noun}"
        shown = ", ".join(_format_element(column, v) for v in value.head)
        return f"{value.count} {noun}: {shown}{', …' if value.truncated else ''}"
    return _format_element(column, value)


def _format_element(column: Column | None, value: Any) -> str:
    if value is None:  # a cell a short (damaged) column does not have
        return ""
    if column is not None and column.element_kind == REGION and column.target_table:
        table_name = column.target_table.rsplit("/", 1)[-1]
        if isinstance(value, np.ndarray) and value.ndim:
            return f"{table_name}{format_value(value)}"
        return f"{table_name}[{format_value(value)}]"
    if column is not None and column.element_kind == REFERENCE and value == "":
        return "(null reference)"
    return format_value(value)


def preview_text(column: Column, value: Any, max_items: int = 1000) -> str:
    """Multi-line text of a whole cell for the preview pane, truncated at ``max_items`` lines."""
    lines: list[str] = []

    def walk(item: Any, depth: int) -> None:
        if len(lines) >= max_items:
            return
        if isinstance(item, list) or (
            isinstance(item, np.ndarray)
            and item.ndim >= 1
            and column.is_ragged
            and depth < column.ragged_depth
        ):
            lines.append("  " * depth + f"[{len(item)} items]")
            for sub in item:
                walk(sub, depth + 1)
        else:
            lines.append("  " * depth + _format_element(column, item))

    if column.is_ragged:
        walk(value, 0)
    else:
        lines.append(_format_element(column, value))
    if len(lines) >= max_items:
        lines.append(f"… (first {max_items} lines shown)")
    return "\n".join(lines)


def _tsv_text(column: Column | None, value: Any) -> str:
    if column is not None and column.element_kind == REFERENCE and value == "":
        text = ""
    else:
        text = format_value(value, max_items=1 << 62, precise=True)
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def table_tsv(table: Table, rows: Sequence[int] | np.ndarray, columns: Sequence[str]) -> str:
    """Tab-separated text of whole cells (ragged ones in full), with a header line.

    ``columns`` may include ``"id"``. This is what "copy selection" puts on the clipboard, so
    it pastes into a spreadsheet as one row per table row.
    """
    selected = as_rows(rows, table.n_rows, f"table {table.path}")
    values: list[Sequence[Any]] = []
    for name in columns:
        if name == "id":
            values.append(table.ids(selected))
            continue
        column = table.column(name)
        present = selected[selected < column.n_rows]
        cells = list(column.read(present)) if present.size else []
        it = iter(cells)
        values.append([next(it) if row < column.n_rows else None for row in selected])
    lines = ["\t".join(columns)]
    for i in range(selected.size):
        lines.append(
            "\t".join(
                _tsv_text(None if name == "id" else table.column(name), values[k][i])
                for k, name in enumerate(columns)
            )
        )
    return "\n".join(lines) + "\n"
