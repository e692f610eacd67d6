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
    ("Ctrl+W", "Close the current file", "window"),
    ("Ctrl+E", "Export a figure of the current view", "window"),
    ("Ctrl+Q", "Quit", "window"),
    ("Ctrl+F", "Filter objects by name or type", "window"),
    ("Ctrl+P", "Pin the current view below", "window"),
    ("F11", "Full screen on/off", "window"),
    ("F1", "This list of shortcuts", "window"),
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
    """ndviewer and the libraries whose versions decide how a file is read and drawn."""
    import h5py
    import numpy
    import pyqtgraph
    import PySide6
    from PySide6.QtCore import qVersion

    from ndviewer import __version__

    found = {
        "ndviewer": __version__,
        "Python": platform.python_version(),
        "Qt": qVersion(),
        "PySide6": PySide6.__version__,
        "pyqtgraph": pyqtgraph.__version__,
        "h5py": h5py.__version__,
        "HDF5": h5py.version.hdf5_version,
        "numpy": numpy.__version__,
    }
    try:
        import hdf5plugin

        found["hdf5plugin"] = hdf5plugin.version
    except ImportError:  # pragma: no cover - a dependency, but optional at run time
        pass
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
