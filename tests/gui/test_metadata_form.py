"""The metadata form panel driven with qtbot: typed edits reach the file through the same
transaction, and pynwb, its validator and nwbinspector agree with what was typed."""

from __future__ import annotations

import gc
import shutil
import weakref

import h5py
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from ndviewer.core.edit.journal import find_journal, write_journal
from ndviewer.core.edit.states import ABSENT, Link, Location
from ndviewer.core.model.files import open_nwb
from ndviewer.core.model.registry import default_registry
from ndviewer.core.time_cursor import TimeCursor
from ndviewer.gui.forms.field_widgets import DateTimeDialog, DurationDialog, duration_text
from ndviewer.gui.forms.metadata_form import SESSION_KEY, MetadataFormPanel
from ndviewer.gui.panels.base import PanelContext
from ndviewer.gui.workers import WorkerPool
from tests.core.edit_fixtures import inspector_findings, pynwb_errors, pynwb_read, write_nwb

PANEL = "ndviewer.gui.forms.metadata_form:MetadataFormPanel"


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gui-forms")
    return {
        "full": write_nwb(folder / "full.nwb"),
        "no_subject": write_nwb(folder / "no_subject.nwb", subject=False, experimenter=None),
    }


@pytest.fixture(autouse=True)
def no_modal_boxes(monkeypatch):
    """A message box would block the test forever: record warnings, refuse anything else."""
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    monkeypatch.setattr(QMessageBox, "exec", lambda self: pytest.fail(f"modal: {self.text()}"))
    return shown


def release(panel) -> None:
    """Close the viewer's handle so that pynwb (which locks files) can read the file."""
    panel.context.file.close()


@pytest.fixture
def open_panel(qtbot, tmp_path, templates):
    """``open_panel(template, path)`` → a shown MetadataFormPanel on a fresh copy."""
    files = []

    def make(template: str = "full", node_path: str = "/", context=None):
        if context is None:
            path = tmp_path / f"{template}.nwb"
            if not path.exists():
                shutil.copy(templates[template], path)
            file = open_nwb(path)
            files.append(file)
            context = PanelContext(file=file, time_cursor=TimeCursor(), pool=WorkerPool())
        panel = MetadataFormPanel(context, context.file.node(node_path))
        panel.confirm_save = False
        qtbot.addWidget(panel)
        panel.resize(1000, 900)
        panel.show()
        return panel

    yield make
    for file in files:
        file.close()


def type_into(qtbot, row, text: str) -> None:
    """Type into a one-line editor and press Enter, as a user does."""
    line = row.editor.line
    line.selectAll()
    qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key.Key_Return)


def pick(row, value) -> None:
    row.editor.select(value)


def test_missing_subject_is_flagged(open_panel):
    panel = open_panel("no_subject")
    missing = {(row.form.path, row.field.key) for row in panel.view.all_rows() if row.is_missing}
    assert missing == {
        ("/", "general/experimenter"),
        ("/general/subject", "subject_id"),
        ("/general/subject", "species"),
        ("/general/subject", "sex"),
        ("/general/subject", "age"),
    }
    assert "5 required or recommended fields missing" in panel.summary.text()
    species = panel.view.row("/general/subject", "species")
    assert species.level_badge.text() == "recommended"
    assert species.doc.text() == "Species of subject."
    assert not panel.save_button.isEnabled()
    assert panel.diff_title.text() == "No pending changes"


