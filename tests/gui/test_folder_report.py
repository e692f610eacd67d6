"""File ▸ Check Folder…: the batch report as a sortable table; a double-click opens the
file (issue #20)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ndviewer.gui.folder_report import FolderReportDialog
from tests.core.batch_fixtures import EXPECTED_STATUS, write_batch_folder
from tests.gui.test_main_window import window  # noqa: F401


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_batch_folder(tmp_path_factory.mktemp("folder_report"))


def test_rows_arrive_sorted_by_severity_and_double_click_opens(qtbot, folder) -> None:
    opened: list[tuple[str, str | None]] = []
    dialog = FolderReportDialog(lambda path, obj: opened.append((path, obj)), folder, jobs=2)
    qtbot.addWidget(dialog)
    dialog.command.setCurrentIndex(dialog.command.findData("info"))
    dialog.run()
    assert dialog.running and not dialog.cancel_button.isHidden()
    qtbot.waitUntil(lambda: not dialog.running and dialog.run_button.isEnabled(), timeout=60_000)
    assert dialog.table.rowCount() == len(EXPECTED_STATUS)
    statuses = [dialog.table.item(k, 0).text() for k in range(dialog.table.rowCount())]
    assert statuses == ["unreadable"] * 3 + ["problems"] * 2 + ["ok"] * 4  # worst first
    files = {dialog.table.item(k, 1).text(): k for k in range(dialog.table.rowCount())}
    truncated = files["unreadable/truncated.nwb"]  # relative to the folder
    problem = dialog.table.item(truncated, 3).text()
    assert problem.startswith("Cannot open: the file is truncated") and str(folder) not in problem
    assert "4 ok, 2 with problems, 3 unreadable" in dialog.status.text()
    ecephys = files["clean/ecephys.nwb"]
    assert "series" in dialog.table.item(ecephys, 2).text()
    dialog._open_row(ecephys, 1)
    dialog._open_row(truncated, 1)  # an unreadable file is not opened
    assert opened == [(str(folder / "clean" / "ecephys.nwb"), None)]
    dialog.table.sortItems(1)
    assert dialog.table.item(0, 1).text() == "clean/behavior.nwb"


def test_cancel_stops_the_run_and_keeps_the_rows(qtbot, tmp_path, monkeypatch) -> None:
    folder = write_batch_folder(tmp_path / "many", copies=10)
    monkeypatch.setenv("NDVIEWER_BATCH_TASK_DELAY", "0.2")
    dialog = FolderReportDialog(lambda *_: None, folder, jobs=1)
    qtbot.addWidget(dialog)
    dialog.command.setCurrentIndex(dialog.command.findData("info"))
    dialog.run()
    qtbot.waitUntil(lambda: len(dialog.rows) >= 2, timeout=30_000)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.running and dialog.run_button.isEnabled(), timeout=30_000)
    assert dialog.status.text().startswith("Stopped: ")
    assert 2 <= dialog.table.rowCount() < len(EXPECTED_STATUS) + 10


def test_window_opens_the_file_at_the_finding(qtbot, folder, window) -> None:  # noqa: F811
    target = folder / "clean" / "ecephys.nwb"
    with qtbot.waitSignal(window.tree_shown, timeout=30_000):
        window.open_at(str(target), "/acquisition")
    qtbot.waitUntil(
        lambda: (
            window.current_tab().panel is not None
            and window.current_tab().panel.node.path == "/acquisition"
        ),
        timeout=10_000,
    )
