"""The edit transaction through the core API, checked against pynwb, its validator and
nwbinspector, with every untouched dataset and attribute compared by checksum."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime, timedelta, timezone

import h5py
import numpy as np
import pytest

from ndviewer.core.edit import states
from ndviewer.core.edit import transaction as edit
from ndviewer.core.edit.forms import resolve_field, set_field
from ndviewer.core.edit.journal import find_journal
from ndviewer.core.edit.states import ABSENT, GroupValue, Link, Location, ValueSpec
from ndviewer.core.edit.transaction import EditSession, Transaction
from ndviewer.core.errors import EditError
from ndviewer.core.model.catalog import load_catalog
from tests.core.edit_fixtures import (
    changed_keys,
    checksums,
    inspector_findings,
    pynwb_errors,
    pynwb_read,
    write_nwb,
)


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    folder = tmp_path_factory.mktemp("templates")
    return {
        "full": write_nwb(folder / "full.nwb"),
        "no_subject": write_nwb(folder / "no_subject.nwb", subject=False),
    }


@pytest.fixture
def nwb_path(tmp_path, templates):
    path = tmp_path / "session.nwb"
    shutil.copy(templates["full"], path)
    return path


@pytest.fixture
def no_subject_path(tmp_path, templates):
    path = tmp_path / "no_subject.nwb"
    shutil.copy(templates["no_subject"], path)
    return path


def catalog_of(path):
    with h5py.File(path, "r") as h5:
        return load_catalog(h5)


def edit_fields(path, values: dict[str, object]) -> EditSession:
    """Set fields by path through the form model and save, as ``ndviewer edit`` does."""
    catalog = catalog_of(path)
    session = EditSession(path)
    for field_path, value in values.items():
        form, form_field = resolve_field(session, catalog, field_path)
        set_field(session, form, form_field.key, value)
    session.save()
    return session


EST = timezone(timedelta(hours=-5))

# (field path, new value, what pynwb returns, checksum keys expected to change)
ROUND_TRIPS = {
    "text": (
        "session_description",
        "mouse on a wheel",
        lambda n: n.session_description,
        "mouse on a wheel",
        {"/session_description"},
    ),
    "multiline text": (
        "general/notes",
        "line one\nline two",
        lambda n: n.notes,
        "line one\nline two",
        {"/general/notes"},
    ),
    "list of strings (grows)": (
        "general/experimenter",
        ["Doe, Jane", "Roe, Rick"],
        lambda n: list(n.experimenter),
        ["Doe, Jane", "Roe, Rick"],
        {"/general/experimenter"},
    ),
    "list of strings (shrinks)": (
        "general/related_publications",
        [],
        lambda n: n.related_publications,
        None,
        {"/general/related_publications"},
    ),
    "date-time with timezone": (
        "session_start_time",
        "2023-12-01T09:30:00-05:00",
        lambda n: n.session_start_time,
        datetime(2023, 12, 1, 9, 30, tzinfo=EST),
        {"/session_start_time"},
    ),
    "ISO 8601 duration range": (
        "general/subject/age",
        "P90D/P120D",
        lambda n: n.subject.age,
        "P90D/P120D",
        {"/general/subject/age"},
    ),
    "enum": ("general/subject/sex", "M", lambda n: n.subject.sex, "M", {"/general/subject/sex"}),
    "number (dataset)": (
        "general/optophysiology/plane0/excitation_lambda",
        910.5,
        lambda n: n.imaging_planes["plane0"].excitation_lambda,
        910.5,
        {"/general/optophysiology/plane0/excitation_lambda"},
    ),
    "number (attribute)": (
        "acquisition/speed/starting_time@rate",
        20.0,
        lambda n: n.acquisition["speed"].rate,
        20.0,
        {"/acquisition/speed/starting_time@rate"},
    ),
    "text attribute": (
        "general/devices/probe/description",
        "Neuropixels 1.0",
        lambda n: n.devices["probe"].description,
        "Neuropixels 1.0",
        {"/general/devices/probe@description"},
    ),
    "attribute of a dataset": (
        "acquisition/speed/data@unit",
        "cm/s",
        lambda n: n.acquisition["speed"].unit,
        "cm/s",
        {"/acquisition/speed/data@unit"},
    ),
    "reference": (
        "general/extracellular_ephys/shank0/device",
        Link("/general/devices/scope"),
        lambda n: n.electrode_groups["shank0"].device.name,
        "scope",
        {"/general/extracellular_ephys/shank0/device->"},
    ),
    "new optional dataset": (
        "general/surgery",
        "craniotomy over V1",
        lambda n: n.surgery,
        "craniotomy over V1",
        {"/general/surgery"},
    ),
    "number list": (
        "general/optophysiology/plane0/origin_coords",
        [1.0, 2.0, 0.5],
        lambda n: list(n.imaging_planes["plane0"].origin_coords),
        [1.0, 2.0, 0.5],
        {
            "/general/optophysiology/plane0/origin_coords",
            "/general/optophysiology/plane0/origin_coords@unit",
        },
    ),
}


@pytest.mark.parametrize("kind", list(ROUND_TRIPS))
def test_round_trip_each_field_kind(nwb_path, kind):
    field_path, value, read, expected, expected_changes = ROUND_TRIPS[kind]
    before = checksums(nwb_path)
    edit_fields(nwb_path, {field_path: value})
    with pynwb_read(nwb_path) as nwbfile:
        assert read(nwbfile) == expected
    assert changed_keys(before, checksums(nwb_path)) == expected_changes
    assert find_journal(nwb_path) is None


def test_all_kinds_together_validate_clean_with_pynwb(nwb_path):
    assert pynwb_errors(nwb_path) == []
    edit_fields(nwb_path, {path: value for path, value, *_ in ROUND_TRIPS.values()})
    with pynwb_read(nwb_path) as nwbfile:
        for path, _value, read, expected, _ in ROUND_TRIPS.values():
            assert read(nwbfile) == expected, path
    assert pynwb_errors(nwb_path) == []


def test_create_missing_subject_exactly_as_pynwb_writes_it(no_subject_path, tmp_path):
    before = checksums(no_subject_path)
    findings = inspector_findings(no_subject_path)
    assert ("check_subject_exists", "/") in findings
    values = {
        "general/subject/subject_id": "m17",
        "general/subject/species": "Mus musculus",
        "general/subject/sex": "F",
        "general/subject/age": "P90D",
        "general/subject/description": "C57BL/6J from Jackson",
        "general/subject/date_of_birth": "2023-10-07T00:00:00+00:00",
    }
    edit_fields(no_subject_path, values)

    with pynwb_read(no_subject_path) as nwbfile:
        subject = nwbfile.subject
        assert (subject.subject_id, subject.species, subject.sex, subject.age) == (
            "m17",
            "Mus musculus",
            "F",
            "P90D",
        )
        assert subject.age__reference == "birth"
        assert subject.date_of_birth == datetime(2023, 10, 7, tzinfo=UTC)
    assert pynwb_errors(no_subject_path) == []
    after = inspector_findings(no_subject_path)
    assert not {f for f in after if f[0].startswith("check_subject")}
    # nothing new appeared anywhere else
    assert after == {f for f in findings if f[0] != "check_subject_exists"}

    changed = changed_keys(before, checksums(no_subject_path))
    assert all(key.startswith("/general/subject") for key in changed)

    # Same on-disk form as a Subject written by pynwb itself.
    reference = write_nwb(tmp_path / "reference.nwb")
    with h5py.File(no_subject_path, "r") as ours, h5py.File(reference, "r") as theirs:
        for name in ("subject_id", "species", "sex", "age", "description"):
            assert ours[f"general/subject/{name}"].dtype == theirs[f"general/subject/{name}"].dtype
            assert ours[f"general/subject/{name}"].shape == ()
        assert ours["general/subject/date_of_birth"].dtype == h5py.string_dtype("ascii")
        assert dict(ours["general/subject/age"].attrs) == {"reference": "birth"}
        group, pynwb_group = ours["general/subject"], theirs["general/subject"]
        assert sorted(group.attrs) == sorted(pynwb_group.attrs)
        for key in group.attrs:
            assert group.attrs.get_id(key).dtype == pynwb_group.attrs.get_id(key).dtype
            assert group.attrs.get_id(key).shape == pynwb_group.attrs.get_id(key).shape
        assert group.attrs["neurodata_type"] == "Subject"
        assert group.attrs["namespace"] == "core"
        assert uuid.UUID(group.attrs["object_id"]).version == 4


def test_create_device_in_a_file_without_devices_group(tmp_path):
    path = write_nwb(tmp_path / "bare.nwb", ecephys=False, ophys=False, timeseries=False)
    with h5py.File(path, "a") as h5:  # a file with no /general/devices at all
        del h5["general/devices"]
    edit_fields(path, {"general/devices/laser/description": "473 nm laser"})
    with pynwb_read(path) as nwbfile:
        assert nwbfile.devices["laser"].description == "473 nm laser"
    assert pynwb_errors(path) == []
    with h5py.File(path, "r") as h5:
        assert dict(h5["general/devices"].attrs) == {}
        assert h5["general/devices/laser"].attrs["neurodata_type"] == "Device"


def test_inspector_findings_for_filled_fields_disappear(tmp_path):
    path = write_nwb(tmp_path / "bad.nwb", experimenter=("Jane Doe",))
    with h5py.File(path, "a") as h5:
        del h5["general/related_publications"]
        h5["general/related_publications"] = np.array(["PMID 123"], dtype=h5py.string_dtype())
        del h5["general/keywords"]
    before = inspector_findings(path)
    expected = {"check_experimenter_form", "check_doi_publications", "check_keywords"}
    assert expected <= {name for name, _ in before}
    edit_fields(
        path,
        {
            "general/experimenter": ["Doe, Jane"],
            "general/related_publications": ["doi:10.1038/nature12373"],
            "general/keywords": ["V1", "orientation tuning"],
        },
    )
    after = inspector_findings(path)
    assert not expected & {name for name, _ in after}
    assert after == {f for f in before if f[0] not in expected}


def test_invalid_values_are_refused_with_examples(nwb_path):
    catalog = catalog_of(nwb_path)
    session = EditSession(nwb_path)
    cases = {
        "general/subject/species": ("mouse", "'Mus musculus'"),
        "general/subject/age": ("3 months", "P90D"),
        "general/subject/sex": ("female", "F (female)"),
        "general/experimenter": (["Jane Doe"], "'Doe, Jane'"),
        "general/related_publications": (["PMID 1"], "doi:10."),
        "session_start_time": ("2024-01-05T10:00:00", "no timezone"),
        "general/optophysiology/plane0/excitation_lambda": ("920nm", "not a number"),
    }
    for field_path, (value, expected) in cases.items():
        form, form_field = resolve_field(session, catalog, field_path)
        with pytest.raises(
            EditError, match=expected.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")
        ):
            set_field(session, form, form_field.key, value)
    assert session.pending() == []


def test_ascii_datetime_stays_ascii_and_non_ascii_is_refused(nwb_path):
    edit_fields(nwb_path, {"timestamps_reference_time": "2024-01-05T09:00:00+01:00"})
    with h5py.File(nwb_path, "r") as h5:
        info = h5py.check_string_dtype(h5["timestamps_reference_time"].dtype)
        assert (info.encoding, info.length) == ("ascii", None)
        assert h5["timestamps_reference_time"][()] == b"2024-01-05T09:00:00+01:00"
    change = states.Change(
        Location("/session_start_time"),
        "2024-01-05T10:00:00+00:00",
        "2024-01-05T10:00:00+00:00é",
        ValueSpec(dtype="text"),
    )
    with pytest.raises(EditError, match="non-ASCII characters but the file stores this field"):
        Transaction([change]).commit(nwb_path)


def test_fixed_length_string_is_widened_not_truncated(nwb_path):
    with h5py.File(nwb_path, "a") as h5:
        del h5["general/lab"]
        h5.create_dataset("general/lab", data=np.bytes_("Lab"), dtype="S3")
    edit_fields(nwb_path, {"general/lab": "Smith lab"})
    with h5py.File(nwb_path, "r") as h5:
        info = h5py.check_string_dtype(h5["general/lab"].dtype)
        assert (info.encoding, info.length) == ("ascii", 9)
        assert h5["general/lab"][()] == b"Smith lab"
    with pynwb_read(nwb_path) as nwbfile:
        assert nwbfile.lab == "Smith lab"


def test_scalar_list_field_in_an_old_file_stays_scalar(nwb_path):
    with h5py.File(nwb_path, "a") as h5:
        del h5["general/experimenter"]
        h5["general/experimenter"] = "Doe, Jane"  # older writers stored one string
    edit_fields(nwb_path, {"general/experimenter": ["Roe, Rick"]})
    with h5py.File(nwb_path, "r") as h5:
        assert h5["general/experimenter"].shape == ()
        assert h5["general/experimenter"][()] == b"Roe, Rick"
    session = EditSession(nwb_path)
    location = Location("/general/experimenter")
    session.set(location, ["Roe, Rick", "Doe, Jane"], ValueSpec(dtype="text", shape=[None]))
    with pytest.raises(EditError, match="holds one value in the file"):
        session.save()


def test_in_place_float_keeps_float64_and_int_is_coerced(nwb_path):
    session = EditSession(nwb_path)
    location = Location("/general/optophysiology/plane0/imaging_rate")
    session.set(location, 15, ValueSpec(dtype="float32"))
    assert session.pending()[0].new == 15.0
    session.save()
    with h5py.File(nwb_path, "r") as h5:
        assert h5[location.path].dtype == np.float64
        assert h5[location.path][()] == 15.0


def test_undo_redo_and_undo_after_save(nwb_path):
    session = EditSession(nwb_path)
    species = Location("/general/subject/species")
    sex = Location("/general/subject/sex")
    text = ValueSpec(dtype="text")
    session.set(species, "Rattus norvegicus", text)
    session.set(sex, "M", text)
    assert session.diff() == [
        "/general/subject/sex: 'F' → 'M'",
        "/general/subject/species: 'Mus musculus' → 'Rattus norvegicus'",
    ]
    session.undo()
    assert session.diff() == ["/general/subject/species: 'Mus musculus' → 'Rattus norvegicus'"]
    session.redo()
    assert len(session.pending()) == 2
    session.undo()
    session.undo()
    assert session.pending() == [] and not session.can_undo and session.can_redo
    session.redo()
    session.save()
    assert session.pending() == []
    with pynwb_read(nwb_path) as nwbfile:
        assert nwbfile.subject.species == "Rattus norvegicus"
    # Undo after save is a new pending change back to the old value.
    session.undo()
    assert session.diff() == ["/general/subject/species: 'Rattus norvegicus' → 'Mus musculus'"]
    session.save()
    with pynwb_read(nwb_path) as nwbfile:
        assert nwbfile.subject.species == "Mus musculus"
    session.redo()
    session.save()
    with pynwb_read(nwb_path) as nwbfile:
        assert nwbfile.subject.species == "Rattus norvegicus"


def test_undo_of_a_saved_subject_creation_removes_it(no_subject_path):
    before = checksums(no_subject_path)
    session = edit_fields(no_subject_path, {"general/subject/species": "Mus musculus"})
    with pynwb_read(no_subject_path) as nwbfile:
        assert nwbfile.subject.species == "Mus musculus"
    session.undo()
    assert [c.new for c in session.pending()] == [ABSENT, ABSENT]
    session.save()
    with pynwb_read(no_subject_path) as nwbfile:
        assert nwbfile.subject is None
    assert changed_keys(before, checksums(no_subject_path)) == set()


def test_stale_value_is_refused(nwb_path):
    session = EditSession(nwb_path)
    session.set(Location("/general/lab"), "New lab", ValueSpec(dtype="text"))
    with h5py.File(nwb_path, "a") as h5:
        h5["general/lab"][()] = "Changed elsewhere"
    before = checksums(nwb_path)
    with pytest.raises(EditError, match="changed since it was edited"):
        session.save()
    assert checksums(nwb_path) == before


def test_required_members_of_a_new_object_are_checked_at_save(nwb_path):
    catalog = catalog_of(nwb_path)
    session = EditSession(nwb_path)
    form, form_field = resolve_field(
        session, catalog, "general/extracellular_ephys/shank1/location"
    )
    set_field(session, form, form_field.key, "CA3")
    with pytest.raises(EditError, match="needs Description"):
        session.save()
    set_field(session, form, "description", "second shank")
    with pytest.raises(EditError, match="needs Device"):
        session.save()
    set_field(session, form, "device", Link("/general/devices/probe"))
    session.save()
    with pynwb_read(nwb_path) as nwbfile:
        group = nwbfile.electrode_groups["shank1"]
        assert (group.location, group.description, group.device.name) == (
            "CA3",
            "second shank",
            "probe",
        )
    assert pynwb_errors(nwb_path) == []


def test_removing_a_group_that_still_has_content_is_refused(nwb_path):
    session = EditSession(nwb_path)
    session.set(Location("/general/subject"), ABSENT)
    with pytest.raises(EditError, match="still contains"):
        session.save()


@pytest.mark.parametrize("our_hdf5_locking", ["default", "FALSE"])
def test_file_open_in_another_process_gets_a_clear_message(nwb_path, monkeypatch, our_hdf5_locking):
    # The viewer runs with HDF5_USE_FILE_LOCKING=FALSE, which overrides h5py's locking=True:
    # the save must still see the other program's lock.
    if our_hdf5_locking == "FALSE":
        monkeypatch.setenv("HDF5_USE_FILE_LOCKING", "FALSE")
    holder_env = {k: v for k, v in os.environ.items() if k != "HDF5_USE_FILE_LOCKING"}
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time, h5py
            f = h5py.File({str(nwb_path)!r}, "r", locking=True)
            print("open", flush=True)
            sys.stdin.readline()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=holder_env,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        before = checksums(nwb_path)
        session = EditSession(nwb_path)
        session.set(Location("/general/lab"), "New lab", ValueSpec(dtype="text"))
        with pytest.raises(EditError, match="another program has it open") as info:
            session.save()
        assert str(nwb_path) in info.value.message
        with pytest.raises(EditError, match="another program has it open"):
            edit.check_writable(nwb_path)
        assert checksums(nwb_path) == before
        assert find_journal(nwb_path) is None
    finally:
        holder.communicate("\n", timeout=10)
    session.save()  # once the other program closed it, the same save works
    with pynwb_read(nwb_path) as nwbfile:
        assert nwbfile.lab == "New lab"


def test_a_read_handle_left_open_keeps_seeing_the_old_file(nwb_path):
    """The save replaces the file by a new one, so a handle this process forgot to close keeps
    reading the old contents (no torn reads), and a new open sees the new."""
    handle = h5py.File(nwb_path, "r", locking=False)
    try:
        session = EditSession(nwb_path, handle)
        session.set(Location("/general/lab"), "New lab", ValueSpec(dtype="text"))
        session.save()
        assert handle["/general/lab"][()] == b"Lab"
    finally:
        handle.close()
    with pynwb_read(nwb_path) as nwbfile:
        assert nwbfile.lab == "New lab"


def test_read_only_file_is_refused(nwb_path, monkeypatch):
    nwb_path.chmod(0o444)  # refused by its permission bits, even when we are root
    before = checksums(nwb_path)
    session = EditSession(nwb_path)
    session.set(Location("/general/lab"), "New lab", ValueSpec(dtype="text"))
    with pytest.raises(EditError, match="the file is read-only"):
        session.save()
    assert checksums(nwb_path) == before


def test_failed_verification_restores_the_old_values(nwb_path, monkeypatch):
    before = checksums(nwb_path)
    real = states.states_match
    calls = {"n": 0}

    def flaky(actual, expected):
        calls["n"] += 1
        return False if calls["n"] == 1 else real(actual, expected)

    monkeypatch.setattr(states, "states_match", flaky)
    session = EditSession(nwb_path)
    session.set(Location("/general/lab"), "New lab", ValueSpec(dtype="text"))
    with pytest.raises(EditError, match="reads back as"):
        session.save()
    assert find_journal(nwb_path) is None
    after = checksums(nwb_path)
    assert after == before
    assert session.is_dirty  # the edit is still pending, to retry


def test_failure_while_writing_restores_the_old_values(nwb_path, monkeypatch):
    before = checksums(nwb_path)
    real = states.write_state
    calls = {"n": 0}

    def failing(h5, location, state):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        real(h5, location, state)

    monkeypatch.setattr(edit, "write_state", failing)
    session = EditSession(nwb_path)
    session.set(Location("/general/lab"), "New lab", ValueSpec(dtype="text"))
    session.set(Location("/general/institution"), "New institution", ValueSpec(dtype="text"))
    with pytest.raises(EditError, match="disk full"):
        session.save()
    assert checksums(nwb_path) == before
    assert find_journal(nwb_path) is None


def test_check_reports_problems_without_writing(nwb_path):
    before = checksums(nwb_path)
    changes = [
        states.Change(
            Location("/general/subject/species"),
            "Mus musculus",
            "mouse",
            ValueSpec(label="Species", validators=("species",)),
        ),
        states.Change(Location("/general/lab"), "Wrong old value", "x", ValueSpec()),
    ]
    problems = Transaction(changes).check(nwb_path)
    assert problems[0].startswith("Species 'mouse' is neither a Latin binomial")
    assert "changed since it was edited" in problems[1]
    with pytest.raises(EditError, match="Nothing was saved"):
        Transaction(changes).commit(nwb_path)
    assert checksums(nwb_path) == before


def test_same_location_twice_is_refused():
    change = states.Change(Location("/a"), ABSENT, "x")
    with pytest.raises(EditError, match="changed twice"):
        Transaction([change, change])


def test_session_sees_pending_creations(nwb_path):
    session = EditSession(nwb_path)
    session.set(Location("/general/devices/laser"), GroupValue.new("Device", "core"))
    assert "laser" in session.child_names("/general/devices")
    assert session.object_type("/general/devices/laser") == "Device"
    assert session.object_type("/general/devices/probe") == "Device"
    assert session.object_type("/acquisition/speed/data") is None
    session.undo()
    assert "laser" not in session.child_names("/general/devices")


def test_values_are_read_without_loading_data(nwb_path):
    session = EditSession(nwb_path)
    assert session.value(Location("/general/extracellular_ephys/shank0/device")) == Link(
        "/general/devices/probe"
    )
    assert session.value(Location("/general/subject")).neurodata_type == "Subject"
    assert session.value(Location("/general/nothing")) is ABSENT
    assert session.value(Location("/general/devices/probe", "nothing")) is ABSENT
