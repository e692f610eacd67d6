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
