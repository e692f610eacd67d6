"""Figures painted into PNG, SVG and PDF, read back with independent parsers (Pillow,
ElementTree, pypdf), and the Export dialog driven from the trace, image and table panels."""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pypdf
import pytest
from PIL import Image
from PySide6.QtGui import QGuiApplication

from ndviewer.core.export.figure import FigureSpec, TraceTrack, build_figure
from ndviewer.core.model.files import open_nwb
from ndviewer.core.time_cursor import TimeCursor
from ndviewer.gui.export.dialog import ExportDialog
from ndviewer.gui.export.render import render_file
from ndviewer.gui.panels.base import PanelContext
from ndviewer.gui.panels.images.image_panel import ImagePanel
from ndviewer.gui.panels.tables.table_panel import TablePanel
from ndviewer.gui.panels.traces.trace_panel import TracePanel
from ndviewer.gui.workers import WorkerPool
from tests.core.images_fixtures import write_imaging_file
from tests.core.traces_fixtures import write_traces_nwb

RAW = "/acquisition/raw"
LFP = "/processing/ecephys/LFP/lfp"
LABELS = [str(100 + k) for k in range(8)]


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("export_gui") / "traces.nwb"
    return path, write_traces_nwb(path)


@pytest.fixture(scope="module")
def scene(traces):
    """4 s of the 8-channel series with trials and the raster, on a 1200 × 800 px page at
    200 dpi (6 × 4 inches)."""
    path, _ = traces
    spec = FigureSpec(
        2.0, 6.0, [TraceTrack(RAW)], ["/intervals/trials"], "/units", width=432, height=288
    )
    with open_nwb(path) as file:
        return build_figure(file, spec)


def pdf_text(path: Path) -> str:
    """The page's text with runs of white space as one space."""
    return re.sub(r"\s+", " ", pypdf.PdfReader(path).pages[0].extract_text())


def pdf_images(path: Path) -> list:
    resources = pypdf.PdfReader(path).pages[0]["/Resources"]
    objects = resources.get("/XObject")
    if objects is None:
        return []
    return [
        name
        for name, ref in objects.get_object().items()
        if ref.get_object().get("/Subtype") == "/Image"
    ]


def test_png_has_the_size_and_dpi_asked_and_ink_on_every_lane(scene, tmp_path):
    out = render_file(scene, tmp_path / "f.png", dpi=200)
    with Image.open(out) as image:
        assert image.size == (1200, 800)
        assert image.info["dpi"] == pytest.approx((200, 200), abs=0.1)
        grey = np.asarray(image.convert("L")).astype(int)
    px = 200 / 72  # pixels per point
    x0, w = scene.notes["frame"]
    top, height = scene.notes["tracks"][0]["box"]
    lane = height / 8
    columns = slice(int((x0 + 2) * px), int((x0 + w - 2) * px))
    for k in range(8):
        band = grey[
            int((top + (k + 0.2) * lane) * px) : int((top + (k + 0.8) * lane) * px), columns
        ]
        inked = (band < 200).any(axis=0)
        assert inked.mean() > 0.95, f"lane {k} has gaps"  # a trace crosses every column
    # the right margin above the scale bar is paper, the page is white
    assert (
        grey[int(top * px) : int((top + height / 3) * px), int((x0 + w + 20) * px) :] > 250
    ).all()
    assert grey[0, 0] == 255


def test_svg_keeps_traces_as_paths_and_labels_as_text(scene, tmp_path):
    out = render_file(scene, tmp_path / "f.svg")
    root = ET.parse(out).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    texts = ["".join(t.itertext()).strip() for t in root.iter(f"{ns}text")]
    for label in [*LABELS, "time (s)", "raw (electrode id)", "trials", "units"]:
        assert label in texts
    assert scene.notes["tracks"][0]["amplitude_label"] in texts
    paths = [p.get("d", "") for p in root.iter(f"{ns}path")]
    long_paths = [d for d in paths if d.count("L") > 300]
    assert len(long_paths) >= 8  # one polyline per channel, hundreds of vertices each
    assert not list(root.iter(f"{ns}image"))  # no bitmap anywhere
    assert root.get("viewBox").split()[2:] == ["432", "288"]


