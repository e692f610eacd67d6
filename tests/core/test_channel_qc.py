import numpy as np
import pytest

from ndviewer.core.signal.channel_qc import channel_qc, robust_spread


@pytest.fixture
def recording():
    rng = np.random.default_rng(7)
    data = rng.normal(0, 10, size=(30000, 8))
    data[::500, 1] -= 150  # spikes on channel 1 must not make it noisy
    data[:, 2] = 0.0  # dead
    data[:, 3] = np.clip(data[:, 3] * 40, -200, 200)  # clipped at the rails
    data[:, 5] *= 8  # noisy
    return data.astype(np.int16)


def test_flags_dead_saturated_and_noisy_channels(recording):
    qc = channel_qc(recording)
    assert list(np.flatnonzero(qc.dead)) == [2]
    assert list(np.flatnonzero(qc.saturated)) == [3]
    assert list(np.flatnonzero(qc.noisy)) == [5]
    assert [qc.label(c) for c in range(8)] == ["", "", "dead", "saturated", "", "noisy", "", ""]


def test_spread_is_the_gaussian_std_and_ignores_spikes():
    rng = np.random.default_rng(1)
    data = rng.normal(0, 3.0, size=(200000, 2))
    data[::100, 1] += 500
    spread = robust_spread(data)
    np.testing.assert_allclose(spread, [3.0, 3.0], rtol=0.03)


def test_nan_gaps_and_tiny_windows():
    data = np.random.default_rng(2).normal(size=(1000, 3))
    data[10:20, 0] = np.nan
    data[:, 2] = np.nan
    qc = channel_qc(data)
    assert not qc.dead[0] and qc.dead[2]
    single = channel_qc(np.zeros((1, 4)))
    assert not single.dead.any() and single.spread.shape == (4,)


def test_demo_recording_shows_its_dead_and_saturated_channel(demo_file):
    import h5py

    from tests.core.foundation_fixtures import load_make_demo

    demo = load_make_demo()
    with h5py.File(demo_file, "r") as h5:
        qc = channel_qc(h5["acquisition/ElectricalSeries/data"][:6000])
    assert list(np.flatnonzero(qc.dead)) == [demo.DEAD_CHANNEL]
    assert list(np.flatnonzero(qc.saturated)) == [demo.SATURATED_CHANNEL]
    assert not qc.noisy.any()


def test_smooth_and_short_windows_are_not_saturated():
    """A clean sine (float or quantised to int16) and short windows once read as saturated:
    ≥ 1 % of samples at the channel's own extreme is one sample in a 100-sample window."""
    t = np.arange(6000) / 1250.0
    sine = 1e-4 * np.sin(2 * np.pi * 8 * t)
    quantised = np.round(100 * np.sin(2 * np.pi * 8 * t)).astype(np.int16)
    data = np.column_stack([sine, sine * 2, np.cos(2 * np.pi * 3 * t)])
    assert not channel_qc(data).saturated.any()
    assert not channel_qc(quantised[:, None]).saturated.any()
    for n in (20, 60, 99):
        assert not channel_qc(data[:n]).saturated.any(), n
        assert not channel_qc(quantised[:n, None]).saturated.any(), n


def test_dtype_rails_and_flat_plateaus_are_saturated():
    rng = np.random.default_rng(4)
    noise = rng.normal(0, 1000, size=(5000, 3))
    data = noise.copy()
    data[:, 0] = np.clip(noise[:, 0] * 40 + 9000, -32768, 32767)  # at the int16 rail
    data[:, 1] = np.clip(noise[:, 1], None, 1500)  # a flat plateau at 1.5 σ
    qc = channel_qc(data.astype(np.int16))
    assert list(np.flatnonzero(qc.saturated)) == [0, 1]
    # a handful of samples at the rail is a spike, not saturation
    few = noise[:, :1].copy()
    few[:3, 0] = 32767
    assert not channel_qc(few.astype(np.int16)).saturated.any()


def test_qc_applies_to_electrophysiology_only():
    from ndviewer.core.model.catalog import fallback_catalog
    from ndviewer.core.signal.channel_qc import qc_applies

    catalog = fallback_catalog()
    assert qc_applies("ElectricalSeries", catalog.is_a)
    assert not qc_applies("SpatialSeries", catalog.is_a)
    assert not qc_applies("RoiResponseSeries", catalog.is_a)
    assert not qc_applies(None, catalog.is_a)
