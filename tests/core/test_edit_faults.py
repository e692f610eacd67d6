"""Crash safety: a real ``ndviewer edit`` process is SIGKILLed at every named point of a save
and at 50 random moments inside it. Each time, with no follow-up action, pynwb must read the
file at its original path with all-old or all-new values, its validator must pass, the rest of
the file must be byte-identical, and a later save must work. Legacy journals (left by the
in-place saves of older versions) must roll back through the same safe path."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest

from ndviewer.core.edit.atomic_save import FAULT_ENV, STAGES_ENV, leftovers, temp_path
from ndviewer.core.edit.journal import (
    discard_journal,
    find_journal,
    rollback_journal,
    write_journal,
)
from ndviewer.core.edit.states import ABSENT, GroupValue, Link, Location, read_state, read_value
from ndviewer.core.errors import EditError
from tests.core.edit_fixtures import changed_keys, checksums, pynwb_errors, pynwb_read, write_nwb

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

REPO = Path(__file__).resolve().parents[2]
# The save under test: a new typed group and a field in it, a list that must be recreated
# (it grows), a scalar, an attribute and a link. Old values are those of ``write_nwb``.
EDIT_ARGS = [
    "--set",
    "general/subject/species=Mus musculus",
    "--set",
    'general/experimenter=["Doe, Jane", "Roe, Rick"]',
    "--set",
    "general/lab=New lab",
    "--set",
    "general/devices/probe/description=Neuropixels 1.0",
    "--set",
    "general/extracellular_ephys/shank0/device=/general/devices/scope",
]
FIELDS = {
    Location("/general/subject/species"): (ABSENT, "Mus musculus"),
    Location("/general/experimenter"): (["Doe, Jane"], ["Doe, Jane", "Roe, Rick"]),
    Location("/general/lab"): ("Lab", "New lab"),
    Location("/general/devices/probe", "description"): ("silicon probe", "Neuropixels 1.0"),
    Location("/general/extracellular_ephys/shank0/device"): (
        Link("/general/devices/probe"),
        Link("/general/devices/scope"),
    ),
}
OLD = {location: old for location, (old, _) in FIELDS.items()}
NEW = {location: new for location, (_, new) in FIELDS.items()}
EDITED_PREFIXES = (
    "/general/subject",
    "/general/experimenter",
    "/general/lab",
    "/general/devices/probe@",
    "/general/extracellular_ephys/shank0/device",
)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return write_nwb(tmp_path_factory.mktemp("faults") / "template.nwb", subject=False)


def edit_command(path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "ndviewer", "edit", str(path), *extra, *EDIT_ARGS]


def run_edit(path: Path, fault: str | None = None, stages: Path | None = None):
    env = {k: v for k, v in os.environ.items() if k not in (FAULT_ENV, STAGES_ENV)}
    if fault is not None:
        env[FAULT_ENV] = fault
    if stages is not None:
        env[STAGES_ENV] = str(stages)
    return subprocess.run(
        edit_command(path), env=env, cwd=REPO, capture_output=True, text=True, timeout=60
    )


def field_values(path: Path) -> dict[Location, object]:
    with h5py.File(path, "r") as h5:
        return {location: read_value(h5, location) for location in FIELDS}


def assert_old_or_new(path: Path, original: dict[str, str], label: str) -> str:
    """The whole promise, checked on the file at its own path: returns "old" or "new"."""
    values = field_values(path)
    assert values in (OLD, NEW), (label, values)
    with pynwb_read(path) as nwbfile:  # pynwb reads it
        assert nwbfile.identifier == "file-0001"
        assert nwbfile.lab == values[Location("/general/lab")]
        assert nwbfile.electrode_groups["shank0"].device.name in ("probe", "scope")
    assert pynwb_errors(path) == [], label  # and its validator passes
    changed = changed_keys(original, checksums(path))
    assert all(key.startswith(EDITED_PREFIXES) for key in changed), (label, changed)
    return "new" if values == NEW else "old"


def stage_times(tmp_path: Path, template: Path) -> list[tuple[str, float]]:
    path = tmp_path / "timed.nwb"
    shutil.copy(template, path)
    stages = tmp_path / "stages.txt"
    result = run_edit(path, stages=stages)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in stages.read_text().splitlines()]
    return [(name, float(t)) for name, t in rows]


def test_without_fault_the_save_completes_and_logs_every_stage(tmp_path, template):
    stages = [name for name, _ in stage_times(tmp_path, template)]
    assert stages[:3] == ["before-open", "planned", "copy-start"]
    assert stages[-3:] == ["synced", "renamed", "folder-synced"]
    assert "verified" in stages and "copied" in stages
    path = tmp_path / "timed.nwb"
    assert assert_old_or_new(path, checksums(template), "no fault") == "new"
    assert leftovers(path) == [] and not list(tmp_path.glob(".timed.nwb*"))


def test_sigkill_at_every_point_of_a_save(tmp_path, template):
    original = checksums(template)
    points = [name for name, _ in stage_times(tmp_path, template)]
    assert len(points) >= 15 and len(set(points)) == len(points)
    outcomes = {}
    for point in points:
        path = tmp_path / f"{point}.nwb"
        shutil.copy(template, path)
        result = run_edit(path, fault=point)
        assert result.returncode == -signal.SIGKILL, (point, result.stderr)
        outcomes[point] = assert_old_or_new(path, original, point)
        # What the kill left behind is a hidden temporary file at most, found as a leftover
        # (its owner is dead) and removed by the next save, which works.
        assert len(leftovers(path)) <= 1
        assert run_edit(path).returncode == 0 or outcomes[point] == "new"
        assert assert_old_or_new(path, original, f"after {point}") == "new"
        assert leftovers(path) == [] and not list(tmp_path.glob(f".{path.name}*"))
    # The original is untouched until the rename; from the rename on it is the new file.
    renamed_at = points.index("renamed")
    assert {outcomes[p] for p in points[:renamed_at]} == {"old"}
    assert {outcomes[p] for p in points[renamed_at:]} == {"new"}


def test_sigkill_at_50_random_moments_of_a_save(tmp_path, template):
    """Kills aimed uniformly over the save itself: each killed process logs its stages, the
    test waits for its first stage ("before-open"), then kills after a random delay drawn
    over 1.3 × the save's duration measured just before (so the aim holds on a loaded
    machine too, and about a quarter of the kills come after the save is complete)."""
    original = checksums(template)
    durations = []
    for attempt in range(3):
        stages = stage_times(tmp_path, template) if attempt == 0 else None
        if stages is None:
            path = tmp_path / f"span{attempt}.nwb"
            shutil.copy(template, path)
            log = tmp_path / f"span{attempt}.txt"
            assert run_edit(path, stages=log).returncode == 0
            stages = [
                (n, float(t)) for n, t in (line.split() for line in log.read_text().splitlines())
            ]
        durations.append(stages[-1][1] - stages[0][1])
    span = 1.3 * max(durations)
    rng = random.Random(20261205)
    outcomes = {"old": 0, "new": 0}
    env = {k: v for k, v in os.environ.items() if k not in (FAULT_ENV, STAGES_ENV)}
    for index in range(50):
        path = tmp_path / f"random{index}.nwb"
        shutil.copy(template, path)
        log = tmp_path / f"random{index}.txt"
        delay = rng.uniform(0.0, span)
        process = subprocess.Popen(
            edit_command(path),
            env=dict(env, **{STAGES_ENV: str(log)}),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not log.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.0005)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        outcomes[assert_old_or_new(path, original, f"random kill {index} at +{delay:.3f} s")] += 1
        subprocess.run(edit_command(path), env=env, cwd=REPO, check=True, capture_output=True)
        assert assert_old_or_new(path, original, f"save after kill {index}") == "new"
        assert leftovers(path) == []
    print(f"random kills: {outcomes}, save takes {max(durations) * 1000:.0f} ms")
    assert outcomes["old"] > 0 and outcomes["new"] > 0


def test_a_leftover_of_a_running_save_is_not_removed(tmp_path, template):
    """A temporary file is only a leftover when its lock is free (its save died)."""
    import fcntl

    path = tmp_path / "busy.nwb"
    shutil.copy(template, path)
    busy = path.with_name(f".{path.name}.ndviewer-save-999999.tmp")
    busy.write_bytes(b"partial")
    fd = os.open(busy, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert leftovers(path) == []
        assert run_edit(path).returncode == 0
        assert busy.exists()
    finally:
        os.close(fd)
    assert leftovers(path) == [busy]
    assert temp_path(path).name.startswith(f".{path.name}.ndviewer-save-")


def test_file_metadata_survives_a_save(tmp_path, template):
    path = tmp_path / "meta.nwb"
    shutil.copy(template, path)
    path.chmod(0o640)
    xattr = hasattr(os, "setxattr")
    if xattr:
        try:
            os.setxattr(path, "user.ndviewer.test", b"kept")
        except OSError:
            xattr = False
    inode = path.stat().st_ino
    assert run_edit(path).returncode == 0
    info = path.stat()
    assert info.st_ino != inode  # a new file took the name...
    assert info.st_mode & 0o777 == 0o640  # ...with the old one's permissions
    if xattr:
        assert os.getxattr(path, "user.ndviewer.test") == b"kept"


def test_a_symlinked_file_is_saved_through_the_link(tmp_path, template):
    real = tmp_path / "data" / "real.nwb"
    real.parent.mkdir()
    shutil.copy(template, real)
    link = tmp_path / "link.nwb"
    link.symlink_to(real)
    assert run_edit(link).returncode == 0
    assert link.is_symlink()
    assert field_values(real) == NEW


def test_not_enough_space_for_the_copy_is_refused_cleanly(tmp_path, template, monkeypatch):
    from ndviewer.core.edit import atomic_save
    from ndviewer.core.edit.transaction import EditSession

    path = tmp_path / "full.nwb"
    shutil.copy(template, path)
    before = checksums(path)
    monkeypatch.setattr(atomic_save, "_clone", lambda source, target: False)
    monkeypatch.setattr(atomic_save, "free_bytes", lambda folder: 1000)
    session = EditSession(path)
    session.set(Location("/general/lab"), "X", spec=None)
    with pytest.raises(EditError, match="has only 1.0 KB free"):
        session.save()
    assert checksums(path) == before and leftovers(path) == []
    assert not list(tmp_path.glob(".full.nwb*"))


def test_cancelling_the_copy_changes_nothing(tmp_path, template, monkeypatch):
    from ndviewer.core.edit import atomic_save
    from ndviewer.core.edit.states import Change, ValueSpec
    from ndviewer.core.edit.transaction import Transaction

    path = tmp_path / "cancel.nwb"
    shutil.copy(template, path)
    before = checksums(path)
    monkeypatch.setattr(atomic_save, "_clone", lambda source, target: False)
    monkeypatch.setattr(atomic_save, "COPY_SLICE", 4096)
    seen = []
    transaction = Transaction([Change(Location("/general/lab"), "Lab", "X", ValueSpec())])
    with pytest.raises(atomic_save.SaveCancelled):
        transaction.commit(
            path, progress=lambda done, total: seen.append(done), cancelled=lambda: len(seen) >= 3
        )
    assert seen == [4096, 8192, 12288]
    assert checksums(path) == before and not list(tmp_path.glob(".cancel.nwb*"))
    size = path.stat().st_size
    report = transaction.commit(path, progress=lambda done, total: seen.append(done))
    assert report.method in ("copy_file_range", "copy") and report.bytes_copied == size
    assert seen[-1] == size
    assert field_values(path)[Location("/general/lab")] == "X"


# -- journals left by the in-place saves of older versions -------------------------------------
def _legacy_journal(path: Path) -> list[dict]:
    """Do what an old in-place save did up to a kill: journal, then write the new values."""
    entries = []
    with h5py.File(path, "r+") as h5:
        for location in (
            Location("/general/lab"),
            Location("/general/devices/probe", "description"),
        ):
            prior = read_state(h5, location)
            target = dict(prior, value="changed")
            entries.append(
                {
                    "location": {"path": location.path, "attribute": location.attribute},
                    "prior": prior,
                    "target": target,
                }
            )
    write_journal(path, entries)
    from ndviewer.core.edit.states import write_state

    with h5py.File(path, "r+") as h5:
        write_state(h5, Location("/general/lab"), entries[0]["target"])
    return entries


def test_a_legacy_journal_rolls_back_through_the_safe_save(tmp_path, template):
    path = tmp_path / "legacy.nwb"
    shutil.copy(template, path)
    _legacy_journal(path)
    assert field_values(path)[Location("/general/lab")] == "changed"
    with pytest.raises(EditError, match="earlier save was interrupted"):
        from ndviewer.core.edit.transaction import check_writable

        check_writable(path)
    lines = rollback_journal(path)
    assert len(lines) == 2 and find_journal(path) is None
    assert field_values(path)[Location("/general/lab")] == "Lab"
    assert pynwb_errors(path) == []
    with pytest.raises(EditError, match="no interrupted save"):
        rollback_journal(path)


def test_rolling_back_an_unreadable_file_says_so_and_keeps_everything(tmp_path, template):
    path = tmp_path / "torn.nwb"
    shutil.copy(template, path)
    _legacy_journal(path)
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the torn metadata an in-place kill can leave
    path.write_bytes(bytes(data))
    with pytest.raises(EditError) as caught:
        rollback_journal(path)
    assert str(path) in caught.value.message
    assert path.read_bytes() == bytes(data) and find_journal(path) is not None
    discard_journal(path)  # "keep" never deletes the file
    assert path.exists() and find_journal(path) is None


def test_a_new_group_is_created_in_one_save(tmp_path, template):
    path = tmp_path / "group.nwb"
    shutil.copy(template, path)
    assert run_edit(path).returncode == 0
    with h5py.File(path, "r") as h5:
        state = read_state(h5, Location("/general/subject"))
    assert state["kind"] == "group"
    assert state["attrs"]["neurodata_type"]["value"] == GroupValue("Subject").neurodata_type


def test_info_removes_what_a_killed_save_left(tmp_path, template):
    path = tmp_path / "left.nwb"
    shutil.copy(template, path)
    assert run_edit(path, fault="copied").returncode == -signal.SIGKILL
    assert len(leftovers(path)) == 1
    env = {k: v for k, v in os.environ.items() if k not in (FAULT_ENV, STAGES_ENV)}
    info = subprocess.run(
        [sys.executable, "-m", "ndviewer", "info", str(path), "--json", "--no-cache"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert info.returncode == 0, info.stderr
    assert "left by an interrupted save" in info.stderr
    assert leftovers(path) == [] and not list(tmp_path.glob(".left.nwb*"))
