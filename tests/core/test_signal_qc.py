"""Signal QC on pynwb-written files: findings in NWB terms, ``ndviewer qc`` (JSON, exit codes,
no Qt) and the write-back as standard NWB that pynwb reads and validates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from ndviewer.cli_qc import main as qc_main
from ndviewer.core.edit.qc_writeback import qc_assignments, qc_changes
from ndviewer.core.edit.states import Location
from ndviewer.core.edit.transaction import EditSession, Transaction
from ndviewer.core.model.files import open_nwb
from ndviewer.core.nwb.signal_qc import series_qc
from ndviewer.core.nwb.timeseries import TimeSeriesSource
from tests.core import qc_fixtures as fx
from tests.core.edit_fixtures import pynwb_errors, pynwb_read

SERIES = "/acquisition/ElectricalSeries"
REPO = Path(__file__).resolve().parents[2]
PLANTED_ROWS = sorted([fx.FLAT, fx.RAIL_CLIPPED, fx.PLATEAU_CLIPPED, fx.NOISY, *fx.LINE_CHANNELS])


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("qc")
    return {
        "defective": fx.write_series_nwb(folder / "defective.nwb", fx.defective_recording()),
        "clean": fx.write_series_nwb(folder / "clean.nwb", fx.clean_recording(7)),
        "prior": fx.write_series_nwb(
            folder / "prior.nwb",
            fx.defective_recording(),
            extra_bad_electrodes=2,
            invalid_times=[(1.0, 1.5, "stimulus"), (6.0, 6.1, "artefact")],
        ),
    }


@pytest.fixture
def copy_of(files, tmp_path):
    def make(name: str) -> Path:
        target = tmp_path / f"{name}.nwb"
        target.write_bytes(files[name].read_bytes())
        return target

    return make


def _run(path: Path, *args: str) -> tuple[int, dict | None, str]:
    result = subprocess.run(
        [sys.executable, "-m", "ndviewer", "qc", str(path), "--object", SERIES, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    payload = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result.returncode, payload, result.stderr


def test_findings_name_channels_by_electrode(files):
    with open_nwb(files["defective"]) as file:
        qc = series_qc(TimeSeriesSource.from_path(file, SERIES), file_name="x")
    flagged = {c.index: (c.label, c.row, c.flags) for c in qc.channels if c.flags}
    assert sorted(flagged) == PLANTED_ROWS
    assert flagged[fx.FLAT] == ("103", fx.FLAT, ("dead",))
    assert flagged[fx.NOISY][2] == ("noisy",)
    assert qc.electrodes_table == "/general/extracellular_ephys/electrodes"
    assert [(b.reason, round(b.start, 3)) for b in qc.bad_times] == [
        ("artefact", 4.0),
        ("dropout", 7.0),
    ]
    assert qc.bad_times[1].stop == pytest.approx(7.2)
    assert qc.unit == "volts" and 2e-6 < qc.channels[0].rms < 8e-6


def test_cli_json_and_exit_codes(files):
    status, payload, stderr = _run(files["defective"], "--json")
    assert status == 1, stderr
    assert set(payload) >= {"file", "object", "channels", "bad_times"}
    assert payload["object"] == SERIES
    channel = payload["channels"][fx.NOISY]
    assert set(channel) == {"index", "label", "rms", "unit", "flags"}
    assert channel == {**channel, "index": fx.NOISY, "label": "117", "unit": "volts"}
    assert channel["flags"] == ["noisy"]
    by_flag = {
        flag: [c["index"] for c in payload["channels"] if flag in c["flags"]]
        for flag in ("dead", "saturated", "noisy", "line_noise")
    }
    assert by_flag == {
        "dead": [fx.FLAT],
        "saturated": [fx.RAIL_CLIPPED, fx.PLATEAU_CLIPPED],
        "noisy": [fx.NOISY],
        "line_noise": list(fx.LINE_CHANNELS),
    }
    assert [b["reason"] for b in payload["bad_times"]] == ["artefact", "dropout"]

    status, payload, stderr = _run(files["clean"], "--json")
    assert status == 0, stderr
    assert payload["bad_times"] == [] and not any(c["flags"] for c in payload["channels"])


def test_cli_refuses_with_one_line(files, tmp_path, capsys):
    assert qc_main([str(files["clean"]), "--object", "/acquisition/nope"]) == 2
    assert qc_main([str(files["clean"]), "--object", "/general/devices/probe"]) == 2
    assert qc_main([str(tmp_path / "missing.nwb"), "--object", SERIES]) == 2
    garbage = tmp_path / "garbage.nwb"
    garbage.write_bytes(b"not hdf5" * 100)
    assert qc_main([str(garbage), "--object", SERIES]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("ndviewer: ") for line in lines)
    assert "Traceback" not in err


def test_cli_loads_no_qt(files):
    code = (
        "import sys; from ndviewer.cli import main; "
        f"status = main(['qc', {str(files['clean'])!r}, '--object', {SERIES!r}, '--json']); "
        "assert not [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))]; "
        "sys.exit(status)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=REPO)
    assert result.returncode == 0, result.stderr.decode()


def _electrodes(path: Path) -> tuple[list[bool], str, list[str]]:
    with pynwb_read(path) as nwb:
        column = nwb.electrodes["bad_channel"]
        return list(map(bool, column.data[:])), column.description, list(nwb.electrodes.colnames)


def _invalid_times(path: Path) -> list[tuple]:
    with pynwb_read(path) as nwb:
        frame = nwb.invalid_times.to_dataframe()
        columns = [c for c in ("start_time", "stop_time", "reason", "tags") if c in frame]
        return [
            tuple(round(v, 4) if isinstance(v, float) else v for v in row)
            for row in frame[columns].itertuples(index=True)
        ]


def test_write_stores_standard_nwb_and_rerun_updates(copy_of):
    path = copy_of("defective")
    status, _, stderr = _run(path, "--write")
    assert status == 1, stderr
    bad, description, colnames = _electrodes(path)
    assert [k for k, b in enumerate(bad) if b] == PLANTED_ROWS
    assert "ndviewer signal QC" in description
    assert colnames[-1] == "bad_channel"
    assert _invalid_times(path) == [(0, 4.0, 4.0312, "artefact"), (1, 7.0, 7.2, "dropout")]
    assert pynwb_errors(path) == []
    with h5py.File(path, "r") as h5:
        column = h5["general/extracellular_ephys/electrodes/bad_channel"]
        assert dict(column.attrs) | {"object_id": None} == {
            "neurodata_type": "VectorData",
            "namespace": "hdmf-common",
            "description": description,
            "object_id": None,
        }
        assert len(column.attrs["object_id"]) == 36
        table = h5["intervals/invalid_times"]
        assert table.attrs["neurodata_type"] == "TimeIntervals"
        assert table["reason"].attrs["neurodata_type"] == "VectorData"
        assert table["id"].attrs["neurodata_type"] == "ElementIdentifiers"
    before = path.read_bytes()
    status, _, stderr = _run(path, "--write")
    assert status == 1, stderr
    assert path.read_bytes() == before  # same verdict: nothing rewritten, nothing duplicated


def test_write_keeps_what_others_wrote(copy_of):
    """A bad_channel column and invalid_times rows written by pynwb before QC: rows the series
    does not record keep their verdict, rows of other reasons (with their ragged tags) stay,
    QC's own reasons are replaced, and the result is sorted by start time."""
    path = copy_of("prior")
    status, _, stderr = _run(path, "--write")
    assert status == 1, stderr
    bad, _, colnames = _electrodes(path)
    assert [k for k, b in enumerate(bad) if b] == [*PLANTED_ROWS, fx.CHANNELS, fx.CHANNELS + 1]
    assert colnames.count("bad_channel") == 1
    rows = _invalid_times(path)
    assert [(r[1], r[2], r[3]) for r in rows] == [
        (1.0, 1.5, "stimulus"),
        (4.0, 4.0312, "artefact"),
        (7.0, 7.2, "dropout"),
    ]
    assert list(rows[0][4]) == ["by-hand", "stimulus"] and list(rows[1][4]) == []
    assert pynwb_errors(path) == []


