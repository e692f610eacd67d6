"""Data export: windows of samples in physical units, image frames at full bit depth, table
rows as shown, and ``ndviewer export``'s refusals. Files are written with pynwb; the
expected numbers are computed here from the arrays that went in."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ndviewer.cli import main
from ndviewer.core.export.image_files import frame_picture, write_picture
from ndviewer.core.export.table_csv import write_table_csv
from ndviewer.core.export.window_data import (
    ExportError,
    parse_channels,
    read_window,
    resolve_window,
    write_window,
)
from ndviewer.core.model.files import open_nwb
from ndviewer.core.nwb.images import open_image_source
from ndviewer.core.nwb.tables import Table
from ndviewer.core.nwb.timeseries import TimeSeriesSource
from tests.core.images_fixtures import write_imaging_file
from tests.core.traces_fixtures import write_traces_nwb

RAW = "/acquisition/raw"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("export") / "traces.nwb"
    return path, write_traces_nwb(path)


@pytest.fixture(scope="module")
def imaging(tmp_path_factory):
    return write_imaging_file(tmp_path_factory.mktemp("export-img"), compression=None)


def read_image(path: Path) -> tuple[np.ndarray, str]:
    """Pixels and mode of an image file, read by Pillow (an independent reader)."""
    with Image.open(path) as image:
        return np.asarray(image).copy(), image.mode


def expected_physical(written: dict, rows: slice, channels: list[int]) -> np.ndarray:
    """What the fixture's raw int16 samples are in volts: data * conversion *
    channel_conversion + offset (conversion 2e-6, offset 1e-4, see traces_fixtures)."""
    raw = written["raw"][rows][:, channels].astype(np.float64)
    cc = written["channel_conversion"].astype(np.float64)[channels]
    return raw * 2e-6 * cc + 1e-4


def test_csv_holds_the_window_in_physical_units(traces, tmp_path):
    path, written = traces
    with open_nwb(path) as file:
        source = TimeSeriesSource.from_path(file, RAW)
        channels = parse_channels("2:5", source.n_channels)
        window = read_window(source, *resolve_window(source, 2.0, 2.5), channels)
        out = write_window(window, tmp_path / "w.csv")
    with open(out, newline="") as handle:
        rows = list(csv.reader(handle))
    # starting_time 1.5 s at 1 kHz: 2.0 <= t < 2.5 is samples 500..999
    assert rows[0] == ["time_s", "102", "103", "104"]
    values = np.asarray(rows[1:], dtype=np.float64)
    assert values.shape == (500, 4)
    np.testing.assert_allclose(values[:, 0], 1.5 + np.arange(500, 1000) / 1000.0, rtol=1e-11)
    expected = expected_physical(written, slice(500, 1000), [2, 3, 4])
    np.testing.assert_allclose(values[:, 1:], expected, rtol=1e-10, atol=0)


def test_npy_and_npz_hold_float64_physical_samples(traces, tmp_path):
    path, written = traces
    with open_nwb(path) as file:
        source = TimeSeriesSource.from_path(file, RAW)
        window = read_window(source, 3.0, 3.25, parse_channels("7,0", source.n_channels))
        npy = write_window(window, tmp_path / "w.npy")
        npz = write_window(window, tmp_path / "w.npz")
    expected = expected_physical(written, slice(1500, 1750), [7, 0])
    data = np.load(npy)
    assert data.dtype == np.float64 and data.shape == (250, 2)
    np.testing.assert_allclose(data, expected, rtol=1e-13, atol=0)  # float64 rounding only
    with np.load(npz) as bundle:
        np.testing.assert_array_equal(bundle["data"], data)
        np.testing.assert_allclose(bundle["time"], 1.5 + np.arange(1500, 1750) / 1000.0)
        assert bundle["channels"].tolist() == ["107", "100"]
        assert str(bundle["unit"]) == "volts"


def test_channel_ranges_and_their_errors():
    assert parse_channels("1:4", 8).tolist() == [1, 2, 3]
    assert parse_channels(":2,6", 8).tolist() == [0, 1, 6]
    assert parse_channels("5:", 8).tolist() == [5, 6, 7]
    assert parse_channels(None, 3).tolist() == [0, 1, 2]
    for bad in ("4:2", "0:9", "12", "a-b"):
        with pytest.raises(ExportError):
            parse_channels(bad, 8)


def test_an_empty_window_is_refused(traces):
    path, _ = traces
    with open_nwb(path) as file:
        source = TimeSeriesSource.from_path(file, RAW)
        with pytest.raises(ExportError, match="no sample between 100 and 101"):
            resolve_window(source, 100.0, 101.0)
        with pytest.raises(ExportError, match="empty"):
            resolve_window(source, 3.0, 2.0)


def test_frames_keep_their_uint16_values(imaging, tmp_path):
    with open_nwb(imaging.path) as file:
        source = open_image_source(file.h5["/acquisition/TwoPhotonSeries"])
        picture = frame_picture(source, 7)
        tif = write_picture(picture, tmp_path / "f.tif")
        png = write_picture(picture, tmp_path / "f.png")
        mean = frame_picture(source, projection="mean")
        write_picture(mean, tmp_path / "mean.tif")
    # NWB frames are (x, y); the picture has rows of y, as the image view shows it
    expected = imaging.frames[7].T
    assert expected.max() > 255  # the test means something only above 8 bits
    back, _ = read_image(tif)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, expected)
    back_png, mode = read_image(png)
    np.testing.assert_array_equal(back_png.astype(np.uint16), expected)
    assert mode.startswith("I")  # 16-bit grey, not 8-bit
    mean_back, _ = read_image(tmp_path / "mean.tif")
    np.testing.assert_allclose(mean_back, imaging.frames.mean(axis=0).T, rtol=1e-6)


def test_png_refuses_what_it_cannot_hold(tmp_path):
    with pytest.raises(ExportError, match="tif"):
        write_picture(np.zeros((4, 4), np.float32), tmp_path / "x.png")


def test_table_rows_as_shown(traces, tmp_path):
    path, written = traces
    with open_nwb(path) as file:
        table = Table.from_path(file, "/intervals/trials")
        out = write_table_csv(table, [2, 0], ["id", "start_time", "condition"], tmp_path / "t.csv")
    with open(out, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["id", "start_time", "condition"]
    assert [r[2] for r in rows[1:]] == ["left", "left"]
    assert [float(r[1]) for r in rows[1:]] == [written["trials"][2][0], written["trials"][0][0]]


# --------------------------------------------------------------------------------- the CLI
def test_cli_writes_the_data_without_loading_qt(traces, tmp_path):
    path, written = traces
    out = tmp_path / "cli.npy"
    code = (
        "import sys; from ndviewer.cli import main; "
        f"rc = main(['export', {str(path)!r}, '--object', {RAW!r}, '--start', '2', "
        f"'--stop', '2.1', '--channels', '0:3', '--out', {str(out)!r}]); "
        "assert not [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))]; "
        "sys.exit(rc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    np.testing.assert_allclose(
        np.load(out), expected_physical(written, slice(500, 600), [0, 1, 2]), rtol=1e-13, atol=0
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--object", "/acquisition/nope", "--out", "{tmp}/x.pdf"], "does not exist"),
        (["--object", RAW, "--start", "50", "--stop", "60", "--out", "{tmp}/x.csv"], "no sample"),
        (["--object", RAW, "--out", "{tmp}/x.docx"], "cannot export to .docx"),
        (["--object", RAW, "--out", "{tmp}/x.tif"], "time series"),
        (["--object", RAW, "--channels", "0:99", "--out", "{tmp}/x.csv"], "channels"),
        (["--object", "/intervals/trials", "--out", "{tmp}/x.npy"], "table"),
        (["--object", RAW, "--script", "--out", "{tmp}/x.csv"], "--script"),
    ],
)
def test_cli_refuses_bad_input_with_one_line(traces, tmp_path, capsys, args, message):
    path, _ = traces
    argv = ["export", str(path), *[a.format(tmp=tmp_path) for a in args]]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and message in captured.err
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_cli_exports_a_frame_and_a_table(imaging, traces, tmp_path, capsys):
    assert (
        main(
            [
                "export",
                str(imaging.path),
                "--object",
                "/acquisition/TwoPhotonSeries",
                "--frame",
                "3",
                "--out",
                str(tmp_path / "f.tif"),
            ]
        )
        == 0
    )
    np.testing.assert_array_equal(read_image(tmp_path / "f.tif")[0], imaging.frames[3].T)
    path, written = traces
    assert main(["export", str(path), "--object", "/units", "--out", str(tmp_path / "u.csv")]) == 0
    with open(tmp_path / "u.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert [r[0] for r in rows[1:]] == ["10", "11", "12", "13"]
    assert capsys.readouterr().out.splitlines() == [
        str(tmp_path / "f.tif"),
        str(tmp_path / "u.csv"),
    ]
