"""Dictionary-encoded text keys (``TextKeys``) give the same sorts and filters as plain keys.

The reference is the straightforward way: every string of the column decoded with pynwb's
own reader, filtered with :func:`filter_mask` over the whole column at once (the old
behaviour) and with plain Python string tests, sorted with ``sorted``. The table is written
by pynwb, with non-ASCII text, empty strings and a column whose values are all different.
"""

from __future__ import annotations

import datetime

import h5py
import numpy as np
import pytest

from ndviewer.core.nwb import table_view, tables
from ndviewer.core.nwb.table_view import filter_mask, filter_rows, sort_order
from ndviewer.core.nwb.tables import Table, TextKeys
from ndviewer.core.nwb.vectors import read_text_bytes

N_ROWS = 2000
LABELS = [
    "Good",
    "good",
    "GOOD-ish",
    "",
    "Ünit-ß noise",
    "ünit",
    "İstanbul",  # lowers to two code points
    "x" * 40 + "Good",  # wider than the first width tried
    "日本語ラベル",
    "naïve cell",
    "mua",
    "y" * 300,  # wider again
]
FILTERS = [
    "good",
    "GOOD",
    "ünit",
    "ÜNIT",
    "ß",
    "istanbul",
    "İST",
    "日本",
    "=good",
    "=Good",
    "==mua",
    "!good",
    "!=mua",
    "!ü",
    "cell",
    "-1",
    "row-1999",
    "=",  # exact match of the empty string
    "zzz",
]


def _label(k: int) -> str:
    return LABELS[(k * 7 + k // 13) % len(LABELS)]


def _unique(k: int) -> str:
    return f"row-{k}-{'é' if k % 3 == 0 else 'e'}"


def _mixed(k: int) -> str:
    """Mostly repeated values, then all different ones: starts encoded, ends plain."""
    return f"v{k % 5}" if k < N_ROWS // 2 else f"w{k}"


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    from hdmf.common import DynamicTable
    from pynwb import NWBHDF5IO, NWBFile

    nwb = NWBFile("text keys", "text-keys", datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))
    table = DynamicTable(name="notes", description="text columns")
    table.add_column("label", "few distinct values")
    table.add_column("unique", "all values different")
    table.add_column("mixed", "repeated, then all different")
    for k in range(N_ROWS):
        table.add_row(label=_label(k), unique=_unique(k), mixed=_mixed(k))
    nwb.create_processing_module("text", "text tables").add(table)
    path = tmp_path_factory.mktemp("text_keys") / "text.nwb"
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 97 rows, so that the dictionary grows across many blocks, and "mostly
    different" from 50 distinct strings on (instead of 65 536)."""
    monkeypatch.setattr(tables, "TEXT_UNIQUE_MIN", 50)
    monkeypatch.setattr(tables, "KEY_BLOCK_ROWS", 97)
    monkeypatch.setattr(table_view, "KEY_BLOCK_ROWS", 97)


def _reference_values(path, name: str) -> list[str]:
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(path), "r") as io:
        column = io.read().processing["text"]["notes"][name]
        return [str(v) for v in column.data[:]]


def _python_filter(values: list[str], text: str) -> list[int]:
    """What the filter syntax means, in plain Python (case-insensitive ``in``)."""
    text = text.strip()
    if text.startswith("!="):
        return [r for r, v in enumerate(values) if v != text[2:].strip()]
    if text.startswith("=="):
        return [r for r, v in enumerate(values) if v == text[2:].strip()]
    if text.startswith("="):
        return [r for r, v in enumerate(values) if v == text[1:].strip()]
    if text.startswith("!") and len(text) > 1:
        return [r for r, v in enumerate(values) if text[1:].lower() not in v.lower()]
    return [r for r, v in enumerate(values) if text.lower() in v.lower()]


