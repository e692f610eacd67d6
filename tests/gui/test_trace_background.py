"""Background jobs of the trace panel: the session strip of an LFP-only file is drawn, and a
failed job is logged, shown on the status line and can be retried (no error vanishes)."""

from __future__ import annotations

import logging

import h5py
import numpy as np
import pytest

from tests.gui.test_trace_panel import make_context, make_panel

LFP = "/processing/ecephys/LFP/LFP"


@pytest.fixture(scope="module")
def lfp_only_path(tmp_path_factory):
    """60 s × 64 channels of LFP at 2.5 kHz and nothing else: long enough to have a pyramid
    key, too small for the automatic build."""
    path = tmp_path_factory.mktemp("lfp_only") / "lfp.nwb"
    rate, n = 2500.0, 150_000
    rng = np.random.default_rng(3)
    t = np.arange(n) / rate
    data = rng.normal(0, 20e-6, size=(n, 64)) + 1e-4 * np.sin(2 * np.pi * 8 * t)[:, None]
    data[60_000:65_000] *= 8  # a burst the strip must show
    with h5py.File(path, "w") as f:
        f.attrs["neurodata_type"] = "NWBFile"
        f.attrs["namespace"] = "core"
        f.attrs["nwb_version"] = "2.8.0"
        group = f.create_group("processing/ecephys/LFP")
        group.attrs["neurodata_type"] = "LFP"
        group.attrs["namespace"] = "core"
        series = group.create_group("LFP")
        series.attrs["neurodata_type"] = "ElectricalSeries"
        series.attrs["namespace"] = "core"
        ds = series.create_dataset("data", data=data.astype(np.float32), chunks=(5000, 64))
        ds.attrs["unit"] = "volts"
        ds.attrs["conversion"] = 1.0
        st = series.create_dataset("starting_time", data=0.0)
        st.attrs["rate"] = rate
    return path


def test_lfp_only_session_strip_is_drawn(qtbot, lfp_only_path):
    ctx = make_context(lfp_only_path)
    try:
        panel = make_panel(qtbot, ctx, LFP)
        assert panel.pyramid.key  # the case that stayed blank
        qtbot.waitUntil(lambda: panel.overview.shown, timeout=20_000)
        image = panel.overview.image.image
        assert image is not None and (np.asarray(image) > 0).any()
        assert panel.overview.error is None
        panel.shutdown()
    finally:
        ctx.pool.shutdown()
        ctx.file.close()


def test_a_failed_strip_is_logged_shown_and_retried(qtbot, lfp_only_path, caplog):
    ctx = make_context(lfp_only_path)
    try:
        panel = make_panel(qtbot, ctx, LFP)
        qtbot.waitUntil(lambda: panel.overview.shown, timeout=20_000)
        real_fetch = panel.state.lod.fetch
        calls = []

        def broken_fetch(*args, **kwargs):
            calls.append(1)
            raise OSError("disk unplugged")

        panel.state.lod.fetch = broken_fetch
        panel.overview.shown = False
        with caplog.at_level(logging.ERROR):
            panel.overview.request(800)
            qtbot.waitUntil(lambda: panel.overview.error is not None, timeout=10_000)
        assert panel.overview.error == "disk unplugged"
        assert "disk unplugged" in caplog.text  # logged
        text = panel.status.plain_text()
        assert "session strip failed: disk unplugged retry" in text  # shown, with a retry
        assert panel.overview.message.isVisible()
        panel.state.lod.fetch = real_fetch
        panel.status.linkActivated.emit("retry:overview")  # the user clicks "retry"
        qtbot.waitUntil(lambda: panel.overview.shown, timeout=10_000)
        assert panel.overview.error is None and not panel.overview.message.isVisible()
        assert "failed" not in panel.status.plain_text()
        panel.shutdown()
    finally:
        ctx.pool.shutdown()
        ctx.file.close()