def test_pdf_parses_with_vector_paths_and_text(scene, tmp_path):
    out = render_file(scene, tmp_path / "f.pdf")
    reader = pypdf.PdfReader(out)
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx((432, 288), abs=0.5)
    text = pdf_text(out)
    for label in [*LABELS, "time (s)", "raw (electrode id)", "trials"]:
        assert f" {label} " in f" {text} "
    assert pdf_images(out) == []
    content = reader.pages[0].get_contents().get_data()
    assert content.count(b" l\n") > 8 * 300  # line-to operators of the traces


# ----------------------------------------------------------------------------- the panels
def make_context(path) -> PanelContext:
    return PanelContext(file=open_nwb(path), time_cursor=TimeCursor(), pool=WorkerPool())


@pytest.fixture
def contexts():
    made: list[PanelContext] = []
    yield made
    for ctx in made:
        ctx.pool.shutdown()
        ctx.file.close()


def trace_panel(qtbot, context, path=RAW) -> TracePanel:
    panel = TracePanel(context, context.file.node(path))
    qtbot.addWidget(panel)
    panel.resize(1000, 700)
    panel.show()
    qtbot.waitUntil(
        lambda: panel.shown_frame is not None and panel.source is not None, timeout=10_000
    )
    qtbot.waitUntil(lambda: bool(panel.overlays.intervals), timeout=10_000)
    return panel


def run(qtbot, dialog: ExportDialog, action, *args) -> str:
    """Start an export and wait for its sentence; an error sentence fails the test."""
    done: list[str] = []
    errors: list[str] = []
    dialog.finished.connect(done.append)
    dialog.failed.connect(errors.append)
    try:
        action(*args)
        qtbot.waitUntil(lambda: bool(done or errors), timeout=30_000)
    finally:
        dialog.finished.disconnect(done.append)
        dialog.failed.disconnect(errors.append)
    assert not errors, errors[0]
    return done[0]


def test_trace_panel_exports_what_it_shows(qtbot, traces, contexts, tmp_path):
    path, written = traces
    context = make_context(path)
    contexts.append(context)
    panel = trace_panel(qtbot, context)
    panel.set_window(2.0, 4.0)
    panel.set_page_size(4)
    panel.channel_page(1)  # channels 4..7 on screen
    dialog = panel.open_export()
    qtbot.addWidget(dialog)
    dialog.script.setChecked(True)
    message = run(qtbot, dialog, dialog.export_figure, tmp_path / "view.pdf")
    assert "view.pdf" in message and "view.py" in message
    assert dialog.busy.key is None and not dialog.busy.isVisible()  # its progress row is gone
    text = pdf_text(tmp_path / "view.pdf")
    assert all(f" {label} " in f" {text} " for label in LABELS[4:])
    assert " 100 " not in f" {text} "  # channels off the page are not drawn
    assert pdf_images(tmp_path / "view.pdf") == []
    assert "(4, 5, 6, 7)" in (tmp_path / "view.py").read_text().replace("[", "(").replace("]", ")")
    # the window's samples, in volts
    run(qtbot, dialog, dialog.export_data, tmp_path / "view.npy")
    cc = written["channel_conversion"].astype(np.float64)[4:]
    expected = written["raw"][500:2500, 4:].astype(np.float64) * 2e-6 * cc + 1e-4
    np.testing.assert_allclose(np.load(tmp_path / "view.npy"), expected, rtol=1e-13)
    # clipboard: the figure as an image of the asked size
    dialog.width_px.setValue(600)
    dialog.height_px.setValue(400)
    dialog.dpi.setValue(100)
    run(qtbot, dialog, dialog.copy_figure)
    image = QGuiApplication.clipboard().image()
    assert (image.width(), image.height()) == (600, 400)
    panel.shutdown()


