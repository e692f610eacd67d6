"""The Help menu's pages: keyboard shortcuts and About (with every version a bug report needs).

The shortcut list is data, kept next to nothing else, and a test checks it against the
actions the window really has, so it cannot drift from the keys users press.
"""

from __future__ import annotations

import html
import platform
from pathlib import Path

#: (keys, what they do, where) — shown by Help > Keyboard Shortcuts.
SHORTCUTS: list[tuple[str, str, str]] = [
    ("Ctrl+O", "Open files", "window"),
    ("Ctrl+Shift+O", "Open a URL or DANDI file (read over the network)", "window"),
    ("Ctrl+W", "Close the current file", "window"),
    ("Ctrl+E", "Export a figure of the current view", "window"),
    ("Ctrl+Shift+F", "Check every NWB file in a folder", "window"),
    ("Ctrl+Q", "Quit", "window"),
    ("Ctrl+F", "Filter objects by name or type", "window"),
    ("Ctrl+P", "Pin the current view below", "window"),
    ("F11", "Full screen on/off", "window"),
    ("F1", "Quick guide", "window"),
    ("Ctrl+S", "Save pending metadata edits", "metadata forms"),
    ("Ctrl+Z / Ctrl+Shift+Z", "Undo / redo an edit", "metadata forms"),
    ("← / →", "Previous / next page of time (Shift: half a page)", "traces"),
    ("↑ / ↓", "Previous / next page of channels", "traces"),
    ("+ / −", "Zoom the time window in / out", "traces"),
    ("Ctrl+wheel", "Gain", "traces"),
    ("Home / End", "Start / end of the recording", "traces"),
    ("Space", "Play / pause", "images"),
]


def shortcuts_html() -> str:
    rows = "".join(
        f"<tr><td><b>{html.escape(keys)}</b></td><td>{html.escape(what)}</td>"
        f"<td style='color:#5d6d7e'>{html.escape(where)}</td></tr>"
        for keys, what, where in SHORTCUTS
    )
    return (
        "<table cellspacing='0' cellpadding='4'>"
        "<tr><th align='left'>Keys</th><th align='left'>Action</th>"
        f"<th align='left'>Where</th></tr>{rows}</table>"
    )


def versions() -> dict[str, str]:
    """ndviewer, the HDF5 stack (from the core) and the Qt stack that draws it."""
    import pyqtgraph
    import PySide6
    from PySide6.QtCore import qVersion

    from ndviewer.core.versions import reading_versions

    found = reading_versions()
    found.update({"Qt": qVersion(), "PySide6": PySide6.__version__})
    found["pyqtgraph"] = pyqtgraph.__version__
    found["platform"] = platform.platform()
    return found


def about_html(log_path: Path | None = None) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(value)}</td></tr>"
        for name, value in versions().items()
    )
    log = f"<p>Log file: {html.escape(str(log_path))}</p>" if log_path else ""
    return (
        f"<p><b>ndviewer {html.escape(versions()['ndviewer'])}</b><br>A viewer and editor for "
        "Neurodata Without Borders (NWB 2.x) files.</p>"
        f"<table cellspacing='0' cellpadding='2'>{rows}</table>{log}"
    )
