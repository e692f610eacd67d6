"""The trace panel's state without Qt: window fitting, channel pages, spacing, requests."""

from __future__ import annotations

import numpy as np
import pytest

from ndviewer.core.nwb.timeseries import Channel, TimeSeriesSource
from ndviewer.core.signal.lod import TraceLod
from ndviewer.gui.panels.traces.state import TRACE_COLORS, TraceState, default_length


def opened_state(n_channels: int = 6, n_samples: int = 10_000, rate: float = 1000.0):
    groups = ["a", "a", "b", "b", "c", "c"][:n_channels]
    channels = [Channel(i, f"e{i}", group=g) for i, g in enumerate(groups)]
    data = np.zeros((n_samples, n_channels), np.int16)
    source = TimeSeriesSource.from_numpy(
        data, rate=rate, starting_time=2.0, unit="volts", channels=channels
    )
    state = TraceState()
    state.open(source, TraceLod(source))
    return state


def test_open_selects_every_channel_coloured_by_group() -> None:
    state = opened_state()
    assert state.page_channels == [0, 1, 2, 3, 4, 5]
    assert state.colors.tolist() == [1, 1, 2, 2, 3, 3]
    assert default_length(state.source) == 3.0  # 3000 samples at 1 kHz


def test_window_is_kept_inside_the_recording_when_clamped() -> None:
    state = opened_state()
    assert state.bounds() == (2.0, pytest.approx(12.0))  # through the end of the last sample
    assert state.min_window() == 0.008
    assert state.fit_window(11.0, 13.0, clamp=True) == (pytest.approx(10.0), pytest.approx(12.0))
    assert state.fit_window(0.0, 1.0, clamp=True) == (2.0, 3.0)
    assert state.fit_window(0.0, 1.0, clamp=False) == (0.0, 1.0)  # a shared window as is
    assert state.fit_window(5.0, 5.0, clamp=False) == (5.0, 5.008)


def test_channel_pages_stay_full_and_selections_restart_at_the_first() -> None:
    state = opened_state()
    assert state.resize_page(4) and not state.resize_page(4)
    assert state.turn_page(1) and state.page_channels == [2, 3, 4, 5]  # last page stays full
    assert not state.turn_page(1)
    assert state.turn_page(-1) and state.page_channels == [0, 1, 2, 3]
    state.select(state.channels_where("group", "b"))
    assert state.page_channels == [2, 3] and state.page_start == 0


def test_auto_spacing_and_the_request() -> None:
    state = opened_state()
    state.apply_stats(np.arange(6.0), np.array([1e-5, 2e-5, 2e-5, 3e-5, np.nan, 0.0]), 600)
    assert state.sigma == pytest.approx(2e-5)  # median of the finite, positive spreads
    assert state.spacing == pytest.approx(8 * 2e-5)  # lanes of 100 px: no widening
    assert (state.display_unit, state.display_scale) == ("µV", 1e6)
    assert state.auto_spacing_value(30) == pytest.approx(8 * 2e-5 * 2)  # 5 px lanes
    assert state.reapply_auto_spacing(30) and not state.reapply_auto_spacing(30)
    state.gain, state.highlight = 2.0, 3
    state.window = (4.0, 5.0)
    request = state.make_request(800, 300)
    assert (request.t0, request.t1, request.width, request.height) == (4.0, 5.0, 800, 300)
    assert request.channels == (0, 1, 2, 3, 4, 5)
    assert request.baselines == (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)
    assert request.gains == (pytest.approx(2.0 / state.spacing),) * 6
    assert request.colors == (1, 1, 2, len(TRACE_COLORS) + 1, 3, 3)  # the highlight
    assert TraceState().make_request(800, 300) is None  # nothing open yet


def test_auto_spacing_ignores_one_loud_channel() -> None:
    """One saturated channel among a few set the automatic spacing (the median of two spreads
    is their mean), squashing the quiet channels to flat lines."""
    state = opened_state(n_channels=4)
    state.apply_stats(np.zeros(4), np.array([1.0, 1.2, 0.9, 5000.0]), plot_height=400)
    assert state.sigma == 1.0
    assert state.spacing == pytest.approx(8.0)
    state.apply_stats(np.zeros(4), np.array([1.0, 1.0, 1.0, 1.0]), plot_height=400)
    assert state.spacing == pytest.approx(8.0)


def test_requests_clip_lanes_unless_turned_off() -> None:
    state = opened_state()
    state.apply_stats(np.zeros(6), np.ones(6), 600)
    assert state.make_request(800, 600).clip == 0.5
    state.clip_lanes = False
    assert state.make_request(800, 600).clip == 0.0
