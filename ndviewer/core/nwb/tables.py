"""Read DynamicTables lazily: columns, ragged cells, regions and references.

A DynamicTable on disk is a group whose ``colnames`` attribute orders its column datasets, plus
an ``id`` dataset. A ragged column ``x`` has ``x_index`` (a VectorIndex of exclusive end
offsets, often uint8/uint16) and a doubly ragged one also ``x_index_index``; a
DynamicTableRegion holds row numbers of the table its ``table`` attribute references; other
columns may hold object references, enum codes or compound records. This module turns all of
these into plain values *for the rows asked for only*, so a table of 10^6 rows costs what is on
screen, and gives every column one sort/filter key per row. The dataset reads underneath are
in :mod:`ndviewer.core.nwb.vectors`; sorting, filtering and cell text in
:mod:`ndviewer.core.nwb.table_view`.

The layout is recognised from the file itself (``target``, ``table`` and ``elements``
attributes, ``_index`` names), never from a list of type names, so extension tables work as
their parents do.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import h5py
import numpy as np

from ndviewer.core.errors import NdviewerError
from ndviewer.core.model.nodes import OpenFile, read_type_attrs
from ndviewer.core.model.values import decode_text, decode_value
from ndviewer.core.nwb.vectors import (
    IndexReader,
    VectorReader,
    as_rows,
    index_bounds,
    read_index,
    read_text_bytes,
    reference_path,
)

#: Element kinds a column can hold (what one value inside a cell is).
NUMBER = "number"
BOOL = "bool"
STRING = "string"
ENUM = "enum"
REGION = "region"
REFERENCE = "reference"
COMPOUND = "compound"

#: Sort/filter key arrays kept per table (each is one value per row).
CACHED_KEY_COLUMNS = 3
#: ... and together they hold at most this many bytes (the newest is always kept): a float
#: and a short text column of 10^7 rows (80 + 90 MB), so sort-then-filter reads each once.
CACHED_KEY_BYTES = 200 * 1024 * 1024
#: Rows per block when keys are read or filtered (a few MB of text at a time).
KEY_BLOCK_ROWS = 1 << 18
#: Rows per block when text keys are built in the background (:meth:`Table.prepare_keys`):
#: ~5 ms of HDF5 reading, the longest a sort, filter or page of rows waits for HDF5's lock
#: meanwhile.
BACKGROUND_BLOCK_ROWS = 1 << 15
#: A text column is kept dictionary-encoded (:class:`TextKeys`) while its distinct values
#: take at most this many bytes (as fixed-width UTF-8) ...
TEXT_UNIQUE_BYTES = 32 * 1024 * 1024
#: ... and, beyond the first :data:`TEXT_UNIQUE_MIN`, are at most this share of the rows read
#: so far; past either, as plain bytes keys (mostly different strings gain nothing encoded).
TEXT_UNIQUE_SHARE = 0.5
TEXT_UNIQUE_MIN = 1 << 16

#: Rows of a block are previewed with at most this many values per ragged cell.
PREVIEW_ITEMS = 8


@dataclass(frozen=True)
class JumpTarget:
    """Where a region or reference cell points: an object path, and a row for table targets."""

    path: str
    row: int | None = None


@dataclass(frozen=True)
class RaggedCell:
    """What a block shows of a ragged cell: its length and its first few values.

    ``head`` is None for doubly ragged cells, whose values are only read on demand.
    """

    count: int
    head: Sequence[Any] | None

    @property
    def truncated(self) -> bool:
        return self.head is None or len(self.head) < self.count


@dataclass(frozen=True)
class RowBlock:
    """Cells of some rows of a table, as the table view shows them.

    Attributes
    ----------
    rows : numpy.ndarray
        The table row numbers, in the order they were asked for.
    ids : numpy.ndarray
        The ``id`` value of each row.
    cells : dict
        Column name -> one value per row; ragged columns hold ``RaggedCell`` previews.
    """

    rows: np.ndarray
    ids: np.ndarray
    cells: dict[str, Sequence[Any]]


@dataclass(frozen=True)
class TextKeys:
    """Sort/filter keys of a text column, dictionary-encoded.

    ``uniques`` holds each distinct string once (UTF-8 bytes, in code point order) and
    ``codes`` one index into it per row: since the uniques are sorted, ordering the codes
    orders the text, and a filter need only test the uniques (a few thousand labels rather
    than 10^7 rows) and look each row's answer up. 10^7 rows of a few thousand labels take
    20 MB (uint16 codes, which numpy sorts by radix) instead of 90+ MB of bytes keys.
    """

    uniques: np.ndarray
    codes: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def nbytes(self) -> int:
        return int(self.uniques.nbytes + self.codes.nbytes)

    def values(self) -> np.ndarray:
        """The plain bytes keys (one fixed-width string per row)."""
        return self.uniques[self.codes]

    def padded(self, n_rows: int) -> TextKeys:
        """These keys with empty strings for rows [len, n_rows) (a short column)."""
        if n_rows <= len(self.codes):
            return TextKeys(self.uniques, self.codes[:n_rows])
        uniques, codes = self.uniques, self.codes
        if not uniques.size or uniques[0] != b"":  # b"" sorts first
            uniques = np.concatenate([np.zeros(1, dtype=uniques.dtype), uniques])
            codes = _code_array(codes.astype(np.int64) + 1, len(uniques))
        tail = np.zeros(n_rows - len(codes), dtype=codes.dtype)
        return TextKeys(uniques, np.concatenate([codes, tail]))


def _code_array(codes: np.ndarray, n_uniques: int) -> np.ndarray:
    """``codes`` in the smallest of uint16 (radix-sorted by numpy) and int32."""
    return codes.astype(np.uint16 if n_uniques <= 1 << 16 else np.int32, copy=False)


#: Sort/filter keys of one column: an array (numbers, bytes, text) or dictionary-encoded text.
Keys = np.ndarray | TextKeys


class _TextDictionary:
    """Builds :class:`TextKeys` from blocks of bytes keys, block by block.

    Each block's strings are hashed to 64 bits (exactly, as integers, up to 8 bytes) and
    looked up among the hashes seen so far by binary search; only strings never seen go
    through ``np.unique``. Every code is checked against its string, so a hash collision
    only costs falling back to plain keys. ``add`` returns False when the distinct values
    pass the bounds (bytes, share of rows): the caller then keeps plain keys.
    """

    def __init__(self, n_rows: int) -> None:
        self.n_rows = n_rows
        # uint16 until there are more distinct strings than that holds
        self.codes = np.zeros(n_rows, dtype=np.uint16)
        self._hashes = np.zeros(0, dtype=np.uint64)  # sorted
        self._ids = np.zeros(0, dtype=np.int32)  # id of each sorted hash
        self._values: list[np.ndarray] = []  # distinct strings in id order, by block
        self._n_values = 0
        self._width = 1
        self.filled = 0

    def add(self, block: np.ndarray) -> bool:
        lo, hi = self.filled, self.filled + len(block)
        if not len(block):
            return True
        hashes = _hash_bytes(block)
        codes = np.zeros(len(block), dtype=np.int32)
        if len(self._hashes):
            positions = np.searchsorted(self._hashes, hashes)
            np.minimum(positions, len(self._hashes) - 1, out=positions)
            found = self._hashes[positions] == hashes
            if found.all():  # the usual case once the labels have been seen
                np.take(self._ids, positions, out=codes)
            else:
                codes[found] = self._ids[positions[found]]
            del positions
        else:
            found = np.zeros(len(block), dtype=bool)
        if not found.all():
            missing = np.flatnonzero(~found)
            new, first, inverse = np.unique(hashes[missing], return_index=True, return_inverse=True)
            ids = np.arange(self._n_values, self._n_values + len(new), dtype=np.int32)
            codes[missing] = ids[inverse]
            self._values.append(block[missing[first]])
            self._n_values += len(new)
            self._width = max(self._width, block.dtype.itemsize)
            at = np.searchsorted(self._hashes, new)
            self._hashes = np.insert(self._hashes, at, new)
            self._ids = np.insert(self._ids, at, ids)
            if self._n_values * self._width > TEXT_UNIQUE_BYTES or self._n_values > max(
                TEXT_UNIQUE_MIN, TEXT_UNIQUE_SHARE * hi
            ):
                return False
            if self._n_values > 1 << 16 and self.codes.dtype == np.uint16:
                self.codes = self.codes.astype(np.int32)
        # a string whose hash another had: its code points at that other string (hashes of
        # strings of up to 8 bytes are the strings themselves)
        exact = max(self._width, block.dtype.itemsize) <= 8
        if not exact and not np.array_equal(self._uniques()[codes], block):
            return False
        self.codes[lo:hi] = codes
        self.filled = hi
        return True

    def _uniques(self) -> np.ndarray:
        if len(self._values) > 1:
            self._values = [np.concatenate([v.astype(f"S{self._width}") for v in self._values])]
        return self._values[0] if self._values else np.zeros(0, dtype="S1")

    def plain(self) -> np.ndarray:
        """The plain bytes keys of the rows added so far (to go on without a dictionary)."""
        return self._uniques()[self.codes[: self.filled]]

    def keys(self) -> TextKeys:
        """The keys, codes renumbered in place (block by block) to ranks of the strings."""
        uniques = self._uniques()
        order = np.argsort(uniques, kind="stable")
        rank = np.empty(len(order), dtype=self.codes.dtype)
        rank[order] = np.arange(len(order), dtype=self.codes.dtype)
        codes = self.codes[: self.filled]
        for lo in range(0, len(codes), KEY_BLOCK_ROWS):
            hi = min(len(codes), lo + KEY_BLOCK_ROWS)
            codes[lo:hi] = rank[codes[lo:hi]]
        self.codes = np.zeros(0, dtype=np.uint16)
        return TextKeys(uniques[order], codes)


_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def _hash_bytes(block: np.ndarray) -> np.ndarray:
    """One uint64 per fixed-width string, the same whatever the width of the block: the
    bytes themselves up to 8, else its first 8-byte word mixed with each further non-zero
    word (collisions are caught by the caller)."""
    width = block.dtype.itemsize
    words = -(-width // 8)
    if width != words * 8:
        wide = np.zeros(len(block), dtype=f"S{words * 8}")
        wide[...] = block
    else:
        wide = np.ascontiguousarray(block)
    matrix = wide.view(np.uint64).reshape(len(block), words)
    hashes = matrix[:, 0].copy()
    with np.errstate(over="ignore"):
        for k in range(1, words):
            word = matrix[:, k]
            mixed = hashes * _HASH_MULTIPLIER
            mixed ^= mixed >> np.uint64(29)
            mixed += word
            # zero words are the padding of shorter strings: they leave the hash as it is
            np.copyto(hashes, mixed, where=word != 0)
    return hashes


# -- columns --------------------------------------------------------------------------------


@cache
def _column_units() -> dict[str, str]:
    from ndviewer.paths import spec_dir

    raw = json.loads((spec_dir() / "column_units.json").read_text(encoding="utf-8"))
    return dict(raw["columns"])


def implied_column_unit(name: str) -> str | None:
    """The unit the NWB schema gives a table column of this name (``spec/column_units.json``),
    or None."""
    return _column_units().get(name)


class Column:
    """One column of a table: how to read its cells and what kind of values they hold.

    Attributes
    ----------
    name : str
        Column name as listed in ``colnames`` (``category/name`` for AlignedDynamicTable
        category columns).
    path : str
        HDF5 path of the column's VectorData.
    element_kind : str
        What one value is: ``number``, ``bool``, ``string``, ``enum``, ``region``,
        ``reference`` or ``compound``.
    ragged_depth : int
        Number of VectorIndex levels (0 plain, 1 ragged, 2 doubly ragged…).
    element_shape : tuple of int
        Shape of one value beyond the row axis (e.g. ``(2,)`` for an (n, 2) column).
    target_table : str or None
        For regions, the path of the table whose rows the values index.
    field_names : tuple of str
        Field names of compound values.
    """

    def __init__(self, group: h5py.Group, dataset_name: str, name: str | None = None) -> None:
        dataset = group[dataset_name]
        if not isinstance(dataset, h5py.Dataset):
            raise NdviewerError(f"Column {dataset_name} of table {group.name} is not a dataset.")
        self.name = name or dataset_name
        self.path = dataset.name
        self.table_path = group.name
        attrs = dataset.attrs
        self.neurodata_type, _, _ = read_type_attrs(attrs)
        self.description = _attr_text(attrs, "description")
        # the file's own unit, else the one the NWB schema fixes for the column's name (the
        # times of trials and spikes are in seconds, but carry no unit attribute)
        self.unit = _attr_text(attrs, "unit") or implied_column_unit(self.name)
        self.dtype = dataset.dtype
        self.element_shape: tuple[int, ...] = tuple(dataset.shape[1:]) if dataset.shape else ()
        self.field_names: tuple[str, ...] = tuple(dataset.dtype.names or ())
        self.target_table: str | None = None
        labels = None
        if "table" in attrs and isinstance(attrs["table"], h5py.Reference):
            self.target_table = reference_path(dataset.file, attrs["table"]) or None
            self.element_kind = REGION
        elif "elements" in attrs and isinstance(attrs["elements"], h5py.Reference):
            elements = dataset.file[attrs["elements"]]
            labels = VectorReader(elements).read(0, len(elements))
            self.element_kind = ENUM
        elif h5py.check_ref_dtype(dataset.dtype) is not None:
            self.element_kind = REFERENCE
        elif dataset.dtype.names is not None:
            self.element_kind = COMPOUND
        elif h5py.check_string_dtype(dataset.dtype) is not None:
            self.element_kind = STRING
        elif dataset.dtype.kind == "b":
            self.element_kind = BOOL
        elif h5py.check_enum_dtype(dataset.dtype) is not None:
            self.element_kind = ENUM
        else:
            self.element_kind = NUMBER
        self._source = VectorReader(dataset, labels)
        # Index levels, outermost first: x_index_index, then x_index.
        levels: list[h5py.Dataset] = []
        index_name = f"{dataset_name}_index"
        while index_name in group and isinstance(group[index_name], h5py.Dataset):
            levels.insert(0, group[index_name])
            index_name += "_index"
        self._levels = levels
        self.index_paths = tuple(level.name for level in levels)
        outer = levels[0] if levels else dataset
        self.n_rows = int(outer.shape[0]) if outer.shape else 0

    # -- description -------------------------------------------------------------------------
    @property
    def ragged_depth(self) -> int:
        return len(self._levels)

    @property
    def is_ragged(self) -> bool:
        return bool(self._levels)

    @property
    def sortable(self) -> bool:
        """True when every row has one comparable key (ragged cells sort by length)."""
        if self.is_ragged:
            return True
        return self.element_kind != COMPOUND and not self.element_shape

    @property
    def is_link(self) -> bool:
        """Cells point somewhere the user can jump to (a region row or an object)."""
        if self.element_kind in (REGION, REFERENCE):
            return True
        if self.element_kind == COMPOUND:
            return any(
                h5py.check_ref_dtype(self.dtype.fields[name][0]) is not None
                for name in self.field_names
            )
        return False

    def __repr__(self) -> str:
        ragged = f", ragged x{self.ragged_depth}" if self.ragged_depth else ""
        return f"Column({self.name!r}, {self.element_kind}{ragged})"

    # -- reading -----------------------------------------------------------------------------
    def read(
        self, rows: Sequence[int] | np.ndarray | slice | None = None
    ) -> list[Any] | np.ndarray:
        """Full cell values of ``rows`` (all rows when None), in the order asked.

        Plain columns give an array (one value, or one sub-array for (n, k) columns, per row);
        ragged columns give a list with one array per row, and doubly ragged ones a list of
        lists of arrays.
        """
        selected = as_rows(rows, self.n_rows, f"column {self.name} of {self.table_path}")
        if not self._levels:
            contiguous = selected.size and np.all(np.diff(selected) == 1)
            if (isinstance(rows, slice) or rows is None) and contiguous:
                return self._source.read(int(selected[0]), int(selected[-1]) + 1)
            return self._source.take(selected)
        starts, ends = index_bounds(self._levels[0], selected)
        return self._expand(1, starts, ends)

    def _expand(self, depth: int, starts: np.ndarray, ends: np.ndarray) -> list[Any]:
        """Cells made of the [start, end) ranges of level ``depth`` (the data after the last)."""
        if depth == len(self._levels):
            return self._source.read_ranges(starts, ends)
        level = IndexReader(self._levels[depth])
        # For each range [s, e) of this index, element j spans level[j-1] .. level[j].
        bounds = level.read_ranges(np.maximum(starts - 1, 0), ends)
        sub_starts: list[np.ndarray] = []
        sub_ends: list[np.ndarray] = []
        for s, e, values in zip(starts.tolist(), ends.tolist(), bounds, strict=True):
            if e <= s:
                sub_starts.append(np.zeros(0, dtype=np.int64))
                sub_ends.append(np.zeros(0, dtype=np.int64))
                continue
            edges = values if s > 0 else np.concatenate([[0], values])
            sub_starts.append(edges[:-1])
            sub_ends.append(edges[1:])
        flat = self._expand(
            depth + 1,
            np.concatenate(sub_starts) if sub_starts else np.zeros(0, dtype=np.int64),
            np.concatenate(sub_ends) if sub_ends else np.zeros(0, dtype=np.int64),
        )
        out: list[Any] = []
        position = 0
        for piece in sub_starts:
            out.append(flat[position : position + len(piece)])
            position += len(piece)
        return out

    def counts(self, rows: Sequence[int] | np.ndarray | slice | None = None) -> np.ndarray:
        """Number of values in each ragged cell (first index level); reads the index only."""
        if not self._levels:
            raise NdviewerError(f"Column {self.name} of {self.table_path} is not ragged.")
        selected = as_rows(rows, self.n_rows, f"column {self.name} of {self.table_path}")
        if rows is None or isinstance(rows, slice):
            if selected.size == 0:
                return np.zeros(0, dtype=np.int64)
            lo, hi = int(selected[0]), int(selected[-1]) + 1
            if np.all(np.diff(selected) == 1):
                ends = read_index(self._levels[0], max(lo - 1, 0), hi)
                if lo == 0:
                    ends = np.concatenate([[0], ends])
                return np.diff(ends)
        starts, ends = index_bounds(self._levels[0], selected)
        return ends - starts

    def bounds(
        self, rows: Sequence[int] | np.ndarray | slice | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(starts, ends) of each ragged cell's values, as positions in the next level."""
        if not self._levels:
            raise NdviewerError(f"Column {self.name} of {self.table_path} is not ragged.")
        selected = as_rows(rows, self.n_rows, f"column {self.name} of {self.table_path}")
        return index_bounds(self._levels[0], selected)

    @property
    def n_values(self) -> int:
        """Length of the data under the first index level (all values of all cells)."""
        if len(self._levels) > 1:
            return len(self._levels[1])
        return len(self._source)

    def read_values(self, lo: int, hi: int) -> np.ndarray:
        """Values [lo, hi) of a singly ragged column's data, all cells run together."""
        if len(self._levels) != 1:
            raise NdviewerError(f"Column {self.name} of {self.table_path} is not singly ragged.")
        return self._source.read(lo, hi)

    def take_values(self, positions: np.ndarray) -> np.ndarray:
        """Values of a singly ragged column's data at ``positions`` (e.g. first spikes)."""
        if len(self._levels) != 1:
            raise NdviewerError(f"Column {self.name} of {self.table_path} is not singly ragged.")
        return self._source.take(np.asarray(positions, dtype=np.int64))

    def read_value_ranges(self, starts: np.ndarray, ends: np.ndarray) -> list[np.ndarray]:
        """Data of several [start, end) ranges of a singly ragged column, merged into few reads."""
        if len(self._levels) != 1:
            raise NdviewerError(f"Column {self.name} of {self.table_path} is not singly ragged.")
        return self._source.read_ranges(starts, ends)

    def attribute(self, key: str) -> Any:
        """A decoded attribute of the column's dataset (e.g. ``unit``, ``sampling_rate``)."""
        value = self._source.dataset.attrs.get(key)
        return None if value is None else decode_value(value, self._source.dataset.file)

    def previews(self, rows: np.ndarray, n_items: int = PREVIEW_ITEMS) -> list[RaggedCell]:
        """Length and first ``n_items`` values of each ragged cell, without reading the rest."""
        starts, ends = index_bounds(self._levels[0], rows)
        if self.ragged_depth > 1:
            return [RaggedCell(int(e - s), None) for s, e in zip(starts, ends, strict=True)]
        heads = self._source.read_ranges(starts, np.minimum(ends, starts + n_items))
        return [
            RaggedCell(int(e - s), head)
            for s, e, head in zip(starts.tolist(), ends.tolist(), heads, strict=True)
        ]

    def sort_keys(self, step: Callable[[float], None] | None = None) -> Keys:
        """One comparable key per row: the value, or the length of ragged cells.

        Strings come back as :class:`TextKeys` (distinct strings once, a code per row) or,
        when most strings differ, as UTF-8 bytes (a fixed-width ``S`` array), read in blocks
        of :data:`KEY_BLOCK_ROWS` (bytes: a quarter of a unicode array's memory, and the
        same order); paths and enum labels as a unicode array, numbers as their own dtype,
        bools as 0/1.
        ``step(fraction done)`` is called between blocks (and may raise to stop).
        """
        if not self.sortable:
            raise NdviewerError(
                f"Column {self.name} of {self.table_path} holds "
                f"{'records' if self.element_kind == COMPOUND else 'arrays'} and cannot be "
                "sorted or filtered."
            )
        if self._levels:
            return self.counts()
        builder = self.text_key_builder()
        if builder is not None:
            keys = builder.run(step)
            assert keys is not None  # never stopped
            return keys
        source = self._source
        values = source.read(0, self.n_rows)
        if values.dtype == object and self.element_kind in (STRING, REFERENCE):
            return values.astype(str)  # always str here: one C-level conversion
        if values.dtype == object:
            if all(isinstance(v, str) or v is None for v in values):
                return np.array(["" if v is None else v for v in values], dtype=str)
            return np.array([np.nan if v is None else v for v in values], dtype=float)
        if self.element_kind == BOOL:
            return values.astype(np.int8)
        return values

    @property
    def has_text_keys(self) -> bool:
        """Plain strings (not ragged, no enum labels): keys built by a :class:`TextKeyBuilder`."""
        source = self._source
        return bool(
            not self._levels
            and self.sortable
            and source.is_string
            and source.labels is None
            and source.dataset.ndim == 1
        )

    def text_key_builder(self) -> TextKeyBuilder | None:
        """What builds this column's keys block by block (None unless ``has_text_keys``)."""
        return TextKeyBuilder(self._source.dataset, self.n_rows) if self.has_text_keys else None

    def jump_targets(self, value: Any) -> list[JumpTarget]:
        """Where a cell's value points (region rows, referenced objects); [] for plain values."""
        targets: list[JumpTarget] = []
        for element in _flatten(value):
            if self.element_kind == REGION and self.target_table:
                targets.append(JumpTarget(self.target_table, int(element)))
            elif self.element_kind == REFERENCE and element:
                targets.append(JumpTarget(str(element)))
            elif self.element_kind == COMPOUND and isinstance(element, tuple):
                for name, part in zip(self.field_names, element, strict=False):
                    if h5py.check_ref_dtype(self.dtype.fields[name][0]) is not None and part:
                        targets.append(JumpTarget(str(part)))
        return targets


