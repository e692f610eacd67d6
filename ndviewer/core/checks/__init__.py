"""File checks: schema validation against the file's own spec and best-practice rules.

Owns the finding shape (``findings``), the one table of best-practice rules (``rules``,
loaded from ``spec/checks.json``), schema validation (``schema``), the rule functions
(``best_practice``), the optional nwbinspector second opinion run in a subprocess
(``inspector``) and the entry point :func:`check_file` (``run``).

May import: ``core.model``, ``core.nwb`` (the summary's header reads), the validators of
``core.edit`` (one definition of "a valid species"), h5py, numpy. Never Qt or ``ndviewer.gui``
(import-linter checks it), never pynwb or nwbinspector (the second opinion is a subprocess).
"""

from typing import TYPE_CHECKING, Any

from ndviewer.core.checks.findings import SEVERITIES, Finding, Report

if TYPE_CHECKING:
    from ndviewer.core.checks.run import check_file

__all__ = ["SEVERITIES", "Finding", "Report", "check_file"]


def __getattr__(name: str) -> Any:
    # The window imports the finding shape at start-up, and runs the checks after its first
    # tree is painted: the rules, schema and passes are imported then, not at every launch.
    if name == "check_file":
        from ndviewer.core.checks.run import check_file

        return check_file
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
