"""The image panel: playback, stepping, time cursor, contrast, projections, ROIs and traces."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from ndviewer.core.model.files import open_nwb
from ndviewer.core.model.registry import default_registry
from ndviewer.core.time_cursor import TimeCursor
from ndviewer.gui.panels.base import PanelContext
from ndviewer.gui.panels.images.contrast import (
    ContrastSettings,
    DisplayMapper,
    histogram,
    percentile_levels,
)
from ndviewer.gui.panels.images.controls import colormap_lut
from ndviewer.gui.panels.images.image_panel import ImagePanel
from ndviewer.gui.workers import WorkerPool
from tests.core.images_fixtures import (
    write_external_file,
    write_images_file,
    write_imaging_file,
    write_voxel_file,
)

SERIES = "/acquisition/TwoPhotonSeries"
PANEL = "ndviewer.gui.panels.images.image_panel:ImagePanel"
FLUORESCENCE = "/processing/ophys/Fluorescence/RoiResponseSeries"
DFF = "/processing/ophys/DfOverF/DfOverF_partial"


@pytest.fixture(scope="module")
def imaging(tmp_path_factory):
    return write_imaging_file(tmp_path_factory.mktemp("image_panel"), n_frames=60)


def _context(path):
    file = open_nwb(path)
    opened: list[tuple[str, dict]] = []
    ctx = PanelContext(
        file=file,
        time_cursor=TimeCursor(),
        pool=WorkerPool(),
        open_linked=lambda path, options: opened.append((path, options)),
    )
    ctx.opened = opened  # type: ignore[attr-defined]
    return ctx


@pytest.fixture
def make_panel(qtbot):
    made = []

    def make(path, node_path):
        ctx = _context(path)
        panel = ImagePanel(ctx, ctx.file.node(node_path))
        qtbot.addWidget(panel)
        panel.resize(1000, 700)
        panel.show()
        made.append(panel)
        return panel

    yield make
    for panel in made:
        panel.shutdown()
        panel.context.pool.shutdown()
        panel.context.file.close()


def _wait_frame(qtbot, panel, index):
    qtbot.waitUntil(
        lambda: panel.current_index == index and panel.picture is not None, timeout=5000
    )


def _shown_matches(panel, frame):
    """The canvas shows exactly ``frame`` mapped with the panel's contrast and palette."""
    expected = DisplayMapper().map(frame, panel.contrast_settings, panel.lut)
    return np.array_equal(panel.canvas.frame_item.array, expected)


# --------------------------------------------------------------------------- Qt-free parts
def test_contrast_mapping_exact():
    mapper = DisplayMapper()
    values = np.array([[0, 100, 150], [200, 300, 65535]], dtype=np.uint16)
    settings = ContrastSettings((100.0, 200.0))
    levels = mapper.to_uint8(values, settings)
    np.testing.assert_array_equal(levels, [[0, 0, 128], [255, 255, 255]])
    inverted = mapper.to_uint8(values, ContrastSettings((100.0, 200.0), invert=True))
    np.testing.assert_array_equal(inverted, [[255, 255, 128], [0, 0, 0]])
    gamma = mapper.to_uint8(np.array([150], np.uint16), ContrastSettings((100.0, 200.0), gamma=2.0))
    assert int(gamma[0]) == int(0.25 * 255 + 0.5)
    signed = np.array([-100, 0, 100], dtype=np.int16)
    np.testing.assert_array_equal(mapper.to_uint8(signed, ContrastSettings((-100.0, 100.0))),
                                  [0, 128, 255])  # fmt: skip
    floats = np.array([np.nan, 0.5, 2.0], dtype=np.float32)
    np.testing.assert_array_equal(
        mapper.to_uint8(floats, ContrastSettings((0.0, 1.0))), [0, 128, 255]
    )
    # Screen colours: rows are y; grey goes through the palette, packed 0xffRRGGBB.
    palette = np.zeros((256, 3), np.uint8)
    palette[:, 0] = np.arange(256)  # red ramp
    palette[:, 2] = 255 - np.arange(256)
    colors = mapper.map(values, settings, palette)
    assert colors.shape == (2, 3) and colors.dtype == np.uint32
    assert int(colors[0, 2]) == 0xFF000000 | (128 << 16) | (127)  # value 150 at x=0, y=2
    assert int(colors[1, 0]) == 0xFFFF0000  # value 200 -> top of the ramp
    np.testing.assert_array_equal(
        mapper.map(floats[None, :], ContrastSettings((0.0, 1.0)))[0],
        [0xFF000000, 0xFF808080, 0xFFFFFFFF],
    )
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[1, 2] = (255, 128, 0)
    shown = mapper.map(rgb, ContrastSettings((0.0, 255.0)))
    assert shown.shape == (2, 3) and int(shown[1, 2]) == 0xFFFF8000