class TextKeyBuilder:
    """The keys of a text column built block by block, able to stop between blocks and go
    on later (from another thread) where it stopped.

    So a table can build them in the background, at low priority, before anyone asks (a
    filter then only tests the distinct strings), and a sort or filter that needs them
    takes over what is done rather than starting again. Not thread-safe by itself: one
    caller at a time (``lock``).
    """

    def __init__(self, dataset: h5py.Dataset, n_rows: int) -> None:
        self.dataset = dataset
        self.n_rows = min(n_rows, len(VectorReader(dataset)))
        self.lock = threading.Lock()
        #: Someone waits for these keys: a background run stops at the next block.
        self.wanted = False
        #: The strings were too many distinct ones to encode (plain keys were refused).
        self.failed = False
        self.done = 0
        self._dictionary: _TextDictionary | None = _TextDictionary(self.n_rows)
        self._plain = np.zeros(0, dtype="S1")

    @property
    def fraction(self) -> float:
        return self.done / max(1, self.n_rows)

    @property
    def nbytes(self) -> int:
        """Memory held by what is built so far (the rows done, and the distinct strings)."""
        if self._dictionary is None:
            return int(self._plain.itemsize * self.done)
        dictionary = self._dictionary
        return int(dictionary.codes.itemsize * self.done + dictionary._n_values * dictionary._width)

    def run(
        self,
        step: Callable[[float], None] | None = None,
        stop: Callable[[], bool] | None = None,
        encoded_only: bool = False,
        background: bool = False,
    ) -> Keys | None:
        """Read the rest of the strings; the keys, or None when ``stop()`` said so between
        blocks or (``encoded_only``) the strings will not dictionary-encode (``failed``):
        plain keys of 10^7 strings would take hundreds of MB. ``background``: one thread
        (no read-ahead) and small blocks, so that HDF5's lock is never held long."""
        n_rows = self.n_rows
        blocks = (
            _text_blocks(self.dataset, n_rows, self.done, BACKGROUND_BLOCK_ROWS, False)
            if background
            else _text_blocks(self.dataset, n_rows, self.done)
        )
        for lo, hi, block in blocks:
            dictionary = self._dictionary
            if dictionary is not None and not dictionary.add(block):
                if encoded_only:
                    self.failed = True
                    return None
                # too many distinct strings (or a hash collision): plain keys from here on
                self._plain = np.zeros(n_rows, dtype=f"S{max(1, dictionary._width)}")
                self._plain[:lo] = dictionary.plain()
                self._dictionary = dictionary = None
            if dictionary is None:
                if block.dtype.itemsize > self._plain.dtype.itemsize:
                    self._plain = self._plain.astype(block.dtype)  # rare: a longer string
                self._plain[lo:hi] = block
            del block
            self.done = hi
            if step is not None:
                step(hi / max(1, n_rows))
            if hi < n_rows and stop is not None and stop():
                return None
        if self._dictionary is None:
            return self._plain
        return self._dictionary.keys()


