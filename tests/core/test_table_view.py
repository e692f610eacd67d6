"""Sorting, filtering and cell text of tables (what the table view does), on the same
pynwb-written fixture file as the table reader's tests."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from ndviewer.core.errors import NdviewerError
from ndviewer.core.nwb.table_view import (
    filter_mask,
    filter_rows,
    order_by_keys,
    preview_text,
    sort_order,
    table_tsv,
)
from ndviewer.core.nwb.tables import Table
from tests.core.tables_fixtures import UNIT_SPIKES, write_tables_file


@pytest.fixture(scope="module")
def tables_file(tmp_path_factory):
    return write_tables_file(tmp_path_factory.mktemp("table_view") / "tables.nwb")


@pytest.fixture(scope="module")
def h5(tables_file):
    with h5py.File(tables_file, "r") as handle:
        yield handle


def test_sort_order_is_stable_with_nan_last(h5):
    units = Table(h5["/units"])
    assert sort_order(units, "depth").tolist() == [1, 0, 3, 2]
    assert sort_order(units, "depth", descending=True).tolist() == [3, 0, 1, 2]
    assert sort_order(units, "spike_times", descending=True).tolist() == [1, 3, 0, 2]
    assert sort_order(units, "quality").tolist() == [0, 3, 1, 2]  # ties keep table order
    assert sort_order(units, "quality", descending=True).tolist() == [2, 1, 0, 3]
    assert sort_order(units, "id", descending=True).tolist() == [3, 2, 1, 0]
    awkward = Table(h5["/processing/analysis/awkward"])
    keys = awkward.sort_keys("cell_type")
    expected = np.array(["pyramidal", "interneuron", "unknown"])[np.arange(300) % 3]
    np.testing.assert_array_equal(keys, expected)
    assert sort_order(awkward, "cell_type")[:3].tolist() == [1, 4, 7]
    with pytest.raises(NdviewerError, match="position"):
        sort_order(awkward, "position")


def test_order_by_keys_matches_numpy():
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 5, 200).astype(float)
    keys[::17] = np.nan
    ascending = order_by_keys(keys)
    valid = ~np.isnan(keys)
    np.testing.assert_array_equal(
        ascending[: valid.sum()], np.flatnonzero(valid)[np.argsort(keys[valid], kind="stable")]
    )
    descending = order_by_keys(keys, descending=True)
    ordered = keys[descending[: valid.sum()]]
    assert np.all(np.diff(ordered) <= 0)
    for value in np.unique(keys[valid]):  # ties in ascending row order
        rows = descending[: valid.sum()][ordered == value]
        assert np.all(np.diff(rows) > 0)
    assert np.isnan(keys[descending[valid.sum() :]]).all()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", [3]),
        ("> 3", [4, 5]),
        (">=3", [3, 4, 5]),
        ("<1", [0]),
        ("<= 1", [0, 1]),
        ("!= 2", [0, 1, 3, 4, 5]),
        ("2..4", [2, 3, 4]),
        ("4 .. 2", [2, 3, 4]),
        ("= 5", [5]),
    ],
)
def test_numeric_filters(text, expected):
    keys = np.arange(6)
    assert np.flatnonzero(filter_mask(keys, text)).tolist() == expected


def test_text_filters():
    keys = np.array(["Good", "mua", "noise", "good-ish"])
    assert np.flatnonzero(filter_mask(keys, "good")).tolist() == [0, 3]
    assert np.flatnonzero(filter_mask(keys, "=good-ish")).tolist() == [3]
    assert np.flatnonzero(filter_mask(keys, "!good")).tolist() == [1, 2]
    with pytest.raises(NdviewerError, match="needs a number"):
        filter_mask(np.arange(3), "> abc")


def test_filter_rows_combines_columns(h5):
    awkward = Table(h5["/processing/analysis/awkward"])
    rows = filter_rows(awkward, {"cell_type": "inter", "ragged_numbers": ">= 3", "flag": "true"})
    i = np.arange(300)
    expected = np.flatnonzero((i % 3 == 1) & (i % 5 >= 3) & (i % 4 == 0))
    np.testing.assert_array_equal(rows, expected)
    subset = filter_rows(awkward, {"cell_type": "inter"}, rows=np.array([10, 4, 5]))
    assert subset.tolist() == [10, 4]
    units = Table(h5["/units"])
    assert filter_rows(units, {"depth": "nan"}).tolist() == [2]


def test_preview_text_of_doubly_ragged_cell(h5):
    units = Table(h5["/units"])
    waveforms = units.column("waveforms")
    text = preview_text(waveforms, waveforms.read([1])[0])
    lines = text.splitlines()
    assert lines[0] == "[2 items]"
    assert lines[1] == "  [2 items]"  # first spike: 2 electrodes
    assert lines[2] == "    [1, 1, 1, 1, 1]"
    assert len(lines) == 1 + (1 + 2) + (1 + 2)
    truncated = preview_text(
        units.column("spike_times"), units.column("spike_times").read([1])[0], max_items=10
    )
    assert truncated.splitlines()[-1] == "… (first 10 lines shown)"


def test_table_tsv_has_whole_cells_at_full_precision(h5):
    units = Table(h5["/units"])
    text = table_tsv(units, [1, 2], ["id", "quality", "depth", "electrodes", "spike_times"])
    lines = text.splitlines()
    assert lines[0] == "id\tquality\tdepth\telectrodes\tspike_times"
    cells = lines[1].split("\t")
    assert cells[:4] == ["1", "mua", "80.5", "[1, 2]"]
    assert [float(v) for v in cells[4].strip("[]").split(", ")] == UNIT_SPIKES[1].tolist()
    assert lines[2].split("\t")[2:] == ["nan", "[3]", "[]"]
    electrodes = Table(h5["/general/extracellular_ephys/electrodes"])
    assert table_tsv(electrodes, [3], ["group", "label"]).splitlines()[1] == (
        "/general/extracellular_ephys/shank1\te3"
    )


TEXTS = [
    "Good",
    "mua",
    "Ünit-ß noise",
    "x" * 40 + "GOOD",  # longer than the first fixed width tried
    "y" * 200,  # wider again
    "",
    "good-ish",
    "İstanbul",  # lowers to two code points: decoded, not byte-wise
]


@pytest.fixture(scope="module")
def text_table_file(tmp_path_factory):
    """A DynamicTable with a variable-length UTF-8 text column, written by pynwb."""
    import datetime

    from hdmf.common import DynamicTable
    from pynwb import NWBHDF5IO, NWBFile

    nwb = NWBFile("text", "text-1", datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))
    table = DynamicTable(name="notes", description="free text")
    table.add_column("note", "some text")
    for k in range(300):
        table.add_row(note=TEXTS[k % len(TEXTS)])
    nwb.create_processing_module("text", "text tables").add(table)
    path = tmp_path_factory.mktemp("text_table") / "text.nwb"
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


@pytest.mark.parametrize("block", [1 << 18, 7])
def test_text_keys_are_utf8_bytes_read_in_blocks(text_table_file, monkeypatch, block):
    from ndviewer.core.nwb import table_view, tables

    monkeypatch.setattr(tables, "KEY_BLOCK_ROWS", block)
    monkeypatch.setattr(table_view, "KEY_BLOCK_ROWS", block)
    expected = [TEXTS[k % len(TEXTS)] for k in range(300)]
    with h5py.File(text_table_file, "r") as h5:
        table = Table(h5["/processing/text/notes"])
        fractions: list[float] = []
        keys = table.sort_keys("note", fractions.append)
        assert keys.dtype.kind == "S"
        assert [k.decode("utf-8") for k in keys] == expected
        assert fractions and fractions[-1] == 1.0 and fractions == sorted(fractions)
        # code point order, ties in table order
        order = sort_order(table, "note").tolist()
        assert order == sorted(range(300), key=lambda r: (expected[r], r))
        for text in ("good", "ü", "!good", "=mua", "İST", "istanbul", "GOOD"):
            got = filter_rows(table, {"note": text}).tolist()
            reference = np.flatnonzero(filter_mask(np.array(expected), text)).tolist()
            assert got == reference, text
        assert filter_rows(table, {"note": "ü"}).tolist() == list(range(2, 300, len(TEXTS)))


def test_filter_stops_when_its_step_raises(text_table_file, monkeypatch):
    from ndviewer.core.nwb import table_view, tables

    monkeypatch.setattr(tables, "KEY_BLOCK_ROWS", 10)
    monkeypatch.setattr(table_view, "KEY_BLOCK_ROWS", 10)
    calls: list[float] = []

    class Stop(Exception):
        pass

    def step(fraction: float) -> None:
        calls.append(fraction)
        if len(calls) == 3:
            raise Stop

    with h5py.File(text_table_file, "r") as h5:
        table = Table(h5["/processing/text/notes"])
        with pytest.raises(Stop):
            filter_rows(table, {"note": "good"}, step=step)
    assert len(calls) == 3  # stopped after the third of 30 blocks


def test_key_cache_is_bounded_by_bytes(h5, monkeypatch):
    from ndviewer.core.nwb import tables

    units = Table(h5["/units"])
    first = units.sort_keys("id")
    monkeypatch.setattr(tables, "CACHED_KEY_BYTES", first.nbytes)
    units.sort_keys("depth")
    assert list(units._keys) == ["depth"]  # the older keys went, the newest stays


@pytest.mark.parametrize("descending", [False, True])
def test_two_thread_sort_is_the_stable_sort(monkeypatch, descending):
    from ndviewer.core.nwb import table_view

    monkeypatch.setattr(table_view, "PARALLEL_SORT_KEYS", 10)
    rng = np.random.default_rng(3)
    for keys in (
        rng.integers(0, 7, 1001).astype(float),  # many ties
        rng.normal(size=1000),
        np.array([f"k{v}".encode() for v in rng.integers(0, 30, 777)]),
    ):
        got = order_by_keys(keys, descending)
        if descending:  # ties in ascending row order
            expected = np.lexsort((np.arange(len(keys)), _desc_key(keys)))
        else:
            expected = np.argsort(keys, kind="stable")
        np.testing.assert_array_equal(got, expected)


def _desc_key(keys):
    """A key whose ascending order is ``keys`` descending (ties left to the row number)."""
    _, inverse = np.unique(keys, return_inverse=True)
    return -inverse


@pytest.mark.parametrize("slice_rows", [1, 5, 64, 1 << 20])
def test_descending_sort_reverses_runs_of_ties_slice_by_slice(monkeypatch, slice_rows):
    from ndviewer.core.nwb import table_view

    monkeypatch.setattr(table_view, "PARALLEL_SORT_KEYS", 10)
    monkeypatch.setattr(table_view, "REVERSE_SLICE", slice_rows)
    rng = np.random.default_rng(4)
    for keys in (
        rng.integers(0, 3, 500),  # runs far longer than the slices
        np.repeat([5.0, 1.0, 3.0], [1, 200, 40]),
        rng.normal(size=300),  # no ties
        np.zeros(50),  # one run
        np.array([f"k{v}".encode() for v in rng.integers(0, 9, 333)]),
    ):
        expected = np.lexsort((np.arange(len(keys)), _desc_key(keys)))
        np.testing.assert_array_equal(order_by_keys(keys, descending=True), expected)


@pytest.mark.parametrize("descending", [False, True])
def test_packed_sort_is_the_stable_sort(monkeypatch, descending):
    """Numbers sorted as packed (key, row) words give numpy's stable order, ties in row
    order both ways, also where shortened keys collide (a crowded cluster among wide keys)."""
    from ndviewer.core.nwb import table_view

    monkeypatch.setattr(table_view, "PACKED_SORT_KEYS", 10)
    monkeypatch.setattr(table_view, "KEY_BLOCK_ROWS", 1000)  # several blocks
    rng = np.random.default_rng(7)
    cluster = 1.0 + rng.integers(0, 300, 3000) * 2.0**-52  # differ in the last bits only
    crowded = np.concatenate([rng.normal(size=3000) * 1e300, cluster])[rng.permutation(6000)]
    cases = [
        rng.normal(size=5000),
        rng.integers(0, 7, 5001).astype(float),  # many ties
        rng.integers(-5, 5, 4000),
        rng.integers(-(2**62), 2**62, 3000),  # int64 wider than key + row bits
        rng.integers(0, 2**63, 3000, dtype=np.uint64),
        rng.normal(size=3000).astype(np.float32),
        np.concatenate([rng.normal(size=2000), np.zeros(50), -np.zeros(50), [np.inf, -np.inf]]),
        crowded,
    ]
    seen_collisions = []
    fix = table_view._put_collisions_right
    monkeypatch.setattr(
        table_view,
        "_put_collisions_right",
        lambda *args: seen_collisions.append(args[2].size) or fix(*args),
    )
    for keys in cases:
        got = order_by_keys(keys, descending)
        if descending:
            expected = np.lexsort((np.arange(len(keys)), _desc_key(keys)))
        else:
            expected = np.argsort(keys, kind="stable")
        np.testing.assert_array_equal(got, expected)
    assert max(seen_collisions) > 1000  # the crowded cluster went through the fix
