"""nwbinspector as a second opinion, run in a subprocess and mapped to our findings.

The application never imports nwbinspector (it needs pynwb, which reads the whole file and
costs tens of seconds and hundreds of MB on large files): a child interpreter runs it and
prints its messages as JSON, which become findings pinned to the same object paths as ours.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

from ndviewer.core.checks.findings import Finding

IMPORTANCE_SEVERITY = {
    "ERROR": "error",  # nwbinspector's own failures (a check that raised): worth seeing
    "PYNWB_VALIDATION": "error",
    "CRITICAL": "error",
    "BEST_PRACTICE_VIOLATION": "warning",
    "BEST_PRACTICE_SUGGESTION": "info",
}
CHECK_PREFIX = "nwbinspector:"

_CHILD = r"""
import importlib, json, sys, warnings
warnings.simplefilter("ignore")
# imported by name in the child only: the application itself never imports the oracle
inspect_nwbfile = importlib.import_module("nwbinspector").inspect_nwbfile
out = []
for message in inspect_nwbfile(nwbfile_path=sys.argv[1], skip_validate=True):
    out.append({
        "check": message.check_function_name,
        "importance": message.importance.name,
        "location": message.location,
        "object_type": message.object_type,
        "object_name": message.object_name,
        "message": message.message,
    })
sys.stdout.write(json.dumps(out))
"""


class InspectorUnavailable(RuntimeError):
    """nwbinspector is not installed for that interpreter, or it failed on the file."""


def inspector_available(python: str | None = None) -> bool:
    """Whether ``python`` (default: this interpreter) can import nwbinspector, asked without
    importing it here.

    For this interpreter the finder is asked in this process (finding a top-level package
    imports nothing); another interpreter is asked in a child process. Each file tab asks
    once its checks start, and a child Python there cost ~25 ms of CPU and ~12 MB while the
    checks ran.
    """
    if python is None or python == sys.executable:
        if getattr(sys, "frozen", False):  # a bundle ships without it (and cannot run it)
            return False
        return importlib.util.find_spec("nwbinspector") is not None
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('nwbinspector') is None)"
    try:
        done = subprocess.run(
            [python or sys.executable, "-c", probe], capture_output=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def run_inspector(
    path: str, python: str | None = None, timeout: float = 1800.0, index=None
) -> list[Finding]:
    """nwbinspector's messages on ``path`` as findings (check ``nwbinspector:<its check>``).

    Some messages carry no location (tables such as ``units`` or ``trials``); with the
    file's typed ``index`` they are pinned to the one object of that name and type."""
    try:
        done = subprocess.run(
            [python or sys.executable, "-c", _CHILD, str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise InspectorUnavailable(
            f"nwbinspector did not finish on {path} within {timeout:g} s."
        ) from None
    except OSError as exc:
        raise InspectorUnavailable(f"nwbinspector could not be started ({exc}).") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        raise InspectorUnavailable(f"nwbinspector failed on {path} ({reason}).")
    try:
        messages = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        raise InspectorUnavailable(f"nwbinspector printed no readable result for {path}.") from None
    return [to_finding(message, index) for message in messages]


def _locate(message: dict, index) -> str:
    location = message.get("location")
    if location:
        return location
    if index is None:
        return "/"
    name, type_name = message.get("object_name"), message.get("object_type")
    hits = [
        entry.path
        for entry in index.typed
        if entry.neurodata_type == type_name and entry.path.rsplit("/", 1)[-1] == name
    ]
    return hits[0] if len(hits) == 1 else "/"


def to_finding(message: dict, index=None) -> Finding:
    location = _locate(message, index)
    return Finding(
        IMPORTANCE_SEVERITY.get(str(message.get("importance")), "info"),
        location if location.startswith("/") else "/" + location,
        "",
        CHECK_PREFIX + str(message.get("check")),
        str(message.get("message") or ""),
    )