def _text_blocks(
    dataset: h5py.Dataset,
    n_rows: int,
    start: int = 0,
    block_rows: int | None = None,
    read_ahead: bool = True,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """(lo, hi, bytes of strings [lo, hi)) for blocks of ``block_rows`` rows (default
    :data:`KEY_BLOCK_ROWS`) from ``start`` on, the next block read on a second thread while the caller works on this one (unless
    not ``read_ahead``).

    HDF5 spends ~150 ns per variable-length string (one global-heap lookup each) and lets go
    of the GIL meanwhile, so encoding a block overlaps reading the next: at 10^7 rows the
    encoding (~0.5 s) is hidden behind the reading (~1.5 s) on two cores. One block ahead at
    most (a few MB). When the caller stops early, the block being read is waited for.
    """
    from concurrent.futures import ThreadPoolExecutor

    block_rows = block_rows or KEY_BLOCK_ROWS
    bounds = [(lo, min(n_rows, lo + block_rows)) for lo in range(start, n_rows, block_rows)]
    if len(bounds) <= 1 or not read_ahead:
        for lo, hi in bounds:
            yield lo, hi, read_text_bytes(dataset, lo, hi)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="text-keys") as pool:
        ahead = pool.submit(read_text_bytes, dataset, *bounds[0])
        try:
            for k, (lo, hi) in enumerate(bounds):
                block = ahead.result()
                if k + 1 < len(bounds):
                    ahead = pool.submit(read_text_bytes, dataset, *bounds[k + 1])
                yield lo, hi, block
                del block
        finally:
            ahead.cancel()


