"""The file overview: what a lab member wants to know first about a session.

Session, subject, lab, NWB version and namespaces (with where the spec came from), problems
found while opening, and counts by type once the background index is ready. Clicking a type
filters the tree to every object of that type (subtypes included).
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtWidgets import QWidget

from ndviewer.core.model.files import NwbFile
from ndviewer.core.model.nodes import Node
from ndviewer.core.nwb.summary import general_info, session_info, subject_info
from ndviewer.gui.html_style import page_css
from ndviewer.gui.panels.base import PanelContext
from ndviewer.gui.panels.html_panel import HtmlPanel

_SPEC_SOURCE_TEXT = {
    "file": "from the file's own cached specification",
    "fallback": "from ndviewer's built-in NWB schema (the file caches no specification)",
    "none": "none (plain HDF5 file)",
}


def _value(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "<span class='sub'>—</span>"
    if isinstance(value, list):
        return html.escape("; ".join(str(v) for v in value))
    return html.escape(str(value))


# What DANDI requires of a subject before upload (age may be replaced by date_of_birth).
_DANDI_SUBJECT = ("subject_id", "species", "sex")


def _subject_value(key: str, value: Any, subject: dict[str, Any]) -> str:
    """The value, or a red note where DANDI will refuse the file without it."""
    if value not in (None, "", []):
        return _value(value)
    hint = "(edit it under View as › Metadata)"
    if key in _DANDI_SUBJECT:
        return f"<span class='missing'>missing — DANDI requires it {hint}</span>"
    if key == "age" and not subject.get("date_of_birth"):
        return f"<span class='missing'>missing — DANDI requires age or date_of_birth {hint}</span>"
    return _value(value)


def overview_html(file: NwbFile, facts: dict[str, Any], counts: dict[str, int] | None) -> str:
    """The overview page (pure function of what was read, testable without a window)."""
    session = facts.get("session") or {}
    general = facts.get("general") or {}
    subject = facts.get("subject")
    catalog = file.catalog
    parts = [f"<style>{page_css()}</style>"]
    parts.append(f"<h2>{html.escape(file.path.name)}</h2>")
    parts.append(
        f"<div class='sub'>{html.escape(str(file.path.parent))} · "
        f"{file.identity.size / 1e6:,.1f} MB</div>"
    )
    for problem in file.problems:
        parts.append(f"<p class='warn'>{html.escape(problem)}</p>")
    if not file.is_nwb:
        parts.append(
            "<p class='warn'>This HDF5 file has no NWB attributes; it is shown as plain HDF5.</p>"
        )
    rows = [
        ("Session", session.get("session_description")),
        ("Identifier", session.get("identifier")),
        ("Start time", session.get("session_start_time")),
        ("Experimenter", general.get("experimenter")),
        (
            "Lab",
            " · ".join(str(v) for v in (general.get("lab"), general.get("institution")) if v)
            or None,
        ),
        ("Keywords", general.get("keywords")),
        ("Publications", general.get("related_publications")),
    ]
    parts.append(
        "<h3>Session</h3><table class='kv'>"
        + "".join(f"<tr><td class='k'>{k}</td><td>{_value(v)}</td></tr>" for k, v in rows)
        + "</table>"
    )
    parts.append("<h3>Subject</h3>")
    if subject is None:
        parts.append(
            "<p class='warn'>No subject (/general/subject is missing: DANDI requires "
            "subject_id, species, sex and age).</p>"
        )
    else:
        parts.append(
            "<table class='kv'>"
            + "".join(
                f"<tr><td class='k'>{k}</td><td>{_subject_value(k, v, subject)}</td></tr>"
                for k, v in subject.items()
                if k != "description" or v
            )
            + "</table>"
        )
    parts.append("<h3>Format</h3><table class='kv'>")
    parts.append(f"<tr><td class='k'>NWB version</td><td>{_value(file.nwb_version)}</td></tr>")
    parts.append(
        f"<tr><td class='k'>Types</td><td>{_SPEC_SOURCE_TEXT[catalog.spec_source]}</td></tr>"
    )
    namespaces = ", ".join(
        f"{html.escape(n.name)} {html.escape(n.version)}" for n in catalog.namespaces.values()
    )
    parts.append(f"<tr><td class='k'>Namespaces</td><td>{namespaces or '—'}</td></tr></table>")
    parts.append("<h3>Contents</h3>")
    if counts is None:
        parts.append("<p class='sub'>Indexing the file in the background…</p>")
    else:
        parts.append("<table class='grid'><tr><th>Type</th><th>Count</th><th>Is a</th></tr>")
        for type_name, count in counts.items():
            chain = catalog.hierarchy(type_name)[1:3]
            parts.append(
                f"<tr><td><a href='type:{html.escape(type_name)}'>{html.escape(type_name)}</a></td>"
                f"<td align='right'>{count:,}</td>"
                f"<td class='sub'>{html.escape(' → '.join(chain))}</td></tr>"
            )
        parts.append("</table>")
    return "".join(parts)


def read_overview_facts(file: NwbFile) -> dict[str, Any]:
    """The small header reads behind the overview (run in a worker)."""
    if not file.is_nwb:
        return {}
    return {
        "session": session_info(file),
        "general": general_info(file),
        "subject": subject_info(file),
    }


class OverviewPanel(HtmlPanel):
    """The NWBFile root: session, subject, format and contents at a glance."""

    title = "Overview"

    def __init__(self, context: PanelContext, node: Node, parent: QWidget | None = None) -> None:
        super().__init__(context, node, parent)
        self._facts: dict[str, Any] = {}
        self._render()
        file = context.file
        context.pool.submit(
            self.job_key("facts"),
            lambda token: read_overview_facts(file),
            self._on_facts,
            self._on_facts_failed,
        )

    def _counts(self) -> dict[str, int] | None:
        index = self.context.index
        return index.counts_by_type() if index is not None else None

    def _render(self) -> None:
        self.browser.setHtml(overview_html(self.context.file, self._facts, self._counts()))

    def _on_facts(self, facts: dict[str, Any]) -> None:
        self._facts = facts
        self._render()

    def _on_facts_failed(self, exc: Exception) -> None:
        self._render()
        message = html.escape(f"Cannot read the session facts: {exc}")
        self.browser.append(f"<p style='color:#c0392b'>{message}</p>")

    def index_ready(self, index: Any) -> None:
        self._render()
