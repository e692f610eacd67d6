"""Fault injection: the saving process is SIGKILLed at every point of a save (and of a
rollback). Afterwards the file must open, pynwb must read it, every edited field must hold
either its old or its new value, untouched data must be byte-identical, and the journal must
restore the old values on request."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import h5py
import pytest

from ndviewer.core.edit.transaction import (
    ABSENT,
    FAULT_ENV,
    GroupValue,
    Link,
    Location,
    discard_journal,
    find_journal,
    journal_path,
    read_value,
    rollback_journal,
)
from ndviewer.core.errors import EditError
from tests.core.edit_fixtures import changed_keys, checksums, pynwb_read, write_nwb

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

SUBJECT_ID = "6f1c0b7e-1d2a-4c1e-9a51-0c7f1c2b9e10"
# The save under test: a new typed group and a field in it, a list that must be recreated
# (it grows), an attribute and a link. Old values are those of ``write_nwb``.
EDITS = {
    Location("/general/subject"): (ABSENT, GroupValue("Subject", "core", SUBJECT_ID)),
    Location("/general/subject/species"): (ABSENT, "Mus musculus"),
    Location("/general/experimenter"): (["Doe, Jane"], ["Doe, Jane", "Roe, Rick"]),
    Location("/general/devices/probe", "description"): ("silicon probe", "Neuropixels 1.0"),
    Location("/general/extracellular_ephys/shank0/device"): (
        Link("/general/devices/probe"),
        Link("/general/devices/scope"),
    ),
}

SAVE_SCRIPT = f"""
import sys
from ndviewer.core.edit.transaction import ABSENT, EditSession, GroupValue, Link, Location, ValueSpec
path = sys.argv[1]
session = EditSession(path)
session.apply([
    (Location("/general/subject"), GroupValue("Subject", "core", {SUBJECT_ID!r}), ValueSpec()),
    (Location("/general/subject/species"), "Mus musculus", ValueSpec(dtype="text")),
    (Location("/general/experimenter"), ["Doe, Jane", "Roe, Rick"],
     ValueSpec(dtype="text", shape=[None])),
    (Location("/general/devices/probe", "description"), "Neuropixels 1.0", ValueSpec()),
    (Location("/general/extracellular_ephys/shank0/device"), Link("/general/devices/scope"),
     ValueSpec()),
])
session.save()
print("saved")
"""

ROLLBACK_SCRIPT = """
import sys
from ndviewer.core.edit.transaction import rollback_journal
rollback_journal(sys.argv[1])
print("rolled back")
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return write_nwb(tmp_path_factory.mktemp("faults") / "template.nwb", subject=False)


def run(script: str, path, fault: str | None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop(FAULT_ENV, None)
    if fault is not None:
        env[FAULT_ENV] = fault
    return subprocess.run(
        [sys.executable, "-c", script, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def field_values(path) -> dict[Location, object]:
    with h5py.File(path, "r") as h5:
        return {location: read_value(h5, location) for location in EDITS}


def assert_readable_by_pynwb(path) -> None:
    with pynwb_read(path) as nwbfile:
        assert nwbfile.identifier == "file-0001"
        assert nwbfile.electrode_groups["shank0"].device.name in ("probe", "scope")


def number_of_steps(tmp_path, template) -> int:
    path = tmp_path / "count.nwb"
    shutil.copy(template, path)
    result = run(SAVE_SCRIPT, path, "journal-written")
    assert result.returncode == -signal.SIGKILL
    return len(find_journal(path).entries)


def fault_points(steps: int) -> list[str]:
    points = ["before-open", "before-journal", "journal-tmp-written", "journal-written"]
    for index in range(steps):
        points += [f"step-{index}-written", f"step-{index}-flushed"]
    return [*points, "closed", "verified", "journal-removed"]


def test_without_fault_the_save_completes(tmp_path, template):
    path = tmp_path / "ok.nwb"
    shutil.copy(template, path)
    result = run(SAVE_SCRIPT, path, None)
    assert result.returncode == 0, result.stderr
    assert field_values(path) == {loc: new for loc, (_, new) in EDITS.items()}
    assert find_journal(path) is None


def test_sigkill_at_every_point_of_a_save(tmp_path, template):
    original = checksums(template)
    old_values = {location: old for location, (old, _) in EDITS.items()}
    new_values = {location: new for location, (_, new) in EDITS.items()}
    edited_prefixes = (
        "/general/subject",
        "/general/experimenter",
        "/general/devices/probe@",
        "/general/extracellular_ephys/shank0/device",
    )
    points = fault_points(number_of_steps(tmp_path, template))
    assert len(points) >= 15
    outcomes = {}
    for point in points:
        path = tmp_path / f"{point}.nwb"
        shutil.copy(template, path)
        result = run(SAVE_SCRIPT, path, point)
        assert result.returncode == -signal.SIGKILL, (point, result.stderr)

        # The file opens, pynwb reads it, each field is old or new, the rest is untouched.
        assert_readable_by_pynwb(path)
        values = field_values(path)
        for location, value in values.items():
            assert value in (old_values[location], new_values[location]), (point, location)
        untouched = changed_keys(original, checksums(path))
        assert all(key.startswith(edited_prefixes) for key in untouched), (point, untouched)

        journal = find_journal(path)
        outcomes[point] = "journal" if journal else ("new" if values == new_values else "old")
        if journal is not None:
            assert len(journal.describe()) == len(journal.entries)
            rollback_journal(path)
            assert find_journal(path) is None
            assert field_values(path) == old_values, point
            assert checksums(path) == original, point
            assert_readable_by_pynwb(path)
        else:
            assert values in (old_values, new_values), point
            assert not journal_path(path).with_name(journal_path(path).name + ".tmp").exists()
    # Before the journal exists nothing was written; after it is removed all was.
    assert outcomes["before-open"] == outcomes["journal-tmp-written"] == "old"
    assert outcomes["journal-written"] == outcomes["verified"] == "journal"
    assert outcomes["journal-removed"] == "new"


def test_sigkill_during_rollback_then_rollback_again(tmp_path, template):
    original = checksums(template)
    path = tmp_path / "rollback.nwb"
    shutil.copy(template, path)
    assert run(SAVE_SCRIPT, path, "closed").returncode == -signal.SIGKILL
    steps = len(find_journal(path).entries)
    for index in reversed(range(steps)):
        result = run(ROLLBACK_SCRIPT, path, f"rollback-{index}-flushed")
        assert result.returncode == -signal.SIGKILL
        assert find_journal(path) is not None
        assert_readable_by_pynwb(path)
    rollback_journal(path)
    assert checksums(path) == original
    with pytest.raises(EditError, match="no interrupted save"):
        rollback_journal(path)


def test_keeping_the_new_values_discards_the_journal(tmp_path, template):
    path = tmp_path / "keep.nwb"
    shutil.copy(template, path)
    assert run(SAVE_SCRIPT, path, "verified").returncode == -signal.SIGKILL
    with pytest.raises(EditError, match="earlier save was interrupted"):
        from ndviewer.core.edit.transaction import check_writable

        check_writable(path)
    discard_journal(path)
    assert find_journal(path) is None
    assert field_values(path) == {loc: new for loc, (_, new) in EDITS.items()}
    with pynwb_read(path) as nwbfile:
        assert nwbfile.subject.species == "Mus musculus"
