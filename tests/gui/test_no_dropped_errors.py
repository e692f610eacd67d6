"""No worker error may vanish: every job the GUI submits to the pool says what to do when it
fails (the whole-session strip once stayed blank because its handler dropped the error)."""

from __future__ import annotations

import ast
from pathlib import Path

GUI = Path(__file__).resolve().parents[2] / "ndviewer" / "gui"


def _submits_without_handler() -> list[str]:
    missing = []
    for path in sorted(GUI.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "submit"
            ):
                continue
            handler = node.args[3] if len(node.args) > 3 else None
            for keyword in node.keywords:
                if keyword.arg == "on_error":
                    handler = keyword.value
            dropped = (
                handler is None
                or (isinstance(handler, ast.Constant) and handler.value is None)
                or (
                    isinstance(handler, ast.Lambda)
                    and isinstance(handler.body, ast.Constant)
                    and handler.body.value is None
                )
            )
            if dropped:
                missing.append(f"{path.relative_to(GUI.parent.parent)}:{node.lineno}")
    return missing


def test_every_gui_job_handles_its_error():
    assert _submits_without_handler() == []


def test_the_scan_sees_submissions():
    """The scan must find the GUI's jobs at all (guards against a silently empty scan)."""
    count = sum(
        1
        for path in GUI.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "submit"
    )
    assert count >= 20
