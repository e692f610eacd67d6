"""The table reader against pynwb: every column of every table, cell by cell."""

from __future__ import annotations

from types import SimpleNamespace

import h5py
import numpy as np
import pytest

from ndviewer.core.errors import NdviewerError
from ndviewer.core.nwb import vectors
from ndviewer.core.nwb.table_view import format_cell, sort_order
from ndviewer.core.nwb.tables import JumpTarget, RaggedCell, Table
from tests.core.tables_fixtures import TABLE_PATHS, UNIT_SPIKES, write_tables_file


@pytest.fixture(scope="module")
def tables_file(tmp_path_factory):
    return write_tables_file(tmp_path_factory.mktemp("tables") / "tables.nwb")


@pytest.fixture(scope="module")
def h5(tables_file):
    with h5py.File(tables_file, "r") as handle:
        yield handle


@pytest.fixture(scope="module")
def pynwb_tables(tables_file):
    """pynwb's own DataFrame of every fixture table, keyed by HDF5 path (regions as indices)."""
    from pynwb import NWBHDF5IO

    with h5py.File(tables_file, "r") as handle:
        object_ids = {path: handle[path].attrs["object_id"] for path in TABLE_PATHS}
        container_ids = {}
        for path in TABLE_PATHS:
            for name in handle[path]:
                item = handle[path][name]
                if "object_id" in item.attrs:
                    container_ids[item.name] = item.attrs["object_id"]
    with NWBHDF5IO(str(tables_file), "r") as io:
        nwbfile = io.read()
        frames = {}
        for path, oid in object_ids.items():
            container = nwbfile.objects[oid]
            if hasattr(container, "category_tables"):  # AlignedDynamicTable has no index=
                frames[path] = container.to_dataframe(ignore_category_ids=False)
            else:
                frames[path] = container.to_dataframe(index=True)
                # index=True also turns enum labels into codes: take those from index=False
                for name in container.colnames:
                    if type(container[name]).__name__ == "EnumData":
                        frames[path][name] = container.to_dataframe()[name]
        yield frames


def _same(ours, theirs, h5file) -> bool:
    """Our decoded value equals pynwb's (containers are compared by object_id)."""
    from hdmf.container import AbstractContainer

    if isinstance(theirs, AbstractContainer):
        return bool(ours) and h5file[ours].attrs["object_id"] == theirs.object_id
    if isinstance(theirs, bytes | np.bytes_):
        theirs = bytes(theirs).decode()
    if isinstance(theirs, str):
        return ours == theirs
    if isinstance(theirs, np.void):
        theirs = tuple(theirs[name] for name in theirs.dtype.names)
    if isinstance(theirs, tuple | list | np.ndarray):
        ours_items = list(ours) if not isinstance(ours, np.ndarray) else list(ours)
        theirs_items = list(theirs)
        return len(ours_items) == len(theirs_items) and all(
            _same(a, b, h5file) for a, b in zip(ours_items, theirs_items, strict=True)
        )
    if isinstance(theirs, float | np.floating) and np.isnan(theirs):
        return isinstance(ours, float | np.floating) and np.isnan(ours)
    return ours == theirs and type(ours) is not str


def _pynwb_column(frame, name):
    if "/" in name:  # AlignedDynamicTable category column
        category, column = name.split("/", 1)
        return frame[(category, column)]
    if isinstance(frame.columns[0], tuple):
        return frame[(frame.columns[0][0], name)]
    return frame[name]


@pytest.mark.parametrize("path", TABLE_PATHS)
def test_every_column_matches_pynwb(path, h5, pynwb_tables):
    table = Table(h5[path])
    frame = pynwb_tables[path]
    assert table.problems == []
    assert table.n_rows == len(frame)
    assert table.ids().tolist() == frame.index.get_level_values(-1).tolist()
    expected_names = [
        name
        if not isinstance(name, tuple)
        else name[1]
        if name[0] == table.name
        else f"{name[0]}/{name[1]}"
        for name in frame.columns
    ]
    assert sorted(table.column_names) == sorted(expected_names)
    for column in table.columns:
        ours = column.read()
        theirs = _pynwb_column(frame, column.name).tolist()
        assert len(ours) == len(theirs), column.name
        for row, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert _same(a, b, h5), f"{path} {column.name} row {row}: {a!r} != {b!r}"