def test_fill_missing_subject_through_the_gui(qtbot, open_panel, templates):
    before = inspector_findings(templates["no_subject"])
    panel = open_panel("no_subject")
    path = panel.context.file.path
    view = panel.view  # creating the Subject refreshes this view in place
    type_into(qtbot, view.row("/general/subject", "subject_id"), "m17")
    type_into(qtbot, view.row("/general/subject", "species"), "Mus musculus")
    pick(view.row("/general/subject", "sex"), "F")
    type_into(qtbot, view.row("/general/subject", "age"), "P90D/P120D")
    type_into(qtbot, view.row("/general/subject", "date_of_birth"), "2023-10-07T00:00:00Z")
    description = view.row("/general/subject", "description")
    description.editor.box.setPlainText("C57BL/6J from Jackson")
    description.editor.committed.emit()
    experimenter = view.row("/", "general/experimenter")
    experimenter.editor.box.setPlainText("Doe, Jane\nRoe, Rick")
    experimenter.editor.committed.emit()
    assert panel.view is view
    assert not view.row("/general/subject", "species").is_missing
    assert panel.diff.count() == 8  # the Subject group + 6 of its fields + experimenter
    assert panel.diff.item(0).text().startswith("/general/subject: (absent) → Subject group")
    assert "No required or recommended field is missing" in panel.summary.text()
    assert panel.save_button.text() == "Save 8 changes"

    assert panel.save()
    assert panel.diff.count() == 0
    assert panel.context.file.is_open  # reopened after the write
    release(panel)
    with pynwb_read(path) as nwbfile:
        subject = nwbfile.subject
        assert (subject.subject_id, subject.species, subject.sex, subject.age) == (
            "m17",
            "Mus musculus",
            "F",
            "P90D/P120D",
        )
        assert subject.date_of_birth.isoformat() == "2023-10-07T00:00:00+00:00"
        assert list(nwbfile.experimenter) == ["Doe, Jane", "Roe, Rick"]
    assert pynwb_errors(path) == []
    after = inspector_findings(path)
    assert ("check_subject_exists", "/") in before
    assert after == {
        f for f in before if f[0] not in ("check_subject_exists", "check_experimenter_exists")
    }


def test_each_editor_kind_round_trips(qtbot, open_panel):
    panel = open_panel("full")
    path = panel.context.file.path
    view = panel.view
    type_into(qtbot, view.row("/", "session_start_time"), "2023-12-01T09:30:00-05:00")
    notes = view.row("/", "general/notes")
    notes.editor.box.setPlainText("first line\nsecond line")
    notes.editor.committed.emit()
    device = view.row("/general/devices/probe", "description")
    device.editor.box.setPlainText("Neuropixels 1.0")
    device.editor.committed.emit()
    type_into(qtbot, view.row("/general/optophysiology/plane0", "excitation_lambda"), "910.5")
    type_into(qtbot, view.row("/general/optophysiology/plane0", "origin_coords"), "1, 2, 0.5")
    group_device = view.row("/general/extracellular_ephys/shank0", "device")
    assert group_device.editor.value() == Link("/general/devices/probe")
    pick(group_device, Link("/general/devices/scope"))
    wavelength = view.row("/general/optophysiology/plane0", "excitation_lambda").editor
    assert [label.text() for label in wavelength.findChildren(type(panel.heading))] == ["nm"]
    assert panel.save()
    release(panel)
    with pynwb_read(path) as nwbfile:
        assert nwbfile.session_start_time.isoformat() == "2023-12-01T09:30:00-05:00"
        assert nwbfile.notes == "first line\nsecond line"
        assert nwbfile.devices["probe"].description == "Neuropixels 1.0"
        plane = nwbfile.imaging_planes["plane0"]
        assert plane.excitation_lambda == 910.5
        assert list(plane.origin_coords) == [1.0, 2.0, 0.5]
        assert nwbfile.electrode_groups["shank0"].device.name == "scope"
    assert pynwb_errors(path) == []


def test_invalid_input_shows_the_problem_and_is_not_applied(qtbot, open_panel):
    panel = open_panel("full")
    species = panel.view.row("/general/subject", "species")
    type_into(qtbot, species, "mouse")
    assert species.problem.isVisible()
    assert "e.g. 'Mus musculus'" in species.problem.text()
    assert panel.session.pending() == []
    type_into(qtbot, panel.view.row("/", "general/lab"), "Smith lab")  # another edit...
    assert species.editor.line.text() == "mouse"  # ...keeps the refused text and its message
    assert "e.g. 'Mus musculus'" in species.problem.text()
    time_row = panel.view.row("/", "session_start_time")
    time_row.editor.line.setText("2024-01-05T10:00:00")
    time_row.editor.edited.emit()  # live check while typing
    assert "no timezone" in time_row.problem.text()
    type_into(qtbot, species, "Mus musculus")
    assert not species.problem.isVisible()
    assert [str(c.location) for c in panel.session.pending()] == ["/general/lab"]


