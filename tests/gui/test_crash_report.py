"""An unexpected error shows a dialog with the log path and "Copy details", and the log file
rotates instead of growing without end."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

from ndviewer.gui.crash_report import CrashReporter


def test_unexpected_error_dialog_names_the_log_and_copies_details(qtbot, tmp_path, monkeypatch):
    parent = QWidget()
    qtbot.addWidget(parent)
    shown = []

    def fake_exec(box: QMessageBox) -> int:
        copy = next(b for b in box.findChildren(QPushButton) if b.text() == "Copy details")
        copy.click()
        shown.append((box.text(), box.informativeText(), box.detailedText()))
        return 0

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    reporter = CrashReporter(parent, tmp_path / "ndviewer.log")
    try:
        raise ZeroDivisionError("division by zero in a slot")
    except ZeroDivisionError as exc:
        reporter(type(exc), exc, exc.__traceback__)
    assert len(shown) == 1
    text, informative, details = shown[0]
    assert "unexpected error" in text and "not changed" in text
    assert "ZeroDivisionError: division by zero in a slot" in informative
    assert str(tmp_path / "ndviewer.log") in informative
    assert details.startswith("ndviewer ") and "Traceback" in details
    assert "test_unexpected_error_dialog" in details
    assert QGuiApplication.clipboard().text() == details


def test_log_file_rotates(tmp_path):
    script = textwrap.dedent(
        f"""
        import logging, os
        os.environ["NDVIEWER_LOG_DIR"] = {str(tmp_path)!r}
        from ndviewer.gui.app import configure_logging
        path = configure_logging()
        for k in range(80000):
            logging.getLogger("ndviewer").info("line %d %s", k, "x" * 100)
        print(path)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    logs = sorted(p.name for p in tmp_path.iterdir())
    assert logs == ["ndviewer.log", "ndviewer.log.1", "ndviewer.log.2", "ndviewer.log.3"]
    assert all(p.stat().st_size <= 2_000_000 for p in tmp_path.iterdir())


def test_records_made_before_the_log_file_opens_are_written_to_it(tmp_path):
    """Start-up opens the log file late (StartupLogBuffer); nothing logged before is lost."""
    script = textwrap.dedent(
        f"""
        import logging, os
        os.environ["NDVIEWER_LOG_DIR"] = {str(tmp_path)!r}
        from ndviewer.gui.app import StartupLogBuffer, configure_logging
        buffer = StartupLogBuffer()
        logging.getLogger().addHandler(buffer)
        logging.getLogger().setLevel(logging.INFO)
        logging.getLogger("ndviewer.early").info("removed %s", "leftover.tmp")
        path = configure_logging(buffer)
        logging.getLogger("ndviewer.late").warning("after")
        print(path, buffer in logging.getLogger().handlers)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(tmp_path / "ndviewer.log"), "False"]
    lines = (tmp_path / "ndviewer.log").read_text().splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [
        "INFO ndviewer.early: removed leftover.tmp",
        "WARNING ndviewer.late: after",
    ]
