"""The details of any object: type and ancestry, the spec's doc, layout, attributes, preview.

This is the panel every node can fall back to. Small datasets are previewed through the
worker pool (a read is never done on the GUI thread), and link targets and type names in the
page are clickable.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
from PySide6.QtWidgets import QWidget

from ndviewer.core.model.catalog import Catalog
from ndviewer.core.model.nodes import BROKEN_LINK, Node
from ndviewer.gui.html_style import page_css
from ndviewer.gui.panels.base import PanelContext
from ndviewer.gui.panels.html_panel import HtmlPanel
from ndviewer.gui.tree_model import format_shape

PREVIEW_ELEMENTS = 2000


def _format_value(value: Any, limit: int = 400) -> str:
    if isinstance(value, np.ndarray):
        with np.printoptions(threshold=50, edgeitems=5, linewidth=100):
            text = np.array2string(value, separator=", ")
    elif isinstance(value, list | tuple):
        shown = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in value[:30])
        text = f"[{shown}{', …' if len(value) > 30 else ''}]"
    else:
        text = str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return html.escape(text)


def _human_bytes(n: int | None) -> str:
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n} B"


def describe_node_html(node: Node, catalog: Catalog, preview: str = "") -> str:
    """The details page of a node as HTML (pure function, testable without a window)."""
    parts = [f"<style>{page_css()}</style>"]
    title = html.escape(node.name or str(node.file.path.name))
    type_name = node.neurodata_type
    parts.append(f"<h2>{title} <span class='sub'>{html.escape(type_name or '')}</span></h2>")
    parts.append(f"<div class='sub'><code>{html.escape(node.path)}</code></div>")
    if node.kind == BROKEN_LINK:
        parts.append(f"<p class='err'>{html.escape(node.error or 'broken link')}</p>")
        return "".join(parts)
    if node.link_target:
        target = html.escape(node.link_target)
        parts.append(f"<p>Link to <a href='node:{target}'>{target}</a></p>")
    if type_name:
        chain = catalog.hierarchy(type_name)
        links = " → ".join(f"<a href='type:{html.escape(t)}'>{html.escape(t)}</a>" for t in chain)
        parts.append(
            f"<p class='chain'>{links}"
            f" <span class='sub'>(namespace {html.escape(node.namespace or '?')})</span></p>"
        )
        if catalog.knows(type_name):
            parts.append(f"<p class='doc'>{html.escape(catalog.doc(type_name))}</p>")
        else:
            parts.append(
                f"<p class='warn'>Type {html.escape(type_name)} is not described by the file's "
                "cached specification (its namespace is missing); it is shown as a plain "
                "object.</p>"
            )
    else:
        parent = node.file.node(node.parent_path) if node.parent_path else None
        member = catalog.member(parent.neurodata_type, node.name) if parent is not None else None
        if member is not None and member.doc:
            parts.append(f"<p class='doc'>{html.escape(member.doc)}</p>")
    rows: list[tuple[str, str]] = []
    if node.is_dataset:
        rows.append(("shape", format_shape(node.shape)))
        rows.append(("data type", html.escape(node.dtype_name)))
        rows.append(("chunks", format_shape(node.chunks) if node.chunks else "contiguous"))
        rows.append(("compression", html.escape(node.compression or "none")))
        stored, logical = node.storage_size, node.logical_size
        size = _human_bytes(stored)
        if stored and logical and node.compression:
            size += f" (ratio {logical / stored:.2f}×, {_human_bytes(logical)} uncompressed)"
        rows.append(("stored size", size))
    elif node.is_group:
        rows.append(("members", str(node.n_children)))
    if node.object_id:
        rows.append(("object_id", f"<code>{html.escape(node.object_id)}</code>"))
    if rows:
        parts.append(
            "<h3>Layout</h3><table class='kv'>"
            + "".join(f"<tr><td class='k'>{k}</td><td>{v}</td></tr>" for k, v in rows)
            + "</table>"
        )
    attrs = {
        k: v
        for k, v in node.attrs.items()
        if k not in ("neurodata_type", "namespace", "object_id", "data_type")
    }
    if attrs:
        spec_type = type_name
        table = []
        for key, value in sorted(attrs.items()):
            member = catalog.member(spec_type, key, "attribute") if spec_type else None
            tip = f" title='{html.escape(member.doc)}'" if member and member.doc else ""
            shown = _format_value(value)
            if (
                isinstance(value, str)
                and value.startswith("/")
                and key in ("target", "table", "source", ".specloc")
                or key == ".specloc"
            ):
                shown = f"<a href='node:{html.escape(str(value))}'>{shown}</a>"
            table.append(f"<tr><td class='k'{tip}>{html.escape(key)}</td><td>{shown}</td></tr>")
        parts.append("<h3>Attributes</h3><table class='kv'>" + "".join(table) + "</table>")
    if preview:
        parts.append("<h3>Values</h3>" + preview)
    return "".join(parts)


def preview_html(value: Any) -> str:
    if value is None:
        return ""
    return f"<pre>{_format_value(value, limit=20000)}</pre>"


class DetailsPanel(HtmlPanel):
    """Type, ancestry, doc, layout, attributes and a preview of small datasets."""

    title = "Details"

    def __init__(self, context: PanelContext, node: Node, parent: QWidget | None = None) -> None:
        super().__init__(context, node, parent)
        self._render("")
        if node.kind != BROKEN_LINK and node.is_dataset:
            size = int(np.prod(node.shape)) if node.shape else 1
            if size <= PREVIEW_ELEMENTS:
                path = node.path
                file = context.file
                context.pool.submit(
                    self.job_key("preview"),
                    lambda token: file.node(path).read(PREVIEW_ELEMENTS),
                    self._on_preview,
                    self._on_preview_error,
                )
            else:
                self._render(
                    "<p class='sub'>Too large to preview here; 'View as' → Array browses "
                    "the values (table, line or image), reading only what is on screen.</p>"
                )

    def _render(self, preview: str) -> None:
        self.browser.setHtml(describe_node_html(self.node, self.context.file.catalog, preview))

    def _on_preview(self, value: Any) -> None:
        self._render(preview_html(value))

    def _on_preview_error(self, exc: Exception) -> None:
        self._render(f"<p class='err'>Cannot read the values: {html.escape(str(exc))}</p>")