@pytest.mark.parametrize("name", ["label", "unique", "mixed"])
def test_sorts_and_filters_match_the_reference(text_file, small_blocks, name):
    values = _reference_values(text_file, name)
    plain = np.array([v.encode("utf-8") for v in values])
    with h5py.File(text_file, "r") as h5:
        table = Table(h5["/processing/text/notes"])
        keys = table.keys(name)
        if name == "label":  # few distinct values: encoded, each once
            assert isinstance(keys, TextKeys)
            assert sorted(keys.uniques.tolist()) == keys.uniques.tolist()
            assert len(keys.uniques) == len(set(values))
            assert keys.codes.dtype == np.uint16
        else:  # mostly different: plain bytes keys
            assert isinstance(keys, np.ndarray) and keys.dtype.kind == "S"
        assert [k.decode("utf-8") for k in table.sort_keys(name)] == values
        for descending in (False, True):
            got = sort_order(table, name, descending).tolist()
            # code point order (= UTF-8 byte order), ties in ascending row order
            expected = sorted(
                range(N_ROWS),
                key=lambda r: (plain[r], r),
                reverse=False,
            )
            if descending:
                ranks = {v: i for i, v in enumerate(sorted(set(plain.tolist())))}
                expected = sorted(range(N_ROWS), key=lambda r: (-ranks[plain[r]], r))
            assert got == expected, (name, descending)
        subset = np.array([1500, 3, 77, 1999, 0, 640])
        got = sort_order(table, name, rows=subset).tolist()
        assert got == sorted(subset.tolist(), key=lambda r: (plain[r], r))
        for text in FILTERS:
            got = filter_rows(table, {name: text}).tolist()
            old = np.flatnonzero(filter_mask(plain, text)).tolist()  # the old behaviour
            assert got == old, (name, text)
            if text not in ("İST", "istanbul"):  # numpy lowers İ as Python does not
                assert got == _python_filter(values, text), (name, text)
            within = filter_rows(table, {name: text}, rows=subset).tolist()
            assert within == [r for r in subset.tolist() if r in set(old)]


def test_label_filter_finds_what_it_should(text_file):
    values = _reference_values(text_file, "label")
    with h5py.File(text_file, "r") as h5:
        table = Table(h5["/processing/text/notes"])
        rows = filter_rows(table, {"label": "GOOD"}).tolist()
        assert {values[r] for r in rows} == {"Good", "good", "GOOD-ish", "x" * 40 + "Good"}
        rows = filter_rows(table, {"label": "ünit"}).tolist()
        assert {values[r] for r in rows} == {"Ünit-ß noise", "ünit"}
        rows = filter_rows(table, {"label": "="}).tolist()
        assert rows and {values[r] for r in rows} == {""}
        both = filter_rows(table, {"label": "good", "unique": "é"}).tolist()
        assert both == [
            r for r in range(N_ROWS) if "good" in values[r].lower() and _unique(r).endswith("é")
        ]


def test_too_many_distinct_strings_fall_back_to_plain_keys(text_file, small_blocks, monkeypatch):
    monkeypatch.setattr(tables, "TEXT_UNIQUE_BYTES", 64)  # the labels no longer fit
    values = _reference_values(text_file, "label")
    with h5py.File(text_file, "r") as h5:
        table = Table(h5["/processing/text/notes"])
        keys = table.keys("label")
        assert isinstance(keys, np.ndarray)
        assert [k.decode("utf-8") for k in keys] == values


def test_hash_collisions_fall_back_to_plain_keys(text_file, small_blocks, monkeypatch):
    # every string longer than 8 bytes hashes alike: the check of codes against strings
    # must notice and keep plain keys
    monkeypatch.setattr(
        tables, "_hash_bytes", lambda block: np.full(len(block), 7, dtype=np.uint64)
    )
    values = _reference_values(text_file, "label")
    with h5py.File(text_file, "r") as h5:
        table = Table(h5["/processing/text/notes"])
        keys = table.keys("label")
        assert isinstance(keys, np.ndarray)
        assert [k.decode("utf-8") for k in keys] == values
        expected = np.flatnonzero(filter_mask(keys, "good")).tolist()
        assert filter_rows(table, {"label": "good"}).tolist() == expected


def test_hash_does_not_depend_on_the_block_width():
    narrow = np.array([b"Good", b"cell-42", b"longer than eight"])
    wide = narrow.astype("S40")
    np.testing.assert_array_equal(tables._hash_bytes(narrow), tables._hash_bytes(wide))
    assert len(set(tables._hash_bytes(narrow).tolist())) == 3


def test_short_text_column_pads_with_empty_strings():
    keys = TextKeys(np.array([b"a", b"b"]), np.array([1, 0, 1], dtype=np.uint16))
    padded = keys.padded(5)
    assert padded.values().tolist() == [b"b", b"a", b"b", b"", b""]
    assert padded.uniques.tolist() == [b"", b"a", b"b"]
    again = padded.padded(6)  # b"" already there: no second one
    assert again.uniques.tolist() == [b"", b"a", b"b"]
    assert again.values().tolist()[-1] == b""


