"""Batch reports: one row per file as CSV, JSON or a self-contained sortable HTML page.

The JSON report is the complete one (lists stay lists) and the one ``--resume`` reads best;
CSV joins list cells with `` | `` for spreadsheets; HTML sorts by any column with a click.
"""

from __future__ import annotations

import csv
import html
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ndviewer.core.batch.tasks import COMMON_FIELDS, FIELDS

FORMATS = (".csv", ".json", ".html")
Row = dict[str, Any]


def columns(command: str) -> list[str]:
    return [*COMMON_FIELDS, *FIELDS.get(command, ())]


def summarize(
    rows: Sequence[Row], seconds: float | None = None, ran: int | None = None
) -> dict[str, Any]:
    """Counts by status, and the rate when the run's wall time is given (over the ``ran``
    files read in that time, when a resumed run kept the others)."""
    counts = {"files": len(rows), "ok": 0, "problems": 0, "error": 0}
    for row in rows:
        counts[row.get("status", "error")] = counts.get(row.get("status", "error"), 0) + 1
    if seconds is not None:
        counts["seconds"] = round(seconds, 3)
        ran = len(rows) if ran is None else ran
        counts["files_per_second"] = round(ran / seconds, 2) if seconds > 0 and ran else None
    return counts


def summary_line(summary: dict[str, Any]) -> str:
    """``12 files: 9 ok, 2 with problems, 1 unreadable (3.1 s, 3.9 files/s)``."""
    text = (
        f"{summary['files']} file{'s' if summary['files'] != 1 else ''}: {summary['ok']} ok, "
        f"{summary['problems']} with problems, {summary['error']} unreadable"
    )
    if summary.get("seconds") is not None:
        text += f" ({summary['seconds']:.1f} s, {summary.get('files_per_second') or 0:g} files/s)"
    return text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " | ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)


def _atomic_write(path: Path, text: str) -> None:
    """The report is replaced in one step: an interrupted write never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_report(
    path: str | os.PathLike, command: str, rows: Sequence[Row], summary: dict[str, Any]
) -> Path:
    """Write ``rows`` in the format of ``path``'s suffix (.csv, .json or .html)."""
    out = Path(path)
    suffix = out.suffix.lower()
    names = columns(command)
    extra = sorted({k for row in rows for k in row} - set(names))
    names += extra
    if suffix == ".json":
        text = json.dumps({"command": command, "summary": summary, "rows": list(rows)}, default=str)
    elif suffix == ".csv":
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(names)
        for row in rows:
            writer.writerow([_cell(row.get(name)) for name in names])
        text = buffer.getvalue()
    elif suffix == ".html":
        text = _html(command, names, rows, summary)
    else:
        raise ValueError(f"unknown report format {suffix!r} (use {', '.join(FORMATS)})")
    _atomic_write(out, text)
    return out


def load_rows(path: str | os.PathLike) -> list[Row]:
    """The rows of an earlier report (JSON or CSV), for ``--resume``; [] if there is none."""
    report = Path(path)
    if not report.exists():
        return []
    if report.suffix.lower() == ".json":
        try:
            return list(json.loads(report.read_text(encoding="utf-8")).get("rows", []))
        except (ValueError, AttributeError):
            return []
    if report.suffix.lower() == ".csv":
        with report.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        for row in rows:
            for key in ("size", "mtime_ns"):
                row[key] = int(row[key]) if row.get(key) else None
        return rows
    return []


def same_identity(row: Row, identity: dict[str, Any]) -> bool:
    """Whether a row was written for the file as it is now (same size and mtime)."""
    if identity.get("size") is None:
        return False
    if identity.get("etag"):  # a URL: its ETag (or Last-Modified) stands for the mtime
        return row.get("size") == identity["size"] and row.get("etag") == identity["etag"]
    return row.get("size") == identity["size"] and row.get("mtime_ns") == identity["mtime_ns"]


_SORT_SCRIPT = """
document.querySelectorAll('th').forEach((th, col) => th.addEventListener('click', () => {
  const body = th.closest('table').tBodies[0];
  const up = th.dataset.dir !== 'up'; th.dataset.dir = up ? 'up' : 'down';
  const key = r => { const t = r.cells[col].innerText; const n = parseFloat(t);
                     return isNaN(n) ? t.toLowerCase() : n; };
  [...body.rows].sort((a, b) => (key(a) > key(b) ? 1 : key(a) < key(b) ? -1 : 0) * (up ? 1 : -1))
    .forEach(r => body.appendChild(r));
}));
"""


def _html(command: str, names: list[str], rows: Sequence[Row], summary: dict[str, Any]) -> str:
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    body = []
    for row in rows:
        status = html.escape(str(row.get("status", "")))
        cells = "".join(f"<td>{html.escape(_cell(row.get(n)))}</td>" for n in names)
        body.append(f"<tr class='{status}'>{cells}</tr>")
    return (
        "<!doctype html><meta charset='utf-8'>"
        f"<title>ndviewer {html.escape(command)} report</title>"
        "<style>body{font:13px sans-serif;margin:16px}table{border-collapse:collapse}"
        "th,td{border:1px solid #d5dde5;padding:3px 6px;text-align:left;vertical-align:top}"
        "th{background:#eef2f6;cursor:pointer}tr.error td{background:#fadbd8}"
        "tr.problems td{background:#fdf2d0}</style>"
        f"<h2>ndviewer {html.escape(command)}</h2><p>{html.escape(summary_line(summary))}</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        f"<script>{_SORT_SCRIPT}</script>"
    )