def test_a_refused_value_does_not_stay_in_the_field_after_save(qtbot, open_panel):
    """The field kept the refused text after a save while the file held another value."""
    panel = open_panel("full")
    species = panel.view.row("/general/subject", "species")
    stored = panel.session.value(species.field.location)
    type_into(qtbot, species, "mouse")  # refused
    type_into(qtbot, panel.view.row("/", "general/lab"), "Smith lab")
    assert species.editor.line.text() == "mouse"
    assert panel.save()
    species = panel.view.row("/general/subject", "species")
    assert species.editor.line.text() == stored  # what the file holds
    assert not species.problem.isVisible()
    assert "Not saved (refused):" in panel.summary.text() and "pecies" in panel.summary.text()


def test_undo_redo_buttons_and_editors_follow(qtbot, open_panel):
    panel = open_panel("full")
    lab = panel.view.row("/", "general/lab")
    type_into(qtbot, lab, "Smith lab")
    assert panel.undo_button.isEnabled() and not panel.redo_button.isEnabled()
    assert panel.diff.item(0).text() == "/general/lab: 'Lab' → 'Smith lab'"
    qtbot.mouseClick(panel.undo_button, Qt.MouseButton.LeftButton)
    assert lab.editor.line.text() == "Lab"
    assert panel.diff.count() == 0 and panel.redo_button.isEnabled()
    qtbot.mouseClick(panel.redo_button, Qt.MouseButton.LeftButton)
    assert lab.editor.line.text() == "Smith lab"
    assert panel.save()
    qtbot.mouseClick(panel.undo_button, Qt.MouseButton.LeftButton)  # undo after save
    assert panel.diff.item(0).text() == "/general/lab: 'Smith lab' → 'Lab'"
    assert panel.save()
    release(panel)
    with pynwb_read(panel.context.file.path) as nwbfile:
        assert nwbfile.lab == "Lab"


def test_add_a_device_then_link_a_new_electrode_group_to_it(qtbot, open_panel):
    panel = open_panel("full")
    devices = next(c for c in panel.form.collections if c.neurodata_type == "Device")
    panel.view.add_object(devices, name="laser")
    assert "/general/devices/laser" in [r.form.path for r in panel.view.all_rows()]
    laser = panel.view.row("/general/devices/laser", "description")
    assert laser.is_missing  # a new device's recommended description is flagged
    laser.editor.box.setPlainText("473 nm laser")
    laser.editor.committed.emit()
    groups = next(c for c in panel.form.collections if c.neurodata_type == "ElectrodeGroup")
    panel.view.add_object(groups, name="shank1")
    shank = "/general/extracellular_ephys/shank1"
    type_into(qtbot, panel.view.row(shank, "location"), "CA3")
    description = panel.view.row(shank, "description")
    description.editor.box.setPlainText("second shank")
    description.editor.committed.emit()
    link = panel.view.row(shank, "device")
    assert Link("/general/devices/laser") in link.editor.item_values()
    pick(link, Link("/general/devices/laser"))
    assert panel.save()
    release(panel)
    with pynwb_read(panel.context.file.path) as nwbfile:
        assert nwbfile.devices["laser"].description == "473 nm laser"
        group = nwbfile.electrode_groups["shank1"]
        assert (group.location, group.description, group.device.name) == (
            "CA3",
            "second shank",
            "laser",
        )
    assert pynwb_errors(panel.context.file.path) == []