def test_clean_file_write_creates_no_invalid_times(copy_of):
    path = copy_of("clean")
    status, _, stderr = _run(path, "--write")
    assert status == 0, stderr
    bad, _, _ = _electrodes(path)
    assert not any(bad) and len(bad) == fx.CHANNELS
    with h5py.File(path, "r") as h5:
        assert "invalid_times" not in h5.get("intervals", {})
    assert pynwb_errors(path) == []


def test_edit_session_write_is_one_undoable_step_with_a_diff(copy_of):
    path = copy_of("defective")
    with open_nwb(path) as file:
        qc = series_qc(TimeSeriesSource.from_path(file, SERIES))
    session = EditSession(path)
    with h5py.File(path, "r") as h5:
        assignments = qc_assignments(
            h5,
            electrodes_table=qc.electrodes_table,
            bad_rows=qc.bad_rows(),
            description="test",
            bad_times=[(b.start, b.stop, b.reason) for b in qc.bad_times],
        )
    session.apply(assignments, label="Write QC")
    diff = "\n".join(session.diff())
    assert "bad_channel" in diff and "invalid_times" in diff
    assert len(diff) < 5000  # long columns are summarised, not spelled out
    session.undo()
    assert session.pending() == []
    session.redo()
    session.save()
    bad, description, _ = _electrodes(path)
    assert [k for k, b in enumerate(bad) if b] == PLANTED_ROWS and description == "test"
    assert pynwb_errors(path) == []


def test_transaction_refuses_a_stale_plan_and_leaves_the_file(copy_of):
    path = copy_of("defective")
    with h5py.File(path, "r") as h5:
        changes = qc_changes(
            h5,
            qc_assignments(
                h5,
                electrodes_table="/general/extracellular_ephys/electrodes",
                bad_rows={0: True},
                description="x",
                bad_times=[(1.0, 2.0, "manual")],
            ),
        )
    # someone else writes the column first: the plan no longer matches the file
    first = Transaction(changes)
    first.commit(path)
    before = path.read_bytes()
    with pytest.raises(Exception, match="changed since"):
        Transaction(changes).commit(path)
    assert path.read_bytes() == before
    with h5py.File(path, "r") as h5:
        assert h5["general/extracellular_ephys/electrodes/bad_channel"][0]
        assert list(np.asarray(h5["intervals/invalid_times/start_time"])) == [1.0]
    assert Location("/intervals/invalid_times") in {c.location for c in changes}


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("point", ["step-2-written", "copy-closed", "verified"])
def test_write_killed_mid_save_leaves_the_old_file(copy_of, point):
    import os

    from ndviewer.core.edit.atomic_save import FAULT_ENV

    path = copy_of("defective")
    before = path.read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "ndviewer", "qc", str(path), "--object", SERIES, "--write"],
        capture_output=True,
        cwd=REPO,
        env={**os.environ, FAULT_ENV: point},
        timeout=300,
    )
    assert result.returncode < 0  # killed
    assert path.read_bytes() == before
    assert pynwb_errors(path) == []
    status, _, stderr = _run(path, "--write")  # and a later save works
    assert status == 1, stderr
    assert _invalid_times(path)[1][3] == "dropout"
