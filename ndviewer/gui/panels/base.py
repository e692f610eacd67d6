"""What every panel is: a widget that shows one node, chosen by the registry.

Panels get a ``PanelContext`` instead of reaching for globals: the open file, the time cursor
shared by the file's time-based panels, the worker pool for reads, and a way to ask the main
window to show another object (a link target, a referenced row's table…).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from PySide6.QtWidgets import QLabel, QLayout, QVBoxLayout, QWidget

from ndviewer.core.model.catalog import Catalog
from ndviewer.core.model.files import NwbFile
from ndviewer.core.model.nodes import Node
from ndviewer.core.time_cursor import TimeCursor
from ndviewer.gui.workers import WorkerPool


def short_path(path: str) -> str:
    """``parent/name`` of an object: enough to tell apart the two series pynwb names
    ``RoiResponseSeries`` (one under Fluorescence, one under DfOverF) without the full path."""
    parts = [p for p in path.split("/") if p]
    return "/".join(parts[-2:]) if parts else path


@dataclass
class PanelContext:
    """What a panel may use of the application."""

    file: NwbFile
    time_cursor: TimeCursor
    pool: WorkerPool
    # select another object in the tree and show it; options go to its panel's apply_options
    open_path: Callable[..., None] = lambda path, options=None: None
    # show another object in a pane of its own beside this one (e.g. an ROI's trace next to
    # the image), with panel options such as {"channels": [3]}
    open_linked: Callable[[str, dict], None] = lambda path, options: None
    # every panel of the tab, top to bottom (the main one, then the pinned ones): what a
    # figure of the whole layout stacks
    layout_panels: Callable[[], list[Any]] = lambda: []
    settings: dict[str, Any] = field(default_factory=dict)
    index: Any = None  # the FileIndex once the background walk is done (else None)


class Panel(QWidget):
    """One view of one node.

    Subclasses set ``title`` (shown in the "View as" selector), may refine ``priority`` and
    must release threads and file reads in ``shutdown``, which the window calls before it
    drops the panel.
    """

    title: ClassVar[str] = "Panel"

    def __init__(self, context: PanelContext, node: Node, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.node = node

    def lay_out_page(
        self, controls: QLayout, body: QWidget, status: QLabel | None = None
    ) -> QLabel:
        """Controls on top, ``body`` taking the height, a grey status line beneath: the page
        of the table, units and PSTH views. Returns the status label (``status`` or a new one).
        """
        if status is None:
            status = QLabel()
            status.setStyleSheet("color: palette(placeholder-text);")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(controls)
        layout.addWidget(body, 1)
        layout.addWidget(status)
        return status

    @classmethod
    def priority(cls, node: Node, catalog: Catalog) -> int:
        """silx scale: -1 cannot show this node, 1 can, 100 should; registry score is kept."""
        return 1

    def apply_options(self, options: dict[str, Any]) -> None:
        """Options from whoever opened this panel (e.g. {"channels": [3]}); ignored by default."""

    def index_ready(self, index: Any) -> None:
        """Called once the file's full typed index is built (panels that list types use it)."""

    def shutdown(self) -> None:
        """Cancel pending work; the default cancels every job keyed by this panel."""
        self.context.pool.cancel_prefix(self.job_key(""))

    def job_key(self, name: str) -> str:
        return f"{id(self)}:{name}"