def test_percentiles_and_histogram():
    image = np.arange(10000, dtype=np.float64).reshape(100, 100)
    lo, hi = percentile_levels(image, 1.0, 99.0)
    assert lo == pytest.approx(np.percentile(image, 1.0)) and hi == pytest.approx(
        np.percentile(image, 99.0)
    )
    assert percentile_levels(np.full((4, 4), 7.0)) == (7.0, 8.0)
    counts, edges = histogram(image, bins=10)
    assert counts.sum() == 10000 and edges[0] == 0 and edges[-1] == 9999
    assert colormap_lut("gray").shape == (256, 3) and colormap_lut("viridis").dtype == np.uint8


# --------------------------------------------------------------------------- registry
def test_registry_prefers_image_panel(imaging, tmp_path):
    images_path, _ = write_images_file(tmp_path)
    with open_nwb(imaging.path) as f:
        node = f.node(SERIES)
        choices = default_registry().choices(node.neurodata_type, f.catalog, "group")
        assert choices[0].panel == PANEL and choices[0].matched_type == "ImageSeries"
        assert ImagePanel.priority(node, f.catalog) == 100
        table = f.node("/processing/ophys/ImageSegmentation/PlaneSegmentation")
        assert ImagePanel.priority(table, f.catalog) == -1
    with open_nwb(images_path) as f:
        for path, kind in [("/processing/ophys/summary", "group"),
                           ("/processing/ophys/summary/aa_rgb", "dataset")]:  # fmt: skip
            node = f.node(path)
            choices = default_registry().choices(node.neurodata_type, f.catalog, kind)
            assert choices[0].panel == PANEL
            assert ImagePanel.priority(node, f.catalog) == 100


# --------------------------------------------------------------------------- frames
def test_playback_shows_successive_frames(make_panel, qtbot, imaging):
    panel = make_panel(imaging.path, SERIES)
    _wait_frame(qtbot, panel, 0)
    assert _shown_matches(panel, imaging.frames[0])
    shown = []
    panel.frame_shown.connect(shown.append)
    panel.playback.speed.setCurrentText("max")
    qtbot.mouseClick(panel.playback.play, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(shown) >= 25, timeout=10000)
    panel.toggle_play()
    assert not panel.player.playing
    # every frame in order, none skipped
    assert shown[:25] == list(range(1, 26))
    index = panel.current_index
    assert _shown_matches(panel, imaging.frames[index])
    assert panel.playback.slider.value() == index
    assert panel.playback.label.text() == f"frame {index} · {2.0 + index / 30.0:.3f} s"


def test_step_keys_and_time_cursor(make_panel, qtbot, imaging):
    panel = make_panel(imaging.path, SERIES)
    _wait_frame(qtbot, panel, 0)
    panel.canvas.setFocus()
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Period)
    _wait_frame(qtbot, panel, 1)
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Period)
    _wait_frame(qtbot, panel, 2)
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Comma)
    _wait_frame(qtbot, panel, 1)
    assert _shown_matches(panel, imaging.frames[1])
    # the panel publishes the shown frame's time ...
    assert panel.context.time_cursor.time == pytest.approx(2.0 + 1 / 30.0)
    # ... and follows the cursor when another panel moves it
    panel.context.time_cursor.set_time(2.0 + 37.5 / 30.0)
    _wait_frame(qtbot, panel, 37)
    assert _shown_matches(panel, imaging.frames[37])
    panel.playback.slider.setValue(44)
    _wait_frame(qtbot, panel, 44)
    assert panel.context.time_cursor.time == pytest.approx(2.0 + 44 / 30.0)


def test_contrast_controls_change_display(make_panel, qtbot, imaging):
    panel = make_panel(imaging.path, SERIES)
    _wait_frame(qtbot, panel, 0)
    lo, hi = percentile_levels(imaging.frames[0])
    assert panel.contrast_settings.levels == pytest.approx((lo, hi), abs=1e-3)
    panel.contrast.set_levels(1000.0, 2000.0)
    panel.contrast.invert.setChecked(True)
    assert panel.contrast_settings == ContrastSettings((1000.0, 2000.0), 1.0, True)
    settings = ContrastSettings((1000.0, 2000.0), 1.0, True)
    levels = DisplayMapper().to_uint8(imaging.frames[0], settings)
    gray = 0xFF000000 | (levels.astype(np.uint32) * 0x010101)
    np.testing.assert_array_equal(panel.canvas.frame_item.array, gray)
    panel.contrast.colormap.setCurrentText("viridis")
    viridis = colormap_lut("viridis").astype(np.uint32)[levels]
    packed = 0xFF000000 | (viridis[..., 0] << 16) | (viridis[..., 1] << 8) | viridis[..., 2]
    np.testing.assert_array_equal(panel.canvas.frame_item.array, packed)
    panel.contrast.percentiles.setCurrentText("min – max")
    qtbot.mouseClick(panel.contrast.auto, Qt.MouseButton.LeftButton)
    assert panel.contrast_settings.levels == (
        float(imaging.frames[0].min()),
        float(imaging.frames[0].max()),
    )