def _flatten(value: Any) -> list[Any]:
    """The single values inside a (possibly ragged) cell."""
    if isinstance(value, RaggedCell):
        return list(value.head or [])
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            out.extend(_flatten(item))
        return out
    if isinstance(value, np.ndarray) and value.dtype != object:
        return value.ravel().tolist()
    if isinstance(value, np.ndarray):
        return (
            [item for part in value.tolist() for item in _flatten(part)]
            if value.ndim
            else [value.item()]
        )
    return [value]


def _attr_text(attrs: h5py.AttributeManager, key: str) -> str:
    value = attrs.get(key)
    if value is None:
        return ""
    if isinstance(value, bytes | str):
        return decode_text(value)
    if isinstance(value, np.ndarray) and value.size == 1:
        item = value.ravel()[0]
        return decode_text(item) if isinstance(item, bytes | str) else str(item)
    return str(value)


def _colnames(group: h5py.Group) -> list[str]:
    raw = group.attrs.get("colnames")
    if raw is None:
        return []
    values = np.atleast_1d(raw).tolist()
    return [
        decode_text(v) if isinstance(v, bytes | str) else str(v)
        for v in values
        if isinstance(v, bytes | str)
    ]


def is_table_group(obj: Any) -> bool:
    """True for a group laid out as a DynamicTable (a ``colnames`` attribute and an ``id``)."""
    return isinstance(obj, h5py.Group) and "colnames" in obj.attrs and "id" in obj


