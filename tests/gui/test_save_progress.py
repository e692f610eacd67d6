"""A long save runs off the GUI thread with a progress dialog whose Cancel reaches the copy."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QProgressDialog, QWidget

from ndviewer.core.edit.atomic_save import SaveCancelled
from ndviewer.gui.forms.save_progress import run_save_with_progress


def test_a_quick_save_shows_no_dialog_and_returns_its_result(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    threads = []

    def work(progress, cancelled):
        threads.append(threading.current_thread())
        progress(10, 10)
        return "saved"

    assert run_save_with_progress(parent, "Saving x.nwb…", work) == "saved"
    assert threads[0] is not threading.main_thread()
    assert not [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QProgressDialog) and w.isVisible()
    ]


def test_a_long_save_shows_progress_and_cancel_stops_it(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    seen = {}

    def work(progress, cancelled):
        total = 100
        for done in range(0, total + 1, 5):
            if cancelled():
                raise SaveCancelled("The save was cancelled while copying; nothing was changed.")
            progress(done, total)
            time.sleep(0.05)
        return "finished"

    def press_cancel():
        dialogs = [w for w in parent.findChildren(QProgressDialog) if w.isVisible()]
        if not dialogs:
            QTimer.singleShot(50, press_cancel)
            return
        seen["value"] = dialogs[0].value()
        seen["label"] = dialogs[0].labelText()
        dialogs[0].cancel()

    QTimer.singleShot(600, press_cancel)
    with pytest.raises(SaveCancelled):
        run_save_with_progress(parent, "Saving big.nwb…", work)
    assert 500 <= seen["value"] < 1000  # over half of the copy done after ~0.6 s
    assert "Saving big.nwb" in seen["label"] and "MB" in seen["label"]
