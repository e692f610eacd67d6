"""The real application under Xvfb: start it on a file, let it draw, grab the window and look
at the pixels (a blank or crashed window fails)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("xvfb-run") is None,
        reason="xvfb-run is not installed (make test installs it with apt-get)",
    ),
]


def _image_array(path: Path) -> np.ndarray:
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    buffer = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    rows = buffer.reshape(height, image.bytesPerLine())[:, : width * 3]
    return rows.reshape(height, width, 3).copy()  # the QImage's memory dies with it


def screenshot_of_app(tmp_path: Path, *args: str, delay_ms: int = 1500) -> np.ndarray:
    """Run ``ndviewer ARGS --screenshot`` on a real X server and return the picture."""
    shot = tmp_path / "window.png"
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)  # a real X server this time
    env["NDVIEWER_CONFIG_DIR"] = str(tmp_path / "config")
    env["NDVIEWER_LOG_DIR"] = str(tmp_path / "log")
    env["NDVIEWER_SCREENSHOT_DELAY_MS"] = str(delay_ms)
    command = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-m"]
    result = subprocess.run(
        [*command, "ndviewer", *args, "--screenshot", str(shot)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    return _image_array(shot)


def test_real_window_on_the_demo_file(demo_file, tmp_path):
    pixels = screenshot_of_app(tmp_path, str(demo_file))
    height, width, _ = pixels.shape
    assert (width, height) == (1500, 920)
    # a drawn window has many distinct colours (text, icons, selection), not a flat fill
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 50
    # text was drawn in the tree (left) and in the overview page (right): dark glyph pixels.
    # (Not the selection colour: without a window manager the window may stay inactive.)
    luminance = pixels.astype(int).sum(axis=2) / 3
    tree = luminance[80:, 10 : width // 3]
    page = luminance[80:, width // 3 + 20 :]
    assert (tree < 100).sum() > 3000
    assert (page < 100).sum() > 3000
    # the family icons of typed rows are coloured (e.g. ElectricalSeries red, Units red)
    reds = (pixels[80:, : width // 3, 0] > 150) & (pixels[80:, : width // 3, 1] < 90)
    assert reds.sum() > 50


def test_select_opens_the_imaging_view_with_roi_outlines(demo_file, tmp_path):
    pixels = screenshot_of_app(
        tmp_path, str(demo_file), "--select", "/acquisition/TwoPhotonSeries", delay_ms=2500
    ).astype(int)
    right = pixels[100:800, 560:1250]
    # ROI outlines are drawn in yellow over a grey frame
    yellow = (right[..., 0] > 180) & (right[..., 1] > 160) & (right[..., 2] < 90)
    assert yellow.sum() > 200