# -- tables ---------------------------------------------------------------------------------


class Table:
    """A DynamicTable read lazily: nothing but the column layout is read on construction.

    AlignedDynamicTables (e.g. IntracellularRecordingsTable) also list their category
    sub-tables' columns, named ``category/column`` (including ``category/id``), since every
    category table has one row per row of the main table.

    Attributes
    ----------
    path, name, neurodata_type, description : str
    n_rows : int
    columns : list of Column
        In ``colnames`` order, then category columns; ``id`` is not among them.
    problems : list of str
        Columns that could not be read, each as one sentence.
    """

    def __init__(self, group: h5py.Group) -> None:
        if not is_table_group(group):
            raise NdviewerError(
                f"{group.name} in {group.file.filename} is not a table: a DynamicTable needs a "
                "'colnames' attribute and an 'id' dataset."
            )
        self.group = group
        self.path = group.name
        self.name = group.name.rsplit("/", 1)[-1] or "/"
        self.neurodata_type = read_type_attrs(group.attrs)[0] or "DynamicTable"
        self.description = _attr_text(group.attrs, "description")
        self.problems: list[str] = []
        self._keys: OrderedDict[str, Keys] = OrderedDict()
        self._keys_lock = threading.Lock()
        #: Text keys being built ahead of need (:meth:`prepare_keys`), by column.
        self._builders: dict[str, TextKeyBuilder] = {}
        id_dataset = group["id"]
        self._ids = VectorReader(id_dataset)
        self.n_rows = len(self._ids)
        self.columns: list[Column] = []
        for colname in _colnames(group):
            self._add_column(group, colname, colname)
        categories = group.attrs.get("categories")
        if categories is not None:
            for category in np.atleast_1d(categories).tolist():
                category = decode_text(category) if isinstance(category, bytes | str) else None
                sub = group.get(category) if category else None
                if not is_table_group(sub):
                    self.problems.append(f"Category {category} of {self.path} is not a table.")
                    continue
                self._add_column(sub, "id", f"{category}/id")
                for colname in _colnames(sub):
                    self._add_column(sub, colname, f"{category}/{colname}")
        self._by_name = {column.name: column for column in self.columns}

    @classmethod
    def from_node(cls, node: Any) -> Table:
        """The table for a ``Node`` of the file tree."""
        obj = node.h5obj()
        if not isinstance(obj, h5py.Group):
            raise NdviewerError(f"{node.path} in {node.file.path} is not a table group.")
        return cls(obj)

    @classmethod
    def from_path(cls, file: OpenFile, path: str) -> Table:
        """The table at ``path`` of an open file (links are followed).

        Raises ``NdviewerError`` when nothing is there or it is not a DynamicTable.
        """
        obj = file.h5.get(path)
        if obj is None:
            raise NdviewerError(f"{path} does not exist in {file.h5.filename}.")
        return cls(obj)

    def _add_column(self, group: h5py.Group, dataset_name: str, name: str) -> None:
        if dataset_name not in group:
            self.problems.append(
                f"Column {name} of {self.path} is listed in colnames but has no dataset."
            )
            return
        try:
            column = Column(group, dataset_name, name)
        except (NdviewerError, OSError, KeyError, ValueError, TypeError) as exc:
            self.problems.append(f"Column {name} of {self.path} cannot be read: {exc}")
            return
        if column.n_rows != self.n_rows:
            self.problems.append(
                f"Column {name} of {self.path} has {column.n_rows} rows but the table has "
                f"{self.n_rows}; missing cells are shown empty."
            )
        self.columns.append(column)

    def __repr__(self) -> str:
        return f"Table({self.path!r}, {self.n_rows} rows, {len(self.columns)} columns)"

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def column(self, name: str) -> Column:
        try:
            return self._by_name[name]
        except KeyError:
            raise NdviewerError(f"Table {self.path} has no column named {name}.") from None

    def ids(self, rows: Sequence[int] | np.ndarray | slice | None = None) -> np.ndarray:
        selected = as_rows(rows, self.n_rows, f"table {self.path}")
        return self._ids.take(selected)

    def read_block(
        self,
        rows: Sequence[int] | np.ndarray | slice,
        columns: Sequence[str] | None = None,
        preview_items: int = PREVIEW_ITEMS,
    ) -> RowBlock:
        """Cells of ``rows`` for display: plain values, and previews of ragged cells.

        Rows a column does not have (a damaged, short column) come back as None.
        """
        selected = as_rows(rows, self.n_rows, f"table {self.path}")
        names = self.column_names if columns is None else list(columns)
        cells: dict[str, Sequence[Any]] = {}
        for name in names:
            column = self.column(name)
            present = selected < column.n_rows
            values: list[Any] = [None] * selected.size
            wanted = selected[present]
            if wanted.size:
                if column.is_ragged:
                    got: Sequence[Any] = column.previews(wanted, preview_items)
                else:
                    got = column.read(wanted)
                for slot, value in zip(np.flatnonzero(present).tolist(), got, strict=True):
                    values[slot] = value
            cells[name] = values
        return RowBlock(selected, self.ids(selected), cells)

    def sort_keys(self, name: str, step: Callable[[float], None] | None = None) -> np.ndarray:
        """Sort/filter keys of column ``name`` (``"id"`` for the row ids) as one array: text
        as UTF-8 bytes. For large tables :meth:`keys` is leaner (text stays encoded)."""
        keys = self.keys(name, step)
        return keys.values() if isinstance(keys, TextKeys) else keys

    def keys(self, name: str, step: Callable[[float], None] | None = None) -> Keys:
        """Sort/filter keys of column ``name`` (``"id"`` for the row ids): an array, or
        :class:`TextKeys` for text.

        The last few key arrays are kept (at most :data:`CACHED_KEY_COLUMNS` of them and
        :data:`CACHED_KEY_BYTES` together), so sorting and then filtering the same column of
        10^7 rows reads it once. ``step(fraction done)`` is called while reading.
        """
        with self._keys_lock:
            cached = self._keys.get(name)
            if cached is not None:
                self._keys.move_to_end(name)
                return cached
            builder = self._builders.get(name)
            if builder is None and name in self._by_name:
                # text is built through a builder others can see: a background build of the
                # same keys then waits rather than doing it twice
                builder = self._by_name[name].text_key_builder()
                if builder is not None:
                    builder.wanted = True
                    self._builders[name] = builder
        if builder is not None:  # maybe begun in the background: take it over
            keys = self._take_over(name, builder, step)
            if keys is not None:
                return keys
        keys = self._read_sort_keys(name, step)
        self._store_keys(name, keys)
        return keys

    def _take_over(
        self, name: str, builder: TextKeyBuilder, step: Callable[[float], None] | None
    ) -> Keys | None:
        """Finish ``builder``'s keys here (None: it was given up; read them afresh)."""
        builder.wanted = True  # the background run stops at its next block
        try:
            while not builder.lock.acquire(timeout=0.05):
                if step is not None:
                    step(builder.fraction)  # may raise to stop
        except BaseException:
            builder.wanted = False
            raise
        try:
            with self._keys_lock:
                cached = self._keys.get(name)
                if self._builders.get(name) is not builder:  # finished or given up meanwhile
                    return cached
            try:
                keys = builder.run(step)
            finally:
                with self._keys_lock:  # done, or stopped half-way: not resumed (memory)
                    self._builders.pop(name, None)
        finally:
            builder.lock.release()
        assert keys is not None
        keys = self._padded(keys)
        self._store_keys(name, keys)
        return keys

    def prepare_keys(self, name: str, stop: Callable[[], bool], max_bytes: int) -> bool:
        """Build the keys of text column ``name`` ahead of need, if they dictionary-encode in
        at most ``max_bytes``; True once they are kept.

        Meant for a background thread of low priority: stops between blocks when ``stop()``
        says so (then goes on where it stopped when called again) or when a sort or filter
        asks for these keys (which then finishes them itself). Kept behind every other key
        array (the first to go when the cache is full). Fails silently: the sort or filter
        that needs the keys reads them and reports what goes wrong.
        """
        with self._keys_lock:
            if name in self._keys:
                return True
            builder = self._builders.get(name)
            if builder is None:
                builder = self.column(name).text_key_builder() if name in self._by_name else None
                if builder is None or 2 * self.n_rows > max_bytes:
                    return False
                self._builders[name] = builder
        if not builder.lock.acquire(blocking=False):
            return False
        try:
            if builder.wanted:
                return False

            def enough() -> bool:
                return stop() or builder.wanted or builder.nbytes > max_bytes

            try:
                keys = builder.run(stop=enough, encoded_only=True, background=True)
            except Exception:  # noqa: BLE001 - the sort or filter reports it
                keys = None
                builder.failed = True
            if keys is None and not builder.failed and builder.nbytes <= max_bytes:
                return False  # stopped: resumed later (or taken over)
            with self._keys_lock:
                self._builders.pop(name, None)
            if keys is None:
                return False
            keys = self._padded(keys)
            self._store_keys(name, keys, last=True)
            return True
        finally:
            builder.lock.release()

    def _store_keys(self, name: str, keys: Keys, last: bool = False) -> None:
        """Keep ``keys`` in the cache, newest first (``last``: oldest, the first to go)."""
        for array in (keys.uniques, keys.codes) if isinstance(keys, TextKeys) else (keys,):
            array.setflags(write=False)
        with self._keys_lock:
            self._keys[name] = keys
            if last:
                self._keys.move_to_end(name, last=False)
            while len(self._keys) > 1 and (
                len(self._keys) > CACHED_KEY_COLUMNS
                or sum(k.nbytes for k in self._keys.values()) > CACHED_KEY_BYTES
            ):
                self._keys.popitem(last=False)

    def _read_sort_keys(self, name: str, step: Callable[[float], None] | None) -> Keys:
        if name == "id":
            return self._ids.read(0, self.n_rows)
        return self._padded(self.column(name).sort_keys(step))

    def _padded(self, keys: Keys) -> Keys:
        """``keys`` of a column, to the table's length (missing cells of a short column sort
        last as NaN, or first as empty text)."""
        if isinstance(keys, TextKeys):
            return keys.padded(self.n_rows)
        if len(keys) < self.n_rows:  # short column: missing cells sort last
            fill = {"U": "", "S": b""}.get(keys.dtype.kind, np.nan)
            keys = np.concatenate(
                [
                    keys.astype(float if fill is np.nan else keys.dtype),
                    np.full(self.n_rows - len(keys), fill),
                ]
            )
        return keys[: self.n_rows]
