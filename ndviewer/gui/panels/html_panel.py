"""A panel that is one HTML page whose links navigate: ``node:/path`` shows that object,
``type:Name`` filters the tree to that type (subtypes included)."""

from __future__ import annotations

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

from ndviewer.core.model.nodes import Node
from ndviewer.gui.panels.base import Panel, PanelContext


class HtmlPanel(Panel):
    def __init__(self, context: PanelContext, node: Node, parent: QWidget | None = None) -> None:
        super().__init__(context, node, parent)
        self.browser = QTextBrowser(self)
        self.browser.setOpenLinks(False)
        self.browser.anchorClicked.connect(self._on_link)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.browser)

    def _on_link(self, url: QUrl) -> None:
        text = url.toString()
        if text.startswith("node:"):
            self.context.open_path(text[5:])
        elif text.startswith("type:"):
            self.context.settings.get("filter_by_type", lambda t: None)(text[5:])

    def html(self) -> str:
        return self.browser.toHtml()
