"""The Qt-free form model: fields from the file's spec plus spec/forms.json hints."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import h5py
import numpy as np
import pytest

from ndviewer.core.edit.forms import (
    OPTIONAL,
    RECOMMENDED,
    REQUIRED,
    build_form,
    form_hints,
    humanize,
    is_missing,
    link_candidates,
    new_object_form,
    resolve_field,
    set_field,
)
from ndviewer.core.edit.states import ABSENT, Link, Location
from ndviewer.core.edit.transaction import EditSession
from ndviewer.core.edit.validators import VALIDATORS
from ndviewer.core.errors import EditError
from ndviewer.core.model.catalog import load_catalog
from tests.core.edit_fixtures import pynwb_read, write_nwb


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    folder = tmp_path_factory.mktemp("forms")
    return {
        "full": write_nwb(folder / "full.nwb"),
        "no_subject": write_nwb(folder / "no_subject.nwb", subject=False),
    }


def open_session(path):
    h5 = h5py.File(path, "r", locking=False)
    return EditSession(path, h5), load_catalog(h5), h5


@pytest.fixture
def full(tmp_path, templates):
    path = tmp_path / "full.nwb"
    shutil.copy(templates["full"], path)
    session, catalog, h5 = open_session(path)
    yield path, session, catalog, h5
    h5.close()


@pytest.fixture
def no_subject(tmp_path, templates):
    path = tmp_path / "no_subject.nwb"
    shutil.copy(templates["no_subject"], path)
    session, catalog, h5 = open_session(path)
    yield path, session, catalog, h5
    h5.close()


def test_nwbfile_form_sections_levels_and_values(full):
    _, session, catalog, _ = full
    form = build_form(session, catalog, "/")
    assert form.title == "Session" and form.neurodata_type == "NWBFile"
    assert [s.title for s in form.sections][:5] == [
        "Session",
        "People and place",
        "Publications and keywords",
        "Protocol and notes",
        "File",
    ]
    assert [f.key for f in form.sections[0].fields] == [
        "session_description",
        "identifier",
        "session_start_time",
        "timestamps_reference_time",
        "general/session_id",
        "general/experiment_description",
    ]
    levels = {f.key: f.level for f in form.fields}
    assert levels["session_description"] == REQUIRED  # from the spec
    assert levels["general/experimenter"] == RECOMMENDED  # from forms.json
    assert levels["general/protocol"] == OPTIONAL
    values = form.values(session)
    assert values["general/experimenter"] == ["Doe, Jane"]
    assert values["session_start_time"] == "2024-01-05T10:00:00+00:00"
    assert values["general/surgery"] is ABSENT
    experimenter = form.field("general/experimenter")
    assert experimenter.widget == "string_list" and experimenter.validators == ("experimenter",)
    assert experimenter.location == Location("/general/experimenter")
    assert experimenter.doc.startswith("Name of person(s) who performed the experiment")
    assert form.field("session_start_time").widget == "datetime"
    assert form.field("file_create_date").readonly
    assert form.missing(session) == []
    assert form.problems(session) == {}


def test_missing_subject_form_flags_the_missing_fields(no_subject):
    _, session, catalog, _ = no_subject
    form = build_form(session, catalog, "/")
    (subject,) = form.embedded
    assert subject.path == "/general/subject" and not subject.exists(session)
    assert [f.key for f in subject.missing(session)] == ["subject_id", "species", "sex", "age"]
    sex = subject.field("sex")
    assert sex.widget == "enum" and sex.choices == ("M", "F", "U", "O")
    assert dict(sex.choice_labels)["U"] == "U (unknown)"
    assert subject.field("age").widget == "duration"
    assert subject.field("age@reference").owner == Location("/general/subject/age")
    assert subject.field("date_of_birth").validators == ("datetime_tz",)
    # Missing optional fields are not flagged.
    assert "strain" not in [f.key for f in subject.missing(session)]


def test_editing_a_missing_subject_creates_it_in_the_same_undo_step(no_subject):
    path, session, catalog, h5 = no_subject
    subject = build_form(session, catalog, "/").embedded[0]
    set_field(session, subject, "species", "Mus musculus")
    assert [str(c.location) for c in session.pending()] == [
        "/general/subject",
        "/general/subject/species",
    ]
    set_field(session, subject, "sex", "F")
    assert len(session.pending()) == 3  # created once
    session.undo()
    session.undo()
    assert session.pending() == []
    session.redo()
    h5.close()  # the viewer closes its read handle before saving
    session.save()
    with pynwb_read(path) as nwbfile:
        assert nwbfile.subject.species == "Mus musculus"


def test_attribute_of_a_missing_dataset_asks_for_the_dataset_first(no_subject):
    _, session, catalog, _ = no_subject
    subject = build_form(session, catalog, "/").embedded[0]
    with pytest.raises(EditError, match="Set Age first"):
        set_field(session, subject, "age@reference", "gestational")
    set_field(session, subject, "age", "P90D")
    set_field(session, subject, "age@reference", "gestational")
    assert session.value(Location("/general/subject/age", "reference")) == "gestational"


def test_collections_list_existing_and_pending_objects(full):
    _, session, catalog, _ = full
    form = build_form(session, catalog, "/")
    by_title = {c.title: c for c in form.collections}
    assert by_title["Devices"].members == ["/general/devices/probe", "/general/devices/scope"]
    assert by_title["Electrode groups"].members == ["/general/extracellular_ephys/shank0"]
    laser = new_object_form(session, catalog, "/general/devices", "laser", "Device")
    set_field(session, laser, "description", "473 nm laser")
    form = build_form(session, catalog, "/")
    devices = {c.title: c for c in form.collections}["Devices"].members
    assert devices == ["/general/devices/probe", "/general/devices/scope", "/general/devices/laser"]
    with pytest.raises(EditError, match="already exists"):
        new_object_form(session, catalog, "/general/devices", "probe", "Device")
    with pytest.raises(EditError, match="cannot name an object"):
        new_object_form(session, catalog, "/general/devices", "a/b", "Device")


def test_device_electrode_group_imaging_plane_and_channel_forms(full):
    _, session, catalog, _ = full
    device = build_form(session, catalog, "/general/devices/probe")
    assert device.title == "Device: probe"
    assert device.field("description").kind == "attribute"
    assert device.field("description").location == Location("/general/devices/probe", "description")
    group = build_form(session, catalog, "/general/extracellular_ephys/shank0")
    link = group.field("device")
    assert (link.widget, link.kind, link.target_type, link.level) == (
        "reference",
        "link",
        "Device",
        REQUIRED,
    )
    assert link_candidates(session, group, "device") == [
        "/general/devices/probe",
        "/general/devices/scope",
    ]
    plane = build_form(session, catalog, "/general/optophysiology/plane0")
    assert plane.field("excitation_lambda").unit == "nm"
    assert plane.field("excitation_lambda").widget == "number"
    assert plane.field("origin_coords").widget == "number_list"
    assert [c.members for c in plane.collections] == [["/general/optophysiology/plane0/green"]]
    channel = build_form(session, catalog, "/general/optophysiology/plane0/green")
    assert session.value(channel.field("emission_lambda").location) == 520.0


def test_link_targets_are_checked(full):
    _, session, catalog, _ = full
    group = build_form(session, catalog, "/general/extracellular_ephys/shank0")
    with pytest.raises(EditError, match="no typed object at /general/devices/nope"):
        set_field(session, group, "device", Link("/general/devices/nope"))
    with pytest.raises(EditError, match="must link to a Device; /general/subject is a Subject"):
        set_field(session, group, "device", Link("/general/subject"))
    set_field(session, group, "device", Link("/general/devices/scope"))


def test_timeseries_fields_inherit_hints(full):
    _, session, catalog, _ = full
    form = build_form(session, catalog, "/acquisition/speed")
    keys = [f.key for f in form.fields]
    assert "data@unit" in keys and "starting_time@rate" in keys and "description" in keys
    assert "data" not in keys and "timestamps" not in keys  # bulk data is not a form field
    assert "starting_time@unit" not in keys  # fixed by the spec
    assert form.field("starting_time@rate").unit == "Hz"
    assert form.field("description").widget == "multiline"  # inherited from Container
    assert form.field("starting_time").existing_only


def test_existing_only_fields_are_not_created(tmp_path):
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries

    path = tmp_path / "ts.nwb"
    nwb = NWBFile(
        session_description="d",
        identifier="i",
        session_start_time=datetime(2024, 1, 5, tzinfo=UTC),
    )
    nwb.add_acquisition(TimeSeries(name="x", data=np.zeros(3), unit="V", timestamps=np.arange(3.0)))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    session, catalog, h5 = open_session(path)
    try:
        form = build_form(session, catalog, "/acquisition/x")
        with pytest.raises(EditError, match="edits it only where it exists"):
            set_field(session, form, "starting_time", 0.0)
    finally:
        h5.close()


def test_extension_types_get_forms_with_no_code(tmp_path):
    from ndx_pose import PoseEstimation, PoseEstimationSeries, Skeleton, Skeletons
    from pynwb import NWBHDF5IO, NWBFile

    path = tmp_path / "pose.nwb"
    nwb = NWBFile(
        session_description="d",
        identifier="i",
        session_start_time=datetime(2024, 1, 5, tzinfo=UTC),
    )
    camera = nwb.create_device(name="camera", description="camera")
    skeleton = Skeleton(name="mouse", nodes=["nose"], edges=np.zeros((0, 2), dtype="uint8"))
    series = PoseEstimationSeries(
        name="nose",
        data=np.zeros((3, 2)),
        unit="pixels",
        reference_frame="top left",
        timestamps=np.arange(3.0),
        confidence=np.ones(3),
    )
    pose = PoseEstimation(
        name="pose",
        pose_estimation_series=[series],
        description="dlc",
        device=camera,
        skeleton=skeleton,
        source_software="DLC",
    )
    module = nwb.create_processing_module("behavior", "behaviour")
    module.add(pose)
    module.add(Skeletons(skeletons=[skeleton]))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)

    session, catalog, h5 = open_session(path)
    try:
        form = build_form(session, catalog, "/processing/behavior/pose")
        assert form.neurodata_type == "PoseEstimation"
        assert {
            "description",
            "scorer",
            "source_software",
            "source_software@version",
            "device",
        } <= {f.key for f in form.fields}
        assert form.field("device").target_type == "Device"
        series_form = build_form(session, catalog, "/processing/behavior/pose/nose")
        # PoseEstimationSeries is a TimeSeries: the TimeSeries hints apply.
        assert series_form.field("description").widget == "multiline"
        set_field(session, form, "scorer", "DLC_resnet50")
        set_field(session, series_form, "data@unit", "px")
    finally:
        session.attach(None)
        h5.close()
    session.save()
    with pynwb_read(path) as nwbfile:
        pose = nwbfile.processing["behavior"]["pose"]
        assert pose.scorer == "DLC_resnet50"
        assert pose.pose_estimation_series["nose"].unit == "px"


def test_resolve_field_paths(full, no_subject):
    _, session, catalog, _ = full
    form, field = resolve_field(session, catalog, "general/subject/species")
    assert (form.path, field.key) == ("/general/subject", "species")
    form, field = resolve_field(session, catalog, "/general/experimenter")
    assert (form.path, field.key) == ("/", "general/experimenter")
    form, field = resolve_field(session, catalog, "acquisition/speed/data@unit")
    assert (form.path, field.key) == ("/acquisition/speed", "data@unit")
    form, field = resolve_field(session, catalog, "general/devices/laser/description")
    assert (form.path, form.neurodata_type, form.exists(session)) == (
        "/general/devices/laser",
        "Device",
        False,
    )
    form, field = resolve_field(session, catalog, "general/extracellular_ephys/shank9/location")
    assert form.neurodata_type == "ElectrodeGroup"
    with pytest.raises(EditError, match="has no editable field 'general/nope'"):
        resolve_field(session, catalog, "general/nope")
    _, session2, catalog2, _ = no_subject
    form, field = resolve_field(session2, catalog2, "general/subject/age")
    assert (form.neurodata_type, form.exists(session2), field.key) == ("Subject", False, "age")


def test_parse_and_format():
    from ndviewer.core.edit.forms import FormField

    text = FormField("x", "X", Location("/x"), "dataset")
    assert text.parse("  hello ") == "hello"
    assert text.parse("") is ABSENT
    listing = FormField("k", "K", Location("/k"), "dataset", shape=[None])
    assert listing.parse('["Doe, Jane", "Roe, Rick"]') == ["Doe, Jane", "Roe, Rick"]
    assert listing.parse("Doe, Jane\nRoe, Rick\n") == ["Doe, Jane", "Roe, Rick"]
    assert listing.format(["a", "b"]) == "a\nb"
    number = FormField("n", "N", Location("/n"), "dataset", dtype="float32")
    assert number.parse("920") == 920.0 and number.parse("9x") == "9x"
    when = FormField("t", "T", Location("/t"), "dataset", dtype="isodatetime")
    assert when.parse("2024-01-05T10:00:00Z") == "2024-01-05T10:00:00+00:00"
    assert when.parse("2024-01-05") == "2024-01-05"  # left for the validator to explain
    link = FormField("d", "D", Location("/d"), "link", dtype=None)
    assert link.parse("general/devices/probe") == Link("/general/devices/probe")
    assert link.format(Link("/a")) == "/a"


def test_blank_values_remove_the_field_and_required_fields_refuse(full):
    _, session, catalog, _ = full
    form = build_form(session, catalog, "/")
    set_field(session, form, "general/notes", "   ")
    assert session.value(Location("/general/notes")) is ABSENT
    with pytest.raises(EditError, match="required by the NWB format"):
        set_field(session, form, "session_description", "")
    with pytest.raises(EditError, match="read-only"):
        set_field(session, form, "file_create_date", ["2024-01-05T10:00:00+00:00"])


def test_humanize_and_is_missing():
    assert humanize("general/experimenter") == "Experimenter"
    assert humanize("age@reference") == "Age reference"
    assert is_missing(ABSENT) and is_missing(" ") and is_missing([]) and is_missing([""])
    assert not is_missing(0.0) and not is_missing(["x"])


def test_forms_json_names_only_known_validators_and_widgets():
    widgets = {
        "text",
        "multiline",
        "string_list",
        "datetime",
        "duration",
        "enum",
        "number",
        "number_list",
        "bool",
        "reference",
    }
    hints = form_hints()
    for type_hints in hints["types"].values():
        for key, field_hints in type_hints.get("fields", {}).items():
            assert set(field_hints.get("validators", [])) <= set(VALIDATORS), key
            assert field_hints.get("widget", "text") in widgets, key
    for dtype_hints in hints["widgets_by_dtype"].values():
        assert set(dtype_hints["validators"]) <= set(VALIDATORS)