def test_rotation_keeps_data_coordinates(make_panel, qtbot, imaging):
    panel = make_panel(imaging.path, SERIES)
    _wait_frame(qtbot, panel, 0)
    before = panel.canvas.scene_point(3.5, 4.5)
    qtbot.mouseClick(panel.rotate_right, Qt.MouseButton.LeftButton)
    panel.flip_h.setChecked(True)
    after = panel.canvas.scene_point(3.5, 4.5)
    assert (before - after).manhattanLength() > 5  # the pixel moved on screen
    x, y = panel.canvas.data_point(after)
    assert (x, y) == pytest.approx((3.5, 4.5), abs=1e-6)


# --------------------------------------------------------------------------- projections
def test_mean_projection_in_background(make_panel, qtbot, imaging):
    panel = make_panel(imaging.path, SERIES)
    _wait_frame(qtbot, panel, 0)
    panel.mode.setCurrentText("Mean")
    qtbot.waitUntil(lambda: panel.projection is not None, timeout=10000)
    np.testing.assert_allclose(panel.picture, imaging.frames.mean(axis=0))
    assert not panel.playback.isEnabled()
    panel.range_start.setValue(10)
    panel.range_stop.setValue(20)
    panel.mode.setCurrentText("Max")
    qtbot.waitUntil(
        lambda: panel.projection is not None and panel.projection[0] == "max", timeout=10000
    )
    np.testing.assert_array_equal(panel.picture, imaging.frames[10:20].max(axis=0))
    assert panel.status.text() == "max projection of frames 10 to 19"
    panel.mode.setCurrentText("Frames")
    assert panel.projection is None and panel.playback.isEnabled()
    assert "projection" not in panel.status.text()  # it said "max projection" over frames
    assert panel.status.text().startswith("frames: ")
    assert _shown_matches(panel, imaging.frames[0])


# --------------------------------------------------------------------------- ROIs
def _click(qtbot, panel, x, y, double=False):
    scene = panel.canvas.scene_point(x, y)
    view_point = panel.canvas.mapFromScene(scene)
    viewport = panel.canvas.viewport()
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=view_point)
    if double:  # as a real double click: press/release, then double-click/release
        qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=view_point)
        qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=view_point)


def test_roi_hover_click_and_linked_trace(make_panel, qtbot, imaging):
    panel = make_panel(imaging.path, SERIES)
    qtbot.waitUntil(lambda: panel.masks is not None, timeout=5000)
    assert panel.roi_source.currentText() == "ImageSegmentation/PlaneSegmentation"
    assert len(panel.overlay.outlines.xData) == 2 * len(panel.masks.outlines()[0])
    panel.seek(12)
    _wait_frame(qtbot, panel, 12)
    # hover over the bar (ROI id 11)
    qtbot.mouseMove(
        panel.canvas.viewport(), panel.canvas.mapFromScene(panel.canvas.scene_point(14.5, 15.5))
    )
    qtbot.waitUntil(lambda: "ROI id 11" in panel.status.text(), timeout=3000)
    assert panel.overlay.hovered == 1
    selected, traces = [], []
    panel.roi_selected.connect(lambda row, roi_id: selected.append((row, roi_id)))
    panel.trace_shown.connect(lambda path, column: traces.append((path, column)))
    _click(qtbot, panel, 12.5, 15.5)
    qtbot.waitUntil(lambda: bool(traces), timeout=5000)
    assert selected == [(1, 11)] and panel.overlay.selected == 1
    assert traces == [(FLUORESCENCE, 1)]
    # the parent's name tells apart pynwb's several series all named RoiResponseSeries
    assert panel.trace_strip.title.text() == "ROI id 11 · Fluorescence/RoiResponseSeries"
    np.testing.assert_allclose(panel.trace_strip.values, imaging.traces[:, 1])
    np.testing.assert_allclose(panel.trace_strip.times, 2.0 + np.arange(60) / 30.0)
    assert panel.trace_strip.isVisible()
    assert panel.trace_strip.cursor.value() == pytest.approx(2.0 + 12 / 30.0)
    assert panel.context.time_cursor.time == pytest.approx(2.0 + 12 / 30.0)
    # the corner ROI (row 2) is also in DfOverF, which is preferred: there it is column 0
    _click(qtbot, panel, 22.5, 16.5)
    qtbot.waitUntil(lambda: len(traces) == 2, timeout=5000)
    assert selected[-1] == (2, 12) and traces[-1] == (DFF, 0)
    np.testing.assert_allclose(panel.trace_strip.values, imaging.traces[:, 2])
    # clicking empty background selects nothing
    _click(qtbot, panel, 0.5, 0.5)
    assert len(selected) == 2
    # "Open in trace panel" asks the window for a linked trace pane on the ROI's column
    qtbot.mouseClick(panel.trace_strip.open_button, Qt.MouseButton.LeftButton)
    assert panel.context.opened == [(DFF, {"channels": [0]})]
    _click(qtbot, panel, 12.5, 15.5, double=True)
    qtbot.waitUntil(lambda: len(panel.context.opened) == 2, timeout=3000)
    assert panel.context.opened[-1] == (FLUORESCENCE, {"channels": [1]})
    assert selected[-1] == (1, 11)


