"""The main window: a tab per open file, menus, drag-and-drop, and error messages.

It only arranges parts: each file lives in a ``FileTab``; panels are chosen there by the
registry. Errors arrive as readable messages and are shown in a window-modal box that does
not block the event loop, so other open files keep working.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QStackedWidget, QTabWidget, QWidget

from ndviewer.core.model.storage import is_remote, normalized_location
from ndviewer.gui.file_tab import FileTab
from ndviewer.gui.icons import app_icon
from ndviewer.gui.preferences import load_preferences
from ndviewer.gui.workers import WorkerPool

if TYPE_CHECKING:  # the dialogs, message boxes and drag events are imported when first
    # used: each Qt class is built on first access, and these cost ~4 ms of the start-up
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QMessageBox

    from ndviewer.gui.preferences import GuideDialog, PreferencesDialog

log = logging.getLogger(__name__)
MAX_RECENT = 10


class MainWindow(QMainWindow):
    """Tabs of open files.

    Signals
    -------
    tree_shown(str)
        The tree of the file at this path is on screen (used by tests and benchmarks).
    file_failed(str, str)
        The file (path) could not be opened; the message says why.
    """

    tree_shown = Signal(str)
    file_failed = Signal(str, str)

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("ndviewer")
        self.setWindowIcon(app_icon())
        self.resize(1500, 920)
        self.setAcceptDrops(True)
        self.settings = settings
        # shared with every file's panels (PanelContext.settings["preferences"])
        self.preferences = load_preferences(settings)
        self.pool = WorkerPool(parent=self)
        self.last_error: str | None = None
        self.log_path: Path | None = None  # set by the app once logging is configured
        self._message_box: QMessageBox | None = None

        self.tabs = QTabWidget(self)
        self.tabs.setTabsClosable(True)
        self.tabs.setDocumentMode(True)
        self.tabs.setMovable(True)
        self.tabs.tabCloseRequested.connect(self.close_tab)
        self.tabs.currentChanged.connect(self._update_title)
        self.welcome = QLabel(_welcome_text(), self)
        self.welcome.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.welcome.setWordWrap(True)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.tabs)
        self.setCentralWidget(self.stack)
        self._build_menus()
        self.statusBar().showMessage("Ready")
        self._restore_geometry()

    # -- menus ------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open…", self, shortcut=QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self._choose_files)
        file_menu.addAction(open_action)
        open_url_action = QAction("Open &URL…", self, shortcut=QKeySequence("Ctrl+Shift+O"))
        open_url_action.triggered.connect(self.choose_url)
        file_menu.addAction(open_url_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self._refresh_recent_menu()
        close_action = QAction("&Close File", self)
        close_action.setShortcuts([QKeySequence("Ctrl+W"), QKeySequence("Ctrl+F4")])
        close_action.triggered.connect(lambda: self.close_tab(self.tabs.currentIndex()))
        file_menu.addAction(close_action)
        folder_action = QAction("Check &Folder…", self, shortcut=QKeySequence("Ctrl+Shift+F"))
        folder_action.triggered.connect(lambda: self.check_folder())
        file_menu.addAction(folder_action)
        file_menu.addSeparator()
        export_action = QAction("&Export Figure…", self, shortcut=QKeySequence("Ctrl+E"))
        export_action.triggered.connect(self.export_current)
        file_menu.addAction(export_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self, shortcut=QKeySequence("Ctrl+Q"))
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        view_menu = self.menuBar().addMenu("&View")
        find_action = QAction("&Filter Objects…", self, shortcut=QKeySequence.StandardKey.Find)
        find_action.triggered.connect(self._focus_filter)
        view_menu.addAction(find_action)
        pin_action = QAction("&Pin Current View", self, shortcut=QKeySequence("Ctrl+P"))
        pin_action.triggered.connect(
            lambda: self.current_tab() and self.current_tab().pin_current()
        )
        view_menu.addAction(pin_action)
        prefs = QAction("&Preferences…", self, shortcut=QKeySequence.StandardKey.Preferences)
        prefs.setMenuRole(QAction.MenuRole.PreferencesRole)
        prefs.triggered.connect(self.show_preferences)
        view_menu.addSeparator()
        full_screen = QAction("&Full Screen", self, shortcut=QKeySequence("F11"), checkable=True)
        full_screen.toggled.connect(lambda on: self.showFullScreen() if on else self.showNormal())
        view_menu.addAction(full_screen)
        view_menu.addAction(prefs)
        help_menu = self.menuBar().addMenu("&Help")
        guide = QAction("&Quick Guide", self, shortcut=QKeySequence("F1"))
        guide.triggered.connect(self.show_guide)
        help_menu.addAction(guide)
        shortcuts = QAction("&Keyboard Shortcuts", self)
        shortcuts.triggered.connect(self._show_shortcuts)
        help_menu.addAction(shortcuts)
        about = QAction("&About ndviewer", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def check_folder(self, folder: str | None = None):
        """File ▸ Check Folder…: every NWB file under a folder, one sortable row each."""
        from ndviewer.gui.folder_report import FolderReportDialog

        start = folder or (str(self.settings.value("last_directory", "")) if self.settings else "")
        dialog = FolderReportDialog(self.open_at, start or None, self)
        dialog.show()
        if folder is None and not start:
            dialog._choose_folder()
        return dialog

    def open_at(self, path: str, object_path: str | None = None) -> None:
        """Open ``path`` (or switch to its tab) and select ``object_path`` once it is shown."""
        resolved = normalized_location(path)
        tab = next((t for t in self.open_tabs() if getattr(t, "path", None) == resolved), None)
        if tab is not None and getattr(tab, "model", None) is not None:
            self.open_path(resolved)
            if object_path:
                tab.show_path(object_path)
            return
        if object_path:

            def select_once(shown: str) -> None:
                if shown == resolved:
                    self.tree_shown.disconnect(select_once)
                    current = self.current_tab()
                    if current is not None:
                        current.show_path(object_path)

            self.tree_shown.connect(select_once)
        self.open_path(resolved)
        self.raise_()
        self.activateWindow()

    def export_current(self):
        """Open the Export dialog of the current view (its figure, or the layout of pinned
        time panels); says so when the view has nothing to draw."""
        tab = self.current_tab()
        panel = None
        if tab is not None:
            panels = tab.layout_panels()
            panel = next((p for p in panels if callable(getattr(p, "open_export", None))), None)
        if panel is None:
            self.statusBar().showMessage(
                "Nothing to export as a figure here: open a time series or an image "
                "(tables export from their own Export CSV button).",
                10000,
            )
            return None
        return panel.open_export()

    def show_guide(self) -> GuideDialog:
        """Help ▸ Quick Guide (non-modal, so the user can try what it says)."""
        from ndviewer.gui.preferences import GuideDialog

        dialog = GuideDialog(self)
        dialog.show()
        return dialog

    def show_preferences(self) -> PreferencesDialog:
        """View ▸ Preferences: defaults for new views, kept in the settings."""
        from ndviewer.gui.preferences import PreferencesDialog

        dialog = PreferencesDialog(self.settings, self.preferences, self)
        dialog.accepted.connect(self._apply_theme_choice)
        dialog.open()
        return dialog

    def _apply_theme_choice(self) -> None:
        follower = getattr(QApplication.instance(), "theme_follower", None)
        if follower is not None and follower.choice != self.preferences["theme"]:
            follower.set_choice(self.preferences["theme"])

    def restyle(self, _theme: str = "") -> None:
        """The theme changed: draw each tab's view again (its HTML pages take their colours
        when they are made)."""
        for k in range(self.tabs.count()):
            tab = self.tabs.widget(k)
            restyle = getattr(tab, "restyle", None)
            if restyle is not None:
                restyle()

    def _focus_filter(self) -> None:
        tab = self.current_tab()
        if tab is not None:
            tab.filter_edit.setFocus()
            tab.filter_edit.selectAll()

    def _about(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        from ndviewer.gui.help_pages import about_html

        QMessageBox.about(self, "About ndviewer", about_html(self.log_path))

    def _show_shortcuts(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        from ndviewer.gui.help_pages import shortcuts_html

        QMessageBox.information(self, "Keyboard shortcuts", shortcuts_html())

    def _choose_files(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        start = str(self.settings.value("last_directory", "")) if self.settings else ""
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Open NWB files", start, "NWB / HDF5 files (*.nwb *.h5 *.hdf5);;All files (*)"
        )
        if paths and self.settings is not None:
            self.settings.setValue("last_directory", str(Path(paths[0]).parent))
        for path in paths:
            self.open_path(path)

    def choose_url(self) -> None:
        """Ask for a URL or DANDI reference; it is resolved and read in the tab's worker."""
        from ndviewer.gui.open_url_dialog import OpenUrlDialog

        dialog = OpenUrlDialog(self, self.pool)
        dialog.accepted.connect(lambda: self.open_path(dialog.location()))
        self._url_dialog = dialog
        dialog.open()

    # -- what is remembered between sessions --------------------------------------------------
    def _restore_geometry(self) -> None:
        """The window's last size and place, kept on the screen it now has (a laptop that
        left its external monitor must not open the window off-screen or taller than it)."""
        geometry = self.settings.value("window/geometry") if self.settings else None
        if geometry is not None:
            self.restoreGeometry(geometry)
        screen = self.screen().availableGeometry() if self.screen() else None
        if screen is not None and screen.isValid():
            width = min(self.width(), screen.width())
            height = min(self.height(), screen.height())
            self.resize(width, height)
            if not screen.intersects(self.frameGeometry()):
                self.move(screen.topLeft())

    def _remember_layout(self) -> None:
        if self.settings is None:
            return
        self.settings.setValue("window/geometry", self.saveGeometry())
        tab = self.current_tab()
        if tab is not None:
            self.settings.setValue("window/tree_splitter", tab.splitter.saveState())

    def _apply_layout(self, tab: FileTab) -> None:
        state = self.settings.value("window/tree_splitter") if self.settings else None
        if state is not None:
            tab.splitter.restoreState(state)

    def _recent(self) -> list[str]:
        if self.settings is None:
            return []
        value = self.settings.value("recent_files", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _remember(self, path: str) -> None:
        if self.settings is None:
            return
        recent = [p for p in self._recent() if p != path]
        self.settings.setValue("recent_files", [path, *recent][:MAX_RECENT])
        self._refresh_recent_menu()

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self._recent()
        for path in recent:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(recent))

    # -- files ------------------------------------------------------------------------------
    def open_path(self, path: str | Path) -> FileTab | None:
        """Open a file in a new tab (or switch to it if it is open already)."""
        resolved = normalized_location(path)
        for i in range(self.tabs.count()):
            tab = self.tabs.widget(i)
            if isinstance(tab, FileTab) and tab.path == resolved:
                self.tabs.setCurrentIndex(i)
                return tab
        if not is_remote(resolved) and Path(resolved).is_file():
            from ndviewer.core.edit.atomic_save import remove_leftovers
            from ndviewer.core.edit.journal_files import journal_left

            # A killed save leaves only its hidden copy (the file itself is old or new): tidy it.
            for leftover in remove_leftovers(resolved):
                log.info("removed %s, left by a save that was interrupted", leftover)
            if journal_left(resolved):  # an older version's in-place save (the check is
                # stdlib only: the recovery dialog imports the whole writer)
                from ndviewer.gui.forms.recovery import offer_journal_recovery

                offer_journal_recovery(self, resolved)
        tab = FileTab(resolved, self.pool, self.tabs)
        tab.preferences = self.preferences
        tab.tree_shown.connect(self._on_tree_shown)
        tab.open_failed.connect(self._on_open_failed)
        tab.status.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self._apply_layout(tab)
        index = self.tabs.addTab(tab, Path(resolved).name)
        self.tabs.setTabToolTip(index, resolved)
        self.tabs.setCurrentIndex(index)
        self.stack.setCurrentWidget(self.tabs)
        return tab

    def open_handed_over(self, paths: list[str]) -> list[str]:
        """Open files another launch handed over (a double-click elsewhere) and come forward;
        returns the paths of the tabs (the reply to that launch).

        The reply names the tabs as they will be and the files open on the next turn of the
        event loop: the launching process waits for the reply before it exits, and building
        a tab first made every hand-over ~0.1 s slower (more while a file was being indexed).
        """
        current = [tab.path for tab in self.open_tabs()]
        wanted = list(dict.fromkeys(normalized_location(path) for path in paths))
        if wanted:
            QTimer.singleShot(0, lambda: self._open_now(wanted))
        return current + [path for path in wanted if path not in current]

    def _open_now(self, paths: list[str]) -> None:
        for path in paths:
            self.open_path(path)
        if paths:
            if self.isMinimized():
                self.showNormal()
            self.raise_()
            self.activateWindow()

    def _on_tree_shown(self, path: str) -> None:
        self.welcome.setText(_welcome_text())  # an older failure is no news once a file opens
        self._remember(path)
        self._update_title()
        self.tree_shown.emit(path)

    def _on_open_failed(self, path: str, message: str) -> None:
        for i in range(self.tabs.count()):
            tab = self.tabs.widget(i)
            if isinstance(tab, FileTab) and tab.path == path:
                self.close_tab(i)
                break
        # also on the welcome page, seen when no file is open (the box is gone once answered)
        self.welcome.setText(_welcome_text(message))
        self.show_error(message)
        self.file_failed.emit(path, message)

    def show_error(self, message: str) -> None:
        """A readable message in a box that does not block the other files."""
        self.last_error = message
        self.statusBar().showMessage(message, 15000)
        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(
            QMessageBox.Icon.Warning, "ndviewer", message, QMessageBox.StandardButton.Ok, self
        )
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._message_box = box
        box.open()

    def confirm_close(self, tab: FileTab) -> bool:
        """Ask before dropping unsaved edits; True when the tab may close."""
        pending = tab.unsaved_changes()
        if not pending:
            return True
        from PySide6.QtWidgets import QMessageBox

        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            f"{Path(tab.path).name} has {pending} unsaved change{'s' if pending != 1 else ''}. "
            "Close it and discard them?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Discard

    def close_tab(self, index: int) -> None:
        tab = self.tabs.widget(index)
        if isinstance(tab, FileTab) and not self.confirm_close(tab):
            return
        if isinstance(tab, FileTab):
            tab.close_file()
            self.tabs.removeTab(index)
            tab.deleteLater()
        if self.tabs.count() == 0:
            self.stack.setCurrentWidget(self.welcome)
        self._update_title()

    def current_tab(self) -> FileTab | None:
        tab = self.tabs.currentWidget()
        return tab if isinstance(tab, FileTab) else None

    def open_tabs(self) -> list[FileTab]:
        return [self.tabs.widget(i) for i in range(self.tabs.count())]

    def _update_title(self, *_args) -> None:
        tab = self.current_tab()
        self.setWindowTitle(f"{Path(tab.path).name} — ndviewer" if tab else "ndviewer")

    # -- drag and drop ----------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.open_path(url.toLocalFile())
        event.acceptProposedAction()

    def closeEvent(self, event) -> None:
        if not all(self.confirm_close(tab) for tab in self.open_tabs() if isinstance(tab, FileTab)):
            event.ignore()
            return
        self._remember_layout()
        for tab in self.open_tabs():
            if isinstance(tab, FileTab):
                tab.close_file()
        self.pool.shutdown()
        super().closeEvent(event)


def _welcome_text(problem: str | None = None) -> str:
    """The welcome page: how to open a file, and the last file that could not be opened."""
    note = f"<p style='color:#a93226; font-size:11pt'>{html.escape(problem)}</p>" if problem else ""
    return (
        "<div style='color:#5d6d7e; font-size:13pt'>"
        "<p style='font-size:20pt; color:#3b5b92'><b>ndviewer</b></p>"
        "<p>Drop an NWB file here, or use <b>File → Open…</b> (Ctrl+O).</p>"
        "<p>Files on a server or in the DANDI archive: <b>File → Open URL…</b> "
        f"(Ctrl+Shift+O).</p>{note}</div>"
    )
