"""The figure scene (headless): what is drawn where, from which numbers, and the standalone
script that redraws it. Painting the scene into files is tested in tests/gui."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ndviewer.core.export.figure import FigureSpec, TraceTrack, build_figure, nice_step
from ndviewer.core.export.scene import Lines, Rect, Segments
from ndviewer.core.export.script import write_script
from ndviewer.core.export.window_data import ExportError
from ndviewer.core.model.files import open_nwb
from tests.core.traces_fixtures import write_traces_nwb

RAW = "/acquisition/raw"


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("figure") / "traces.nwb"
    return path, write_traces_nwb(path)


def physical(written: dict, i0: int, i1: int) -> np.ndarray:
    cc = written["channel_conversion"].astype(np.float64)
    return written["raw"][i0:i1].astype(np.float64) * 2e-6 * cc + 1e-4


def trace_lines(scene) -> list[Lines]:
    return [item for item in scene.items if isinstance(item, Lines)]


def back_to_physical(scene, k: int, line: Lines) -> np.ndarray:
    """Undo the lane mapping of channel ``k``: y = centre - (v - baseline) * lane / spacing."""
    track = scene.notes["tracks"][0]
    top, height = track["box"]
    lane = height / len(track["channels"])
    centre = top + (k + 0.5) * lane
    return track["baselines"][k] - (line.xy[:, 1] - centre) * track["spacing"] / lane


def test_long_windows_are_redrawn_from_the_envelope_and_keep_every_peak(traces):
    path, written = traces
    spec = FigureSpec(2.0, 6.0, [TraceTrack(RAW)])
    with open_nwb(path) as file:
        scene = build_figure(file, spec)
    track = scene.notes["tracks"][0]
    assert track["kind"] == "envelope"
    lines = trace_lines(scene)
    assert len(lines) == 8
    x0, w = scene.notes["frame"]
    # about one column per point (whole samples per column: 4000 samples in 400 columns)
    assert w / 2 < track["columns"] <= w + 1
    expected = physical(written, 500, 4500)  # 2.0 <= t < 6.0 from 1.5 s at 1 kHz
    for k, line in enumerate(lines):
        values = back_to_physical(scene, k, line)
        # min/max columns: the extremes of the window survive decimation (float32 columns)
        assert values.max() == pytest.approx(expected[:, k].max(), rel=1e-5)
        assert values.min() == pytest.approx(expected[:, k].min(), rel=1e-5)
        assert line.xy[:, 0].min() >= x0 and line.xy[:, 0].max() <= x0 + w


def test_short_windows_draw_the_samples_themselves(traces):
    path, written = traces
    spec = FigureSpec(2.0, 2.2, [TraceTrack(RAW, channels=[3, 5])])
    with open_nwb(path) as file:
        scene = build_figure(file, spec)
    assert scene.notes["tracks"][0]["kind"] == "samples"
    lines = trace_lines(scene)
    assert len(lines) == 2
    # 200 samples plus one beyond each edge, so lines reach the frame's edges
    assert lines[0].xy.shape == (202, 2)
    np.testing.assert_allclose(
        back_to_physical(scene, 1, lines[1]), physical(written, 499, 701)[:, 5], rtol=1e-5
    )


def test_labels_axes_and_scale_bars_are_text(traces):
    path, _ = traces
    spec = FigureSpec(2.0, 6.0, [TraceTrack(RAW)], ["/intervals/trials"], "/units")
    with open_nwb(path) as file:
        scene = build_figure(file, spec)
    texts = scene.texts()
    # channel labels are the electrodes table's ids, not column numbers
    assert {str(100 + k) for k in range(8)} <= set(texts)
    assert "time (s)" in texts
    assert "raw (electrode id)" in texts
    track = scene.notes["tracks"][0]
    assert track["amplitude_label"] in texts and track["amplitude_label"].endswith("V")
    assert track["seconds_label"] in texts
    assert "trials" in texts and "units" in texts
    # tick labels of a 4 s window, every half second
    assert {"2.0", "2.5", "4.0", "6.0"} <= set(texts)


def test_trial_bands_and_spike_raster_match_the_file(traces):
    path, written = traces
    spec = FigureSpec(2.0, 6.0, [TraceTrack(RAW)], ["/intervals/trials"], "/units")
    with open_nwb(path) as file:
        scene = build_figure(file, spec)
    x0, w = scene.notes["frame"]
    # trials (0.5-1), (2-2.5), (3-4.5): two overlap the window, each a band and a bar
    rects = [r for r in scene.items if isinstance(r, Rect)]
    faint = [r for r in rects if r.alpha < 1]
    assert len(faint) == 2
    assert faint[0].x == pytest.approx(x0 + (2.0 - 2.0) / 4.0 * w)
    assert faint[1].w == pytest.approx(1.5 / 4.0 * w)
    spikes = sum(int(((s >= 2.0) & (s < 6.0)).sum()) for s in written["spikes"])
    raster = [s for s in scene.items if isinstance(s, Segments) and s.width < 1 and s.clip is None]
    ticks = sum(s.xyxy.shape[0] for s in raster) - 2  # minus the axis line and tick rows
    assert spikes > 10
    assert ticks >= spikes


def test_bad_figures_are_refused(traces):
    path, _ = traces
    with open_nwb(path) as file:
        with pytest.raises(ExportError, match="no sample"):
            build_figure(file, FigureSpec(50.0, 60.0, [TraceTrack(RAW)]))
        with pytest.raises(ExportError, match="does not exist"):
            build_figure(file, FigureSpec(2.0, 3.0, [TraceTrack("/acquisition/none")]))
        with pytest.raises(ExportError, match="too small"):
            build_figure(file, FigureSpec(2.0, 3.0, [TraceTrack(RAW)], height=40.0))


def test_nice_steps():
    assert nice_step(0.37) == 0.2
    assert nice_step(7.0) == 5.0
    assert nice_step(0.0009) == pytest.approx(0.0005)
    assert nice_step(0.7, floor=False) == 0.5


# A clean environment in one process: ndviewer, pynwb, hdmf and Qt cannot be imported, only
# what a reader with h5py, numpy and matplotlib has.
_CLEAN_RUN = """
import importlib.abc, runpy, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {"ndviewer", "pynwb", "hdmf", "PySide6", "pyqtgraph", "tests"}:
            raise ImportError(f"{name} is not installed in a clean environment")
        return None
sys.meta_path.insert(0, Block())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_the_script_redraws_the_figure_with_h5py_numpy_and_matplotlib(traces, tmp_path):
    path, _ = traces
    spec = FigureSpec(2.0, 6.0, [TraceTrack(RAW)], ["/intervals/trials"], "/units", None, [])
    with open_nwb(path) as file:
        scene = build_figure(file, spec)
    script = write_script(scene, path, tmp_path / "figure.pdf")
    assert script == tmp_path / "figure.py"
    text = script.read_text()
    assert "import ndviewer" not in text and "pynwb" not in text
    out = tmp_path / "redrawn.png"
    done = subprocess.run(
        [sys.executable, "-I", "-c", _CLEAN_RUN, str(script), str(path), str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    from PIL import Image

    with Image.open(out) as image:
        pixels = np.asarray(image.convert("L"))
    assert pixels.shape == (1500, 2100)  # 7 x 5 inches at 300 dpi
    assert (pixels < 128).mean() > 0.01  # traces, raster and text were drawn
    # with no argument the script finds the file and writes beside itself
    done = subprocess.run(
        [sys.executable, "-I", "-c", _CLEAN_RUN, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "figure.redrawn.pdf").stat().st_size > 10_000