def test_save_refused_with_a_readable_message(qtbot, open_panel, no_modal_boxes):
    panel = open_panel("full")
    shown = no_modal_boxes
    type_into(qtbot, panel.view.row("/", "general/lab"), "Smith lab")
    path = panel.context.file.path
    mode = path.stat().st_mode
    path.chmod(0o444)  # refused even for root: an editor does not overwrite a read-only file
    try:
        assert not panel.save()
    finally:
        path.chmod(mode)
    assert "the file is read-only" in shown[0]
    assert panel.session.is_dirty and panel.context.file.is_open
    assert panel.save()


def test_edits_survive_switching_objects(open_panel):
    panel = open_panel("full")
    panel.session.set(Location("/general/lab"), "Smith lab")
    other = open_panel(context=panel.context, node_path="/general/devices/probe")
    assert other.session is panel.context.settings[SESSION_KEY] is panel.session
    assert other.diff.item(0).text() == "/general/lab: 'Lab' → 'Smith lab'"
    assert other.form.title == "Device: probe"


def test_journal_banner_restores_old_values(open_panel):
    panel = open_panel("full")
    path = panel.context.file.path
    panel.context.file.close()
    with h5py.File(path, "a") as h5:  # an interrupted save that had written the new lab
        h5["general/lab"][()] = "Half-saved lab"
    write_journal(
        path,
        [
            {
                "location": {"path": "/general/lab", "attribute": None},
                "prior": {
                    "kind": "dataset",
                    "dtype": {"string": "utf-8", "length": None},
                    "shape": [],
                    "value": "Lab",
                    "attrs": {},
                    "layout": None,
                },
                "target": {
                    "kind": "dataset",
                    "dtype": {"string": "utf-8", "length": None},
                    "shape": [],
                    "value": "Half-saved lab",
                    "attrs": {},
                    "layout": None,
                },
            }
        ],
    )
    panel.context.file.h5 = h5py.File(path, "r", locking=False)
    fresh = open_panel(context=panel.context)
    assert fresh.banner.isVisible()
    assert "/general/lab: 'Lab' (was being set to 'Half-saved lab')" in fresh.banner.message.text()
    fresh.banner.restore()
    assert not fresh.banner.isVisible() and find_journal(path) is None
    assert fresh.view.row("/", "general/lab").editor.line.text() == "Lab"
    release(fresh)
    with pynwb_read(path) as nwbfile:
        assert nwbfile.lab == "Lab"


def test_registry_offers_the_form(open_panel):
    panel = open_panel("full")
    catalog = panel.catalog
    registry = default_registry()
    subject = registry.choices("Subject", catalog, "group")
    assert subject[0].panel == PANEL
    assert PANEL in [c.panel for c in registry.choices("NWBFile", catalog, "group")]
    series = registry.choices("TimeSeries", catalog, "group")
    assert PANEL in [c.panel for c in series] and series[0].panel != PANEL
    assert MetadataFormPanel.priority(panel.context.file.node("/general/lab"), catalog) == -1


def test_helper_dialogs_build_iso_text(qtbot):
    duration = DurationDialog()
    qtbot.addWidget(duration)
    duration.amount.setValue(12)
    duration.unit.setCurrentIndex(duration.unit.findData("W"))
    assert duration.iso_text() == "P12W"
    duration.is_range.setChecked(True)
    duration.upper.setValue(16)
    duration.upper_unit.setCurrentIndex(duration.upper_unit.findData("W"))
    assert duration.preview.text() == "P12W/P16W"
    assert duration_text(1.5, "Y") == "P1.5Y"
    when = DateTimeDialog("2024-01-05T14:30:00-05:00")
    qtbot.addWidget(when)
    assert when.iso_text() == "2024-01-05T14:30:00-05:00"
    when.offset.setCurrentIndex(when.offset.findData(60))
    assert when.iso_text() == "2024-01-05T14:30:00+01:00"


def test_panel_is_released_after_shutdown(qtbot, open_panel):
    panel = open_panel("full")
    ref = weakref.ref(panel)
    session = panel.session
    panel.shutdown()
    panel.close()
    panel.deleteLater()
    del panel
    qtbot.wait(10)
    gc.collect()
    assert ref() is None
    assert session._listeners == []
    assert session.value(Location("/general/nothing")) is ABSENT