@pytest.mark.parametrize("path", TABLE_PATHS)
def test_scattered_rows_match_full_read(path, h5):
    """Reading rows out of order, with repeats, gives the same cells as reading them all."""
    table = Table(h5[path])
    rows = np.array([table.n_rows - 1, 0, table.n_rows // 2, 0], dtype=np.int64)
    for column in table.columns:
        full = column.read()
        picked = column.read(rows)
        for got, row in zip(picked, rows, strict=True):
            assert _equal_nested(got, full[row]), f"{column.name} row {row}"


def _equal_nested(a, b) -> bool:
    if isinstance(a, list | tuple) or (isinstance(a, np.ndarray) and a.dtype == object):
        return len(a) == len(b) and all(_equal_nested(x, y) for x, y in zip(a, b, strict=True))
    return bool(
        np.array_equal(np.asarray(a), np.asarray(b), equal_nan=np.asarray(a).dtype.kind == "f")
    )


def test_column_kinds_and_layout(h5):
    units = Table(h5["/units"])
    kinds = {c.name: (c.element_kind, c.ragged_depth) for c in units.columns}
    assert kinds == {
        "quality": ("string", 0),
        "depth": ("number", 0),
        "spike_times": ("number", 1),
        "obs_intervals": ("number", 1),
        "electrodes": ("region", 1),
        "waveform_mean": ("number", 0),
        "waveform_sd": ("number", 0),
        "waveforms": ("number", 2),
    }
    assert units.column("electrodes").target_table == "/general/extracellular_ephys/electrodes"
    assert units.column("waveform_mean").element_shape == (5, 2)
    awkward = Table(h5["/processing/analysis/awkward"])
    assert awkward.column("cell_type").element_kind == "enum"
    assert awkward.column("flag").element_kind == "bool"
    assert awkward.column("ascii_note").element_kind == "string"
    assert awkward.column("position").sortable is False
    assert awkward.column("ragged_numbers").sortable is True
    assert h5["/processing/analysis/awkward/ragged_numbers_index"].dtype == np.uint16
    trials = Table(h5["/intervals/trials"])
    assert h5["/intervals/trials/tags_index"].dtype == np.uint8
    assert trials.column("timeseries").is_link
    assert trials.column("timeseries").field_names == ("idx_start", "count", "timeseries")


def test_uint16_ragged_spike_times_are_exact(h5):
    column = Table(h5["/units"]).column("spike_times")
    assert column.counts().tolist() == [len(s) for s in UNIT_SPIKES]
    for got, expected in zip(column.read(), UNIT_SPIKES, strict=True):
        np.testing.assert_array_equal(got, expected)
    assert column.counts([3, 1]).tolist() == [6, 400]


def test_read_block_previews_ragged_cells(h5):
    table = Table(h5["/units"])
    block = table.read_block([1, 3], preview_items=3)
    assert block.rows.tolist() == [1, 3]
    assert block.ids.tolist() == [1, 3]
    spikes = block.cells["spike_times"]
    assert isinstance(spikes[0], RaggedCell)
    assert spikes[0].count == 400 and spikes[0].truncated
    np.testing.assert_array_equal(spikes[0].head, UNIT_SPIKES[1][:3])
    assert spikes[1].count == 6
    assert block.cells["waveforms"][0] == RaggedCell(2, None)  # doubly ragged: count only
    assert block.cells["quality"] == ["mua", "good"]
    assert format_cell(table.column("spike_times"), spikes[1]) == "6 items: 4, 4.001, 4.0015, …"
    electrodes = block.cells["electrodes"][0]
    assert format_cell(table.column("electrodes"), electrodes) == (
        "2 items: electrodes[1], electrodes[2]"
    )


def test_uint8_index_preview_does_not_wrap(h5):
    """Offsets near 255 in a uint8 index must not wrap when the preview end is computed."""
    trials = Table(h5["/intervals/trials"])
    cells = trials.column("tags").previews(np.array([4, 3, 0]), n_items=200)
    assert [c.count for c in cells] == [4, 3, 0]
    assert [list(c.head) for c in cells] == [["t0", "t1", "t2", "t3"], ["t0", "t1", "t2"], []]


def test_jump_targets(h5):
    units = Table(h5["/units"])
    electrodes = units.column("electrodes")
    assert electrodes.jump_targets(electrodes.read([0])[0]) == [
        JumpTarget("/general/extracellular_ephys/electrodes", 0),
        JumpTarget("/general/extracellular_ephys/electrodes", 1),
    ]
    electrode_table = Table(h5["/general/extracellular_ephys/electrodes"])
    group = electrode_table.column("group")
    assert group.read([4]).tolist() == ["/general/extracellular_ephys/shank1"]
    assert group.jump_targets("/general/extracellular_ephys/shank1") == [
        JumpTarget("/general/extracellular_ephys/shank1")
    ]
    trials = Table(h5["/intervals/trials"])
    series = trials.column("timeseries")
    assert series.jump_targets(series.read([2])[0]) == [JumpTarget("/acquisition/lfp_like")]
    lab = Table(h5["/processing/analysis/lab_trials"])
    assert lab.column("region").jump_targets(lab.column("region").read([2])[0]) == [
        JumpTarget("/intervals/trials", 2)
    ]
    assert Table(h5["/processing/analysis/awkward"]).column("flag").jump_targets(True) == []


def test_errors_name_the_table(h5):
    with pytest.raises(NdviewerError, match="/units"):
        Table(h5["/units"]).read_block([4])
    with pytest.raises(NdviewerError, match="not a table"):
        Table(h5["/acquisition"])
    with pytest.raises(NdviewerError, match="no column named nope"):
        Table(h5["/units"]).column("nope")


def test_table_from_path(h5):
    file = SimpleNamespace(h5=h5)  # what the helper needs of an open file
    trials = Table.from_path(file, "/intervals/trials")
    assert trials.path == "/intervals/trials" and trials.n_rows == 5
    assert trials.column("start_time").read().tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]
    with pytest.raises(NdviewerError, match="/intervals/nothing does not exist"):
        Table.from_path(file, "/intervals/nothing")
    with pytest.raises(NdviewerError, match="/acquisition/lfp_like in .* is not a table"):
        Table.from_path(file, "/acquisition/lfp_like")


def test_damaged_tables_report_problems(tmp_path):
    path = tmp_path / "damaged.h5"
    with h5py.File(path, "w") as f:
        group = f.create_group("t")
        group.attrs["colnames"] = np.array(["a", "missing", "short"], dtype=object)
        group.create_dataset("id", data=np.arange(4))
        group.create_dataset("a", data=np.arange(4) * 2)
        group.create_dataset("short", data=np.array([1.5, 2.5]))
    with h5py.File(path, "r") as f:
        table = Table(f["t"])
        assert table.column_names == ["a", "short"]
        assert len(table.problems) == 2
        assert "missing" in table.problems[0] and "no dataset" in table.problems[0]
        assert "2 rows" in table.problems[1]
        block = table.read_block(slice(0, 4))
        assert block.cells["short"] == [1.5, 2.5, None, None]
        assert block.cells["a"] == [0, 2, 4, 6]
        assert sort_order(table, "short", descending=True).tolist() == [1, 0, 2, 3]


def test_reference_addresses_decode_each_target_once(h5, monkeypatch):
    calls = []
    original = vectors.reference_path

    def counting(h5file, ref):
        calls.append(ref)
        return original(h5file, ref)

    monkeypatch.setattr(vectors, "reference_path", counting)
    column = Table(h5["/general/extracellular_ephys/electrodes"]).column("group")
    assert (
        column.read().tolist()
        == ["/general/extracellular_ephys/shank0"] * 3 + ["/general/extracellular_ephys/shank1"] * 3
    )
    assert len(calls) == 2


def test_scattered_positions_use_one_point_read(tmp_path):
    """Far-apart cells (e.g. the first spike of each of 1 000 units) come from one read."""
    path = tmp_path / "scattered.h5"
    values = np.arange(200_000, dtype=np.float64) * 0.5
    with h5py.File(path, "w") as f:
        group = f.create_group("t")
        group.attrs["colnames"] = np.array(["x"], dtype=object)
        group.create_dataset("id", data=np.arange(40))
        data = group.create_dataset("x", data=values, chunks=(10_000,))
        index = group.create_dataset("x_index", data=np.arange(1, 41) * 5000)
        index.attrs["target"] = data.ref
    with h5py.File(path, "r") as f:
        column = Table(f["t"]).column("x")
        positions = np.array([199_999, 5000, 0, 150_000, 5000, *range(10_000, 100_000, 9000)])
        np.testing.assert_array_equal(column.take_values(positions), values[positions])
        starts, ends = column.bounds()
        np.testing.assert_array_equal(column.take_values(starts), values[::5000])