def test_text_reads_match_h5py_and_free_their_strings(text_file):
    """The direct H5Dread path gives what h5py gives, and does not leak the C strings."""
    import os

    with h5py.File(text_file, "r") as h5:
        dataset = h5["/processing/text/notes/label"]
        expected = [v.encode("utf-8") for v in dataset.asstr()[:]]
        assert read_text_bytes(dataset, 0, N_ROWS).tolist() == expected
        assert read_text_bytes(dataset, 5, 9).tolist() == expected[5:9]
        assert read_text_bytes(dataset, 10, 10).size == 0
        if not os.path.exists("/proc/self/statm"):
            return

        def resident() -> int:
            with open("/proc/self/statm") as statm:
                return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

        for _ in range(3):  # warm up allocator and HDF5 caches
            read_text_bytes(dataset, 0, N_ROWS)
        before = resident()
        for _ in range(200):  # 400 000 strings: ~12 MB if each leaked 30 bytes
            read_text_bytes(dataset, 0, N_ROWS)
        assert resident() - before < 4 * 1024 * 1024


def test_codes_widen_past_65536_distinct_strings():
    values = np.array([f"s{k % 70_000}".encode() for k in range(300_000)])
    dictionary = tables._TextDictionary(len(values))
    for lo in range(0, len(values), 150_000):
        assert dictionary.add(values[lo : lo + 150_000])
    keys = dictionary.keys()
    assert keys.codes.dtype == np.int32 and len(keys.uniques) == 70_000
    np.testing.assert_array_equal(keys.values(), values)
    assert keys.uniques.tolist() == sorted(keys.uniques.tolist())


def test_long_string_hashing_like_a_known_short_one_is_caught(monkeypatch):
    """Only strings of up to 8 bytes hash exactly: a longer one found among them by its
    hash must still be checked against the string it was taken for."""
    short = np.array([b"ab", b"cd"])
    real = tables._hash_bytes

    def colliding(block):
        hashes = real(block)
        hashes[np.strings.str_len(block) > 8] = real(np.array([b"ab"]))[0]
        return hashes

    monkeypatch.setattr(tables, "_hash_bytes", colliding)
    dictionary = tables._TextDictionary(4)
    assert dictionary.add(short)
    assert not dictionary.add(np.array([b"a much longer label", b"cd"]))


@pytest.mark.parametrize("name", ["label", "unique"])
def test_scattered_text_cells_read_in_one_point_selection(text_file, monkeypatch, name):
    from ndviewer.core.nwb import vectors

    spans = vectors._spans
    monkeypatch.setattr(vectors, "_spans", lambda s, e: spans(s, e, gap=0))  # a span a row
    calls: list[int] = []
    real = vectors._read_vlen_fixed

    def counted(dataset, lo, hi, positions=None):
        calls.append(0 if positions is None else positions.size)
        return real(dataset, lo, hi, positions)

    monkeypatch.setattr(vectors, "_read_vlen_fixed", counted)
    values = _reference_values(text_file, name)
    rows = np.array([1999, 3, 640, 3, 77, 0, 1500, 12, 900, 41, 1001, 5])  # any order, repeats
    with h5py.File(text_file, "r") as h5:
        column = Table(h5["/processing/text/notes"]).column(name)
        got = column.read(rows)
    assert list(got) == [values[r] for r in rows]
    assert all(isinstance(v, str) for v in got)
    assert calls == [11]  # the 11 distinct rows, in one read


# -- keys built ahead of need (Table.prepare_keys) --------------------------------------------


def _count_reads(monkeypatch) -> list[tuple[int, int]]:
    reads: list[tuple[int, int]] = []
    read = tables.read_text_bytes

    def counted(dataset, lo, hi):
        reads.append((lo, hi))
        return read(dataset, lo, hi)

    monkeypatch.setattr(tables, "read_text_bytes", counted)
    return reads


def _same_keys(got, expected) -> None:
    assert type(got) is type(expected)
    if isinstance(expected, TextKeys):
        np.testing.assert_array_equal(got.uniques, expected.uniques)
        np.testing.assert_array_equal(got.codes, expected.codes)
    else:
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", ["label", "mixed"])
def test_keys_prepared_in_steps_are_the_keys(text_file, small_blocks, monkeypatch, name):
    """Stopped and resumed between blocks, the background build gives the keys a sort reads
    at once; each block is read once."""
    monkeypatch.setattr(tables, "BACKGROUND_BLOCK_ROWS", 101)
    with h5py.File(text_file, "r") as h5:
        expected = Table(h5["/processing/text/notes"]).keys(name)
        table = Table(h5["/processing/text/notes"])
        reads = _count_reads(monkeypatch)
        calls = []

        def stop() -> bool:  # stop after every third block
            calls.append(None)
            return len(calls) % 3 == 0

        rounds = 0
        while not table.prepare_keys(name, stop, 1 << 30):
            rounds += 1
            assert rounds < 100
            if name == "mixed" and name not in table._builders:
                break  # all different from the middle on: not encoded, given up
        if name == "mixed":
            assert name not in table._keys  # plain keys are left to a sort that needs them
            return
        assert rounds > 2
        assert sorted(reads) == [(lo, min(lo + 101, N_ROWS)) for lo in range(0, N_ROWS, 101)]
        _same_keys(table.keys(name), expected)
        assert len(reads) == len(range(0, N_ROWS, 101))  # kept: not read again


