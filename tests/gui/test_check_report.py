"""The Report panel: checks run in the background after the tree is shown, findings are
grouped by severity and object, tree nodes get badges, a click selects the node and, for a
metadata field, opens the metadata form with the field focused."""

from __future__ import annotations

from pathlib import Path

import pytest

from ndviewer.gui.checks.report_panel import FINDING_ROLE
from ndviewer.gui.forms.metadata_form import MetadataFormPanel
from ndviewer.gui.tree_model import NAME
from tests.core import checks_fixtures as cf
from tests.gui.test_main_window import open_and_wait, window  # noqa: F401


@pytest.fixture(scope="module")
def defective_file(tmp_path_factory) -> Path:
    return cf.write_checks_file(tmp_path_factory.mktemp("gui-checks") / "bad.nwb", True)


def _open_checked(qtbot, win, path):
    tab = open_and_wait(qtbot, win, path, index=False)
    with qtbot.waitSignal(tab.checks_ready, timeout=60000):
        pass
    return tab


def _tops(report) -> list[str]:
    return [report.tree.topLevelItem(i).text(0) for i in range(report.tree.topLevelItemCount())]


def _finding_item(report, path: str, field: str):
    for i in range(report.tree.topLevelItemCount()):
        top = report.tree.topLevelItem(i)
        for j in range(top.childCount()):
            object_item = top.child(j)
            for k in range(object_item.childCount()):
                item = object_item.child(k)
                finding = item.data(0, FINDING_ROLE)
                if finding.path == path and finding.field == field:
                    return item
    raise AssertionError(f"no finding for {path} {field}")


def test_report_groups_findings_by_severity_and_object(qtbot, window, defective_file):  # noqa: F811
    tab = _open_checked(qtbot, window, defective_file)
    report = tab.report
    errors = sum(1 for f in report.findings if f.severity == "error")
    warnings = sum(1 for f in report.findings if f.severity == "warning")
    assert _tops(report)[:2] == [f"Errors ({errors})", f"Warnings ({warnings})"]
    assert {(f.check, f.path, f.field) for f in report.findings} >= cf.PLANTED
    subject = [
        report.tree.topLevelItem(0).child(j).text(0)
        for j in range(report.tree.topLevelItem(0).childCount())
    ]
    assert "/general/subject  (3)" in subject  # age, sex, subject_id
    assert not report.progress.isVisible()


def test_tree_nodes_with_findings_get_a_badge(qtbot, window, defective_file):  # noqa: F811
    tab = _open_checked(qtbot, window, defective_file)
    model = tab.model
    assert model.worst_finding["/acquisition/negative_rate"] == "error"
    assert model.worst_finding["/acquisition/unsorted"] == "warning"
    index = model.index_for_path("/acquisition/negative_rate").siblingAtColumn(NAME)
    plain = model.index_for_path("/acquisition/ephys").siblingAtColumn(NAME)
    badged = model.data(index, 1).pixmap(32, 32).toImage()  # DecorationRole
    assert badged.pixelColor(26, 26).name() == "#c0392b"  # the red dot, bottom right
    assert model.data(plain, 1).pixmap(32, 32).toImage().pixelColor(26, 26).name() != "#c0392b"
    assert "rate" in model.data(index, 3)  # ToolTipRole lists the findings


def test_click_selects_node_and_focuses_metadata_field(qtbot, window, defective_file):  # noqa: F811
    tab = _open_checked(qtbot, window, defective_file)
    item = _finding_item(tab.report, "/general/subject", "species")
    tab.report.tree.itemClicked.emit(item, 0)
    qtbot.waitUntil(lambda: tab.panel is not None and tab.panel.node.path == "/general/subject")
    assert tab.model.node(tab.tree.currentIndex()).path == "/general/subject"
    assert isinstance(tab.panel, MetadataFormPanel)
    row = tab.panel.view.row("/general/subject", "species")
    assert "background" in row.label.styleSheet()


def test_click_on_series_field_switches_to_the_form(qtbot, window, defective_file):  # noqa: F811
    tab = _open_checked(qtbot, window, defective_file)
    item = _finding_item(tab.report, "/acquisition/undescribed", "description")
    tab.report.tree.itemClicked.emit(item, 0)
    qtbot.waitUntil(
        lambda: tab.panel is not None and tab.panel.node.path == "/acquisition/undescribed"
    )
    assert isinstance(tab.panel, MetadataFormPanel)
    assert tab.view_as.currentData().endswith("MetadataFormPanel")


def test_run_nwb_inspector_adds_its_findings(qtbot, window, defective_file):  # noqa: F811
    tab = _open_checked(qtbot, window, defective_file)
    qtbot.waitUntil(lambda: tab.report.inspector_button.isEnabled(), timeout=30000)
    before = len(tab.report.findings)
    tab.report.inspector_button.click()
    qtbot.waitUntil(
        lambda: any(f.check.startswith("nwbinspector:") for f in tab.report.findings),
        timeout=120000,
    )
    assert len(tab.report.findings) > before
    keyed = {(f.check, f.path) for f in tab.report.findings}
    assert ("nwbinspector:check_rate_is_positive", "/acquisition/negative_rate") in keyed