def test_layout_figure_stacks_the_linked_time_panels(qtbot, traces, contexts, tmp_path):
    path, _ = traces
    context = make_context(path)
    contexts.append(context)
    first = trace_panel(qtbot, context)
    second = trace_panel(qtbot, context, LFP)
    first.set_window(2.0, 3.0)
    qtbot.waitUntil(lambda: second.window == (2.0, 3.0), timeout=5000)
    dialog = ExportDialog(first, [first, second])
    qtbot.addWidget(dialog)
    assert dialog.scope.currentData() == "layout"
    spec = dialog.figure_spec()
    assert [t.path for t in spec.traces] == [RAW, LFP]
    assert (spec.t0, spec.t1) == (2.0, 3.0)
    run(qtbot, dialog, dialog.export_figure, tmp_path / "layout.svg")
    root = ET.parse(tmp_path / "layout.svg").getroot()
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "raw (electrode id)" in texts and "lfp (electrode id)" in texts
    second.set_linked(False)
    assert ExportDialog(first, [first, second]).scope.count() == 1
    for panel in (first, second):
        panel.shutdown()


def test_image_panel_exports_values_and_picture(qtbot, contexts, tmp_path):
    imaging = write_imaging_file(tmp_path, n_frames=6, compression=None)
    context = make_context(imaging.path)
    contexts.append(context)
    panel = ImagePanel(context, context.file.node("/acquisition/TwoPhotonSeries"))
    qtbot.addWidget(panel)
    panel.resize(800, 600)
    panel.show()
    qtbot.waitUntil(lambda: panel.picture is not None, timeout=5000)
    dialog = panel.open_export()
    qtbot.addWidget(dialog)
    dialog.data_format.setCurrentIndex(0)
    run(qtbot, dialog, dialog.export_data, tmp_path / "frame.tif")
    with Image.open(tmp_path / "frame.tif") as image:
        values = np.asarray(image).copy()
    assert values.dtype == np.uint16
    np.testing.assert_array_equal(values, imaging.frames[panel.current_index].T)
    run(qtbot, dialog, dialog.export_figure, tmp_path / "frame.png")
    with Image.open(tmp_path / "frame.png") as image:
        assert image.size == (2100, 1500)
    panel.shutdown()


def test_table_panel_exports_rows_as_shown(qtbot, traces, contexts, tmp_path):
    path, written = traces
    context = make_context(path)
    contexts.append(context)
    panel = TablePanel(context, context.file.node("/intervals/trials"))
    qtbot.addWidget(panel)
    panel.model.set_view_rows(np.array([2, 0]))  # as a filter and a sort leave them
    with qtbot.waitSignal(panel.exported, timeout=10_000):
        panel.export_csv(str(tmp_path / "rows.csv"))
    with open(tmp_path / "rows.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:3] == ["id", "start_time", "stop_time"]
    assert [(r[0], float(r[1])) for r in rows[1:]] == [("2", 3.0), ("0", 0.5)]
    panel.shutdown()


def test_cli_figure_with_size_dpi_and_script(traces, tmp_path, capsys):
    from ndviewer.cli import main

    path, _ = traces
    out = tmp_path / "cli.png"
    argv = ["export", str(path), "--object", RAW, "--start", "2", "--stop", "4"]
    argv += ["--out", str(out), "--width", "800", "--height", "500", "--dpi", "100", "--script"]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines() == [str(out), str(tmp_path / "cli.py")]
    with Image.open(out) as image:
        assert image.size == (800, 500)
        assert image.info["dpi"] == pytest.approx((100, 100), abs=0.1)
        grey = np.asarray(image.convert("L"))
    assert (grey < 128).mean() > 0.01
    assert "T0 = 2.0" in (tmp_path / "cli.py").read_text()
