"""The QC write-back's edge cases: tables it must refuse to touch (with one sentence, file
unchanged), a series without electrodes, and diffs that stay readable for whole columns."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
import pytest

from ndviewer.cli_qc import main as qc_main
from ndviewer.core.edit.qc_writeback import qc_assignments, qc_changes
from ndviewer.core.edit.states import format_value
from ndviewer.core.edit.transaction import Transaction
from ndviewer.core.errors import EditError
from tests.core import qc_fixtures as fx
from tests.core.edit_fixtures import pynwb_errors, pynwb_read

TABLE = "/general/extracellular_ephys/electrodes"


def _changes(path: Path, **kwargs) -> list:
    with h5py.File(path, "r") as h5:
        return qc_changes(h5, qc_assignments(h5, **kwargs))


def test_a_foreign_bad_channel_column_is_refused(tmp_path):
    path = fx.write_series_nwb(tmp_path / "f.nwb", fx.clean_recording(1, seconds=1.0))
    with h5py.File(path, "r+") as h5:
        h5[TABLE].create_dataset("bad_channel", data=np.zeros(fx.CHANNELS, dtype=np.int32))
    with pytest.raises(EditError, match="not a true/false column"):
        _changes(path, electrodes_table=TABLE, bad_rows={0: True}, description="x", bad_times=[])


def test_invalid_times_with_a_timeseries_column_is_refused_untouched(tmp_path, capsys):
    """pynwb's ``timeseries`` column holds compound references QC cannot extend: refuse."""
    from hdmf.backends.hdf5 import H5DataIO  # noqa: F401 - pynwb's writer, as the fixtures
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries

    nwb = NWBFile("QC", "qc-ts", datetime(2024, 1, 1, tzinfo=UTC))
    series = TimeSeries(name="ts", data=np.arange(100.0), unit="m", rate=10.0)
    nwb.add_acquisition(series)
    nwb.add_invalid_time_interval(start_time=1.0, stop_time=2.0, timeseries=[series])
    path = tmp_path / "ts.nwb"
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    before = path.read_bytes()
    with pytest.raises(EditError, match="cannot"):
        _changes(
            path,
            electrodes_table=None,
            bad_rows={},
            description="x",
            bad_times=[(3.0, 4.0, "dropout")],
        )
    # the same through the CLI: one sentence, exit 2, file untouched
    with h5py.File(path, "r+") as h5:
        data = h5["acquisition/ts/data"]
        data[20:40] = 0.0  # a dropout QC will want to write
    before = path.read_bytes()
    assert qc_main([str(path), "--object", "/acquisition/ts", "--write"]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("ndviewer: ") and "invalid_times" in err and len(err.splitlines()) == 1
    assert path.read_bytes() == before


def test_series_without_electrodes_writes_only_invalid_times(tmp_path):
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries

    data = fx.clean_recording(2, seconds=3.0)[:, :8].astype(np.float32)
    data[10_000:12_000] = 0.0
    nwb = NWBFile("QC", "qc-plain", datetime(2024, 1, 1, tzinfo=UTC))
    nwb.add_acquisition(TimeSeries(name="ts", data=data, unit="mV", rate=fx.RATE))
    path = tmp_path / "plain.nwb"
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    assert qc_main([str(path), "--object", "/acquisition/ts", "--write"]) == 1
    with pynwb_read(path) as read:
        frame = read.invalid_times.to_dataframe()
        assert list(frame["reason"]) == ["dropout"]
        assert frame["start_time"].tolist() == pytest.approx([1.0])
        assert frame["stop_time"].tolist() == pytest.approx([1.2])
        assert "bad_channel" not in read.electrodes.colnames if read.electrodes else True
    assert pynwb_errors(path) == []


def test_transaction_creates_typed_columns_in_one_commit(tmp_path):
    """New kinds of change the write-back needs, through the plain transaction: a typed
    VectorData column (bool), a new typed group with typed datasets, an attribute list."""
    path = fx.write_series_nwb(tmp_path / "t.nwb", fx.clean_recording(3, seconds=1.0))
    changes = _changes(
        path,
        electrodes_table=TABLE,
        bad_rows={1: True, 5: True},
        description="by hand",
        bad_times=[(0.5, 0.6, "manual"), (0.1, 0.2, "artefact")],
    )
    assert Transaction(changes).check(path) == []
    Transaction(changes).commit(path)
    with h5py.File(path, "r") as h5:
        column = h5[f"{TABLE}/bad_channel"]
        assert column.dtype == np.bool_ and column.shape == (fx.CHANNELS,)
        assert list(h5[TABLE].attrs["colnames"])[-1] == "bad_channel"
        table = h5["intervals/invalid_times"]
        assert (table.attrs["neurodata_type"], table.attrs["namespace"]) == (
            "TimeIntervals",
            "core",
        )
        assert list(table.attrs["colnames"]) == ["start_time", "stop_time", "reason"]
        assert table["start_time"][()].tolist() == [0.1, 0.5]  # sorted by start
    with pynwb_read(path) as nwb:
        assert list(nwb.invalid_times["reason"][:]) == ["artefact", "manual"]
        assert np.flatnonzero(nwb.electrodes["bad_channel"].data[:]).tolist() == [1, 5]
    assert pynwb_errors(path) == []


def test_long_lists_are_shortened_in_diffs():
    assert format_value([True] * 384).endswith("… (384 values)]")
    assert format_value(["a", "b"]) == "['a', 'b']"