@pytest.mark.parametrize("name", ["label", "mixed"])
def test_a_sort_takes_over_keys_half_built(text_file, small_blocks, monkeypatch, name):
    monkeypatch.setattr(tables, "BACKGROUND_BLOCK_ROWS", 101)
    with h5py.File(text_file, "r") as h5:
        expected = Table(h5["/processing/text/notes"]).keys(name)
        table = Table(h5["/processing/text/notes"])
        reads = _count_reads(monkeypatch)
        calls = []
        assert not table.prepare_keys(name, lambda: calls.append(None) or len(calls) >= 4, 1 << 30)
        done = table._builders[name].done
        assert done == 4 * 101
        fractions = []
        _same_keys(table.keys(name, fractions.append), expected)
        assert name not in table._builders
        assert fractions[0] > done / N_ROWS * 0.99  # the progress starts where it was
        assert min(lo for lo, _ in reads[4:]) == done  # the rest, not again from the start
        assert table.prepare_keys(name, lambda: False, 1 << 30)  # kept: nothing to do


def test_prepared_keys_stay_within_their_bytes(text_file, small_blocks, monkeypatch):
    monkeypatch.setattr(tables, "BACKGROUND_BLOCK_ROWS", 101)
    with h5py.File(text_file, "r") as h5:
        table = Table(h5["/processing/text/notes"])
        assert not table.prepare_keys("label", lambda: False, 1000)  # 2 bytes a row: no
        assert not table.prepare_keys("label", lambda: False, 2 * N_ROWS + 100)  # the strings
        assert "label" not in table._builders and "label" not in table._keys
        assert not table.prepare_keys("id", lambda: False, 1 << 30)  # not text
        assert table.prepare_keys("label", lambda: False, 1 << 30)
        assert "label" in table._keys


def test_prepared_keys_are_the_first_to_leave_the_cache(text_file, monkeypatch):
    with h5py.File(text_file, "r") as h5:
        table = Table(h5["/processing/text/notes"])
        table.keys("id")
        assert table.prepare_keys("label", lambda: False, 1 << 30)
        assert list(table._keys) == ["label", "id"]
        monkeypatch.setattr(tables, "CACHED_KEY_COLUMNS", 2)
        table.keys("unique")
        assert list(table._keys) == ["id", "unique"]


def test_a_cancelled_wait_leaves_the_background_build_going(text_file, small_blocks, monkeypatch):
    monkeypatch.setattr(tables, "BACKGROUND_BLOCK_ROWS", 101)
    with h5py.File(text_file, "r") as h5:
        table = Table(h5["/processing/text/notes"])
        assert not table.prepare_keys("label", lambda: True, 1 << 30)
        builder = table._builders["label"]
        builder.lock.acquire()  # as if the background thread were reading a block

        def cancel(_fraction):
            raise RuntimeError("cancelled")

        with pytest.raises(RuntimeError, match="cancelled"):
            table.keys("label", cancel)
        assert not builder.wanted
        builder.lock.release()
        assert table.prepare_keys("label", lambda: False, 1 << 30)


def test_background_build_and_a_filter_at_once(text_file, small_blocks, monkeypatch):
    """A thread building the keys and a filter asking for them meanwhile: one build, the
    right rows."""
    import threading
    import time

    monkeypatch.setattr(tables, "BACKGROUND_BLOCK_ROWS", 7)
    values = _reference_values(text_file, "label")
    with h5py.File(text_file, "r") as h5:
        table = Table(h5["/processing/text/notes"])
        reads = _count_reads(monkeypatch)
        thread = threading.Thread(target=table.prepare_keys, args=("label", lambda: False, 1 << 30))
        thread.start()
        deadline = time.monotonic() + 10
        while not reads and time.monotonic() < deadline:
            time.sleep(0.0001)
        rows = filter_rows(table, {"label": "good"})
        thread.join()
        assert rows.tolist() == _python_filter(values, "good")
        covered = sorted(reads)
        assert covered[0][0] == 0 and covered[-1][1] == N_ROWS
        assert all(a[1] == b[0] for a, b in zip(covered, covered[1:], strict=False))  # once each