def test_roi_overlay_modes(make_panel, qtbot, imaging):
    panel = make_panel(imaging.path, SERIES)
    qtbot.waitUntil(lambda: panel.masks is not None, timeout=5000)
    panel.roi_mode.setCurrentText("fills")
    assert panel.overlay.fill.isVisible() and not panel.overlay.outlines.isVisible()
    fill = panel.overlay.fill.image
    assert fill.shape == (24, 20, 4)
    assert fill[3, 4, 3] > 0 and fill[0, 0, 3] == 0
    panel.roi_mode.setCurrentText("hidden")
    assert panel.overlay.roi_at(3.5, 4.5) is None
    panel.roi_source.setCurrentText("none")
    assert panel.masks is None


# --------------------------------------------------------------------------- other shapes
def test_volumetric_plane_slider(make_panel, qtbot, tmp_path):
    info = write_voxel_file(tmp_path)
    panel = make_panel(info.path, "/acquisition/Volume")
    _wait_frame(qtbot, panel, 0)
    assert panel.playback.plane.isVisibleTo(panel)
    np.testing.assert_array_equal(panel.picture, info.frames[0, :, :, 0])
    panel.playback.plane.setValue(2)
    np.testing.assert_array_equal(panel.picture, info.frames[0, :, :, 2])
    qtbot.waitUntil(lambda: panel.masks is not None, timeout=5000)
    assert panel.overlay.plane == 2
    assert panel.overlay.roi_at(16.0, 10.0) == 1


def test_images_container_steps_through_pictures(make_panel, qtbot, tmp_path):
    path, arrays = write_images_file(tmp_path)
    panel = make_panel(path, "/processing/ophys/summary")
    _wait_frame(qtbot, panel, 0)
    np.testing.assert_array_equal(panel.picture, arrays["zz_gray"])
    assert panel.playback.label.text() == "zz_gray"
    assert not panel.mode.isVisibleTo(panel)  # no projections of unrelated pictures
    panel.step(1)
    _wait_frame(qtbot, panel, 1)
    np.testing.assert_array_equal(panel.picture, arrays["aa_rgb"])
    shown = panel.canvas.frame_item.array
    assert shown.shape == (24, 20)
    x, y = 5, 7
    r, g, b = (int(shown[x, y]) >> 16) & 255, (int(shown[x, y]) >> 8) & 255, int(shown[x, y]) & 255
    expected_levels = DisplayMapper().to_uint8(arrays["aa_rgb"][x, y], panel.contrast_settings)
    assert (r, g, b) == tuple(int(v) for v in expected_levels)


def test_external_video_missing_is_named(make_panel, tmp_path):
    path = write_external_file(tmp_path, create_video=False)
    panel = make_panel(path, "/acquisition/behavior_video")
    text = panel.video_view.message.text()
    assert str((tmp_path / "videos" / "behavior.avi").resolve()) in text
    assert "missing" in text


def test_external_video_present_degrades_clearly(make_panel, tmp_path):
    path = write_external_file(tmp_path, create_video=True)
    panel = make_panel(path, "/acquisition/behavior_video")
    view = panel.video_view
    text = view.message.text()
    assert "/nonexistent/abs.avi" in text  # the missing one is named ...
    assert str((tmp_path / "videos" / "behavior.avi").resolve()) not in text  # ... not this
    if view.player is None:  # PySide6-Essentials has no Qt Multimedia: say so, offer to open
        assert "Qt Multimedia" in text
        buttons = [b.text() for b in view.findChildren(QPushButton)]
        assert buttons == ["Open behavior.avi"]


def test_panel_is_released_after_shutdown(qtbot, imaging):
    ctx = _context(imaging.path)
    panel = ImagePanel(ctx, ctx.file.node(SERIES))
    ref = weakref.ref(panel)
    qtbot.waitUntil(lambda: ref().picture is not None, timeout=5000)
    panel.shutdown()
    ctx.pool.wait(5000)
    panel.deleteLater()
    del panel
    qtbot.wait(50)
    gc.collect()
    assert ref() is None
    ctx.pool.shutdown()
    ctx.file.close()
