"""Start the application: environment first, then Qt, then the window.

HDF5 file locking is switched off before h5py is imported (the viewer only reads, and a lab's
acquisition program may hold the file), uncaught errors go to the log file and the status bar
instead of killing the app, and ``--screenshot`` lets tests and docs capture the real window.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ndviewer.core.model.storage import normalized_location

#: How long after the first tree is shown the garbage collector comes back (see StartupGc).
GC_RESUME_DELAY_MS = 500
#: ... and at the latest, after the event loop starts (no file, a file that failed to open).
GC_RESUME_LATEST_MS = 3000
#: How long after start the log file is opened (see ``StartupLogBuffer``): after the first
#: tree is painted on a typical file, early enough that a crash report can name it.
LOG_FILE_DELAY_MS = 400


def _log_file() -> Path:
    import platformdirs

    folder = Path(
        os.environ.get("NDVIEWER_LOG_DIR") or platformdirs.user_log_dir("ndviewer", appauthor=False)
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "ndviewer.log"


def configure_logging(replay: StartupLogBuffer | None = None) -> Path | None:
    """Log to the platform's log folder, rotating at 2 MB with 3 old files kept, so a lab
    workstation that runs ndviewer for months never fills its disk with our log.

    ``replay``: the buffer that held the records made before the log file was opened; they
    are written first, and the buffer leaves the root logger.
    """
    from logging.handlers import RotatingFileHandler

    root = logging.getLogger()
    if replay is not None:
        root.removeHandler(replay)
    try:
        path = _log_file()
        handler: logging.Handler = RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        level = logging.INFO
    except OSError:
        path, handler, level = None, logging.StreamHandler(), logging.WARNING
    root.addHandler(handler)
    root.setLevel(level)
    for record in replay.records if replay is not None else ():
        if record.levelno >= level:
            handler.handle(record)
    return path


class StartupGc:
    """Python's cyclic garbage collector paused from launch to the first painted tree.

    Start-up allocates some 300,000 objects (modules, classes, enums, the window) and none of
    them is cyclic garbage (a full collection after start-up finds 0), yet the collector ran
    ~86 times over them: ~10 ms of the ~0.3 s from launch to the painted tree. Once the
    window is built, what exists lives as long as the application, so it is frozen (moved
    out of every later collection, which also makes later full collections cheaper); the
    files are opened after that, so nothing a tab owns is frozen (a closed tab is still
    collected). The collector runs again shortly after the first tree is on screen.
    """

    def __init__(self) -> None:
        self.paused = gc.isenabled()
        gc.disable()

    def freeze_what_lives_on(self) -> None:
        if self.paused:
            gc.freeze()

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            gc.enable()


class StartupLogBuffer(logging.Handler):
    """Holds the records made before the log file is opened.

    Opening it (platformdirs and ``logging.handlers`` imported, the folder made, the file
    opened) cost 14-20 ms of the ~0.3 s from launch to the painted tree, so the application
    opens it once the window is up and the first files are on their way; nothing logged
    meanwhile is lost (``configure_logging`` writes these records first).
    """

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def import_core_before_qt() -> None:
    """Import numpy, h5py and the Qt-free modules the window needs before PySide6.

    Importing PySide6 replaces ``builtins.__import__`` with its ``__feature__`` hook, which
    makes every later import statement slower: numpy took 120 ms after PySide6 and 52 ms
    before it, and the whole start-up ~100 ms more. HDF5's file locking must be set before
    h5py is imported (``run`` does it first).
    """
    import numpy  # noqa: F401

    import ndviewer.core.checks.findings  # noqa: F401
    import ndviewer.core.model.files  # noqa: F401  (h5py, through the core)
    import ndviewer.core.nwb.summary  # noqa: F401


def make_settings():
    from PySide6.QtCore import QSettings

    folder = os.environ.get("NDVIEWER_CONFIG_DIR")
    if folder:
        return QSettings(str(Path(folder) / "ndviewer.ini"), QSettings.Format.IniFormat)
    return QSettings("ndviewer", "ndviewer")


def run(
    files: Sequence[str],
    screenshot: str | None = None,
    select: str | None = None,
    new_window: bool = False,
) -> int:
    """Show the main window with ``files`` open; returns the exit status.

    Unless ``new_window`` (or ``screenshot``), a window already running for this user gets
    the files as new tabs and this process exits at once (see ``single_instance``).
    """
    startup_gc = StartupGc()
    os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")
    from ndviewer.core.blas import one_blas_thread
    from ndviewer.core.hdf5_plugins import point_hdf5_at_plugins

    point_hdf5_at_plugins()
    one_blas_thread()  # before numpy's import
    from ndviewer.core.allocator import limit_malloc_arenas

    limit_malloc_arenas()  # before any thread exists: each would get an arena of its own
    startup_log = StartupLogBuffer()
    logging.getLogger().addHandler(startup_log)
    logging.getLogger().setLevel(logging.INFO)
    import_core_before_qt()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    instance = None
    if not new_window and not screenshot:
        from ndviewer.gui.single_instance import hand_over_or_serve

        instance = hand_over_or_serve(files)
        if instance is None:
            startup_gc.resume()
            if startup_log.records:  # what was logged so far still reaches the log file
                configure_logging(startup_log)
            return 0  # the running window opened them

    from ndviewer.gui.collector import GuiThreadCollector
    from ndviewer.gui.main_window import MainWindow

    app.collector = GuiThreadCollector(parent=app)
    app.setApplicationName("ndviewer")
    app.setOrganizationName("ndviewer")
    app.setStyle("Fusion")
    settings = make_settings()
    from ndviewer.gui.preferences import load_preferences
    from ndviewer.gui.theme import ThemeFollower

    app.theme_follower = ThemeFollower(app, load_preferences(settings)["theme"])
    from ndviewer.gui.icons import app_icon

    app.setWindowIcon(app_icon())
    window = MainWindow(settings)

    from ndviewer.gui.crash_report import CrashReporter

    app.crash_reporter = CrashReporter(window, None)
    app.crash_reporter.install()
    if instance is not None:
        app.instance_server = instance
        instance.open_files = window.open_handed_over
    if sys.platform == "darwin":  # only macOS sends QFileOpenEvent (Finder, Dock, `open`);
        # elsewhere an application-wide Python event filter would only cost a call per event
        from ndviewer.gui.desktop import FileOpenFilter

        app.installEventFilter(FileOpenFilter(window.open_handed_over, app))
    app.theme_follower.changed.connect(window.restyle)
    window.show()
    startup_gc.freeze_what_lives_on()
    window.tree_shown.connect(
        lambda _path: QTimer.singleShot(GC_RESUME_DELAY_MS, startup_gc.resume)
    )
    QTimer.singleShot(GC_RESUME_LATEST_MS, startup_gc.resume)
    for k, path in enumerate(files):
        if k == 0 and select:
            window.open_at(path, select)  # selects the object once its tree is shown
        else:
            window.open_path(path)

    def open_log_file() -> None:
        if startup_log in logging.getLogger().handlers:  # once, whichever comes first
            window.log_path = app.crash_reporter.log_path = configure_logging(startup_log)

    QTimer.singleShot(LOG_FILE_DELAY_MS, open_log_file)
    app.aboutToQuit.connect(open_log_file)  # a run shorter than that still writes its log
    if screenshot:
        pending = {normalized_location(p) for p in files}

        def capture() -> None:
            window.grab().save(screenshot)
            app.quit()

        def shown(path: str) -> None:
            pending.discard(path)
            if not pending:
                QTimer.singleShot(
                    int(os.environ.get("NDVIEWER_SCREENSHOT_DELAY_MS", "2500")), capture
                )

        window.tree_shown.connect(shown)
        window.file_failed.connect(lambda path, _message: shown(path))
        if not pending:
            QTimer.singleShot(1500, capture)
    try:
        return app.exec()
    finally:
        startup_gc.resume()
