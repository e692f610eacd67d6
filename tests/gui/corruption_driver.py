"""Run ``info``, ``edit --dry-run`` and the window over corrupted files; print one JSON line
per case (``python -m tests.gui.corruption_driver MODE FILE...``, MODE ``cli`` or ``window``).

Everything runs in this one process to keep the fuzz fast, under a watchdog: a case that takes
longer than ``NDVIEWER_FUZZ_CASE_SECONDS`` makes ``faulthandler`` dump every thread's stack
and end the process, so a hang fails the test with the case named (the last line printed
names the case that started) instead of stalling the suite. A Python exception that escapes
ndviewer (what a user would see as a traceback) is reported as ``"traceback"``.
"""

from __future__ import annotations

import contextlib
import faulthandler
import io
import json
import os
import sys
import time
import traceback

CASE_SECONDS = float(os.environ.get("NDVIEWER_FUZZ_CASE_SECONDS", "10"))


def _emit(record: dict) -> None:
    sys.__stdout__.write(json.dumps(record) + "\n")
    sys.__stdout__.flush()


def _run_cli(argv: list[str]) -> dict:
    from ndviewer.cli import main

    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    tb = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exc:  # argparse
            status = exc.code
        except BaseException:  # what the user would see as a traceback
            status = None
            tb = traceback.format_exc()
    return {
        "status": status,
        "stdout": out.getvalue(),
        "stderr": err.getvalue(),
        "traceback": tb,
        "seconds": time.perf_counter() - started,
    }


def run_cli(paths: list[str]) -> None:
    for path in paths:
        _emit({"start": path})
        faulthandler.dump_traceback_later(CASE_SECONDS, exit=True)
        info = _run_cli(["info", path, "--json", "--no-cache"])
        faulthandler.dump_traceback_later(CASE_SECONDS, exit=True)
        edit = _run_cli(["edit", path, "--set", "general/lab=Fuzz lab", "--dry-run"])
        faulthandler.cancel_dump_traceback_later()
        _emit({"path": path, "info": info, "edit": edit})


def run_window(paths: list[str]) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from ndviewer.gui.collector import GuiThreadCollector
    from ndviewer.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(["fuzz"])
    app.collector = GuiThreadCollector(parent=app)
    uncaught: list[str] = []
    sys.excepthook = lambda t, e, tb: uncaught.append("".join(traceback.format_exception(t, e, tb)))
    window = MainWindow()
    window.show()

    def wait(seconds: float, done=lambda: False) -> None:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline and not done():
            loop = QEventLoop()
            QTimer.singleShot(20, loop.quit)
            loop.exec()

    for path in paths:
        _emit({"start": path})
        faulthandler.dump_traceback_later(CASE_SECONDS, exit=True)
        started = time.perf_counter()
        before = len(uncaught)
        outcome: dict = {}
        window.tree_shown.connect(lambda p, o=outcome: o.setdefault("shown", p))
        window.file_failed.connect(lambda p, m, o=outcome: o.setdefault("failed", m))
        tab = window.open_path(path)
        wait(CASE_SECONDS - 1, lambda o=outcome: bool(o))
        shown = 0
        if "shown" in outcome and tab is not None and tab.model is not None:
            # select every row the first levels show, as a user clicking down the tree
            model = tab.model
            rows = [model.root_index()]
            for index in list(rows):
                tab.tree.expand(index)
                for row in range(min(model.rowCount(index), 30)):
                    child = model.index(row, 0, index)
                    rows.append(child)
                    tab.tree.expand(child)
                    for grand in range(min(model.rowCount(child), 10)):
                        rows.append(model.index(grand, 0, child))
            for index in rows[:80]:
                if time.perf_counter() - started > CASE_SECONDS - 2:
                    break
                tab.tree.setCurrentIndex(index)
                shown += 1
                wait(0.02)
            window.pool.wait(2000)
            wait(0.05)
        for i in reversed(range(window.tabs.count())):
            window.close_tab(i)
        window.tree_shown.disconnect()
        window.file_failed.disconnect()
        wait(0.02)
        faulthandler.cancel_dump_traceback_later()
        _emit(
            {
                "path": path,
                "shown": "shown" in outcome,
                "failed": outcome.get("failed"),
                "selected": shown,
                "tracebacks": uncaught[before:],
                "seconds": time.perf_counter() - started,
            }
        )
    window.close()


if __name__ == "__main__":
    mode, *files = sys.argv[1:]
    (run_cli if mode == "cli" else run_window)(files)
    sys.__stdout__.flush()
    os._exit(0)  # do not wait for pool threads stuck in a damaged file
