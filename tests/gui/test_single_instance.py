"""One window per user, driven with real processes: hand-over, simultaneous launches, and a
killed first instance."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ndviewer.gui.single_instance import hand_over_or_serve, send_files

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX processes")


@pytest.fixture
def instance_env(tmp_path, monkeypatch):
    name = f"ndviewer-test-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("NDVIEWER_INSTANCE", name)
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["NDVIEWER_INSTANCE"] = name
    env["NDVIEWER_CONFIG_DIR"] = str(tmp_path / "config")
    env["NDVIEWER_LOG_DIR"] = str(tmp_path / "log")
    return name, env


@pytest.fixture
def nwb_files(tmp_path, demo_file):
    paths = []
    for k in range(4):
        path = tmp_path / f"session{k}.nwb"
        shutil.copy(demo_file, path)
        paths.append(path)
    return paths


def launch(env, *files):
    return subprocess.Popen(
        [sys.executable, "-m", "ndviewer", *map(str, files)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for_tabs(name, count, timeout=30.0):
    deadline = time.monotonic() + timeout
    tabs = None
    while time.monotonic() < deadline:
        tabs = send_files([])
        if tabs is not None and len(tabs) >= count:
            return tabs
        time.sleep(0.1)
    return tabs


def test_a_second_launch_hands_its_file_to_the_running_window(qtbot, instance_env, nwb_files):
    name, env = instance_env
    server = hand_over_or_serve([])  # this test process is the running window
    assert server is not None
    received = []
    server.open_files = lambda files: received.extend(files) or list(received)
    try:
        started = time.perf_counter()
        second = launch(env, nwb_files[1])
        qtbot.waitUntil(lambda: second.poll() is not None, timeout=20000)
        elapsed = time.perf_counter() - started
        assert second.returncode == 0
        assert received == [str(nwb_files[1].resolve())]
        print(f"hand-over: second launch exited after {elapsed:.2f} s")
    finally:
        server.close()


def test_simultaneous_launches_end_with_one_window_and_every_file(instance_env, nwb_files):
    name, env = instance_env
    processes = [launch(env, path) for path in nwb_files]
    try:
        deadline = time.monotonic() + 60
        while sum(p.poll() is not None for p in processes) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        exited = [p for p in processes if p.poll() is not None]
        assert len(exited) == 3 and all(p.returncode == 0 for p in exited)
        tabs = wait_for_tabs(name, 4)
        assert sorted(tabs) == sorted(str(p.resolve()) for p in nwb_files)
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_after_the_first_instance_is_killed_the_next_launch_starts_normally(
    instance_env, nwb_files
):
    name, env = instance_env
    first = launch(env, nwb_files[0])
    try:
        assert wait_for_tabs(name, 1) == [str(nwb_files[0].resolve())]
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert send_files([]) is None  # its socket file is left, nobody answers
        second = launch(env, nwb_files[1])
        try:
            assert wait_for_tabs(name, 1) == [str(nwb_files[1].resolve())]
            assert second.poll() is None  # it is the window now
        finally:
            second.kill()
            second.wait()
    finally:
        if first.poll() is None:
            first.kill()


def test_new_window_opts_out(qtbot, instance_env, nwb_files):
    name, env = instance_env
    server = hand_over_or_serve([])
    received = []
    server.open_files = lambda files: received.extend(files) or []
    own = subprocess.Popen(
        [sys.executable, "-m", "ndviewer", str(nwb_files[2]), "--new-window"],
        env=env,
        cwd=REPO,
    )
    try:
        qtbot.wait(3000)  # a hand-over would have arrived and the process exited by now
        assert own.poll() is None and received == []
    finally:
        own.kill()
        own.wait()
        server.close()
