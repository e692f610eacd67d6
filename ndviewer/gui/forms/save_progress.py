"""Run a save off the GUI thread, with a progress dialog and Cancel when it takes a while.

A safe save copies the file first (``core.edit.atomic_save``). On a filesystem with
copy-on-write clones that takes milliseconds; elsewhere a 10 GB file takes seconds. The save
runs in a plain thread while a local event loop keeps the window painted. For the first half
second the loop takes no user input (so no edit can slip in mid-save and small saves show
nothing); after that a window-modal progress dialog with Cancel appears. ``work`` must not
touch widgets: it runs in the thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QProgressDialog, QWidget

T = TypeVar("T")
#: ``work(progress, cancelled)`` as ``EditSession.save`` takes them.
SaveWork = Callable[[Callable[[int, int], None], Callable[[], bool]], T]


def run_save_with_progress(parent: QWidget | None, label: str, work: SaveWork) -> T:
    """Run ``work`` in a thread; return its result or raise its exception here."""
    state: dict[str, Any] = {"done": 0, "total": 0, "cancel": False}
    outcome: dict[str, Any] = {}

    def progress(done: int, total: int) -> None:
        state["done"], state["total"] = done, total

    def target() -> None:
        try:
            outcome["result"] = work(progress, lambda: state["cancel"])
        except BaseException as exc:  # noqa: BLE001 - re-raised on the GUI thread below
            outcome["error"] = exc

    dialog = QProgressDialog(label, "Cancel", 0, 1000, parent)
    dialog.setWindowTitle("Saving")
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    dialog.canceled.connect(lambda: state.update(cancel=True))
    loop = QEventLoop()
    thread = threading.Thread(target=target, name="ndviewer-save", daemon=True)

    def poll() -> None:
        if not thread.is_alive():
            loop.quit()
            return
        if dialog.wasCanceled():  # Esc or the button: the copy stops at its next slice
            state["cancel"] = True
        if state["total"]:
            dialog.setValue(int(1000 * state["done"] / state["total"]))
            mb = 1e6
            dialog.setLabelText(
                f"{label}\nCopying {state['done'] / mb:,.0f} of {state['total'] / mb:,.0f} MB "
                "(the file itself is replaced only when the copy is complete)"
            )

    timer = QTimer()
    timer.setInterval(50)
    timer.timeout.connect(poll)
    quiet = QTimer()
    quiet.setSingleShot(True)
    quiet.timeout.connect(loop.quit)
    thread.start()
    timer.start()
    quiet.start(500)
    loop.exec(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
    quiet.stop()
    if thread.is_alive():  # a long save: show the dialog and take its Cancel
        dialog.show()
        loop.exec()
    timer.stop()
    dialog.close()
    dialog.deleteLater()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
