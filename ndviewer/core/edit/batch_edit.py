"""``ndviewer edit``: the same validated metadata transaction, headless, over many files.

::

    ndviewer edit a.nwb b.nwb --set general/subject/species="Mus musculus" \\
        --set general/experimenter='["Doe, Jane"]' --template lab.yaml --dry-run

Every value is resolved to a form field of each file (so extension types work), parsed and
validated exactly as the GUI does it. All files are checked before any is written: an invalid
value exits with status 2 and a message, a file that cannot be written (read-only, open in
another program, an interrupted save pending) exits with status 1, and in both cases nothing
is written. ``--dry-run`` prints the diff and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from ndviewer.core.edit.forms import FormField, resolve_field, set_field
from ndviewer.core.edit.journal import discard_journal, find_journal, rollback_journal
from ndviewer.core.edit.states import ABSENT
from ndviewer.core.edit.transaction import EditSession, check_writable, refuse_remote
from ndviewer.core.errors import NdviewerError
from ndviewer.core.model.files import open_nwb
from ndviewer.core.model.storage import is_remote

EXIT_OK, EXIT_INVALID = 0, 2  # the same codes as every subcommand (see cli)


class UsageError(NdviewerError):
    """The command line or a template is wrong (exit status 2)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ndviewer edit",
        description="Set metadata fields of NWB files through a validated transaction (the "
        "same one the editor uses); each file is saved atomically (an edited copy is renamed "
        "over it), so an interrupted save leaves the old file or the new one.",
        epilog='Example: ndviewer edit *.nwb --set general/subject/species="Mus musculus" '
        "--set general/subject/age=P90D --dry-run",
    )
    parser.add_argument("files", nargs="+", type=_file_argument, metavar="FILE")
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="set a field, e.g. general/subject/sex=F, general/devices/probe/description=..., "
        "acquisition/speed/data@unit=m/s; lists as JSON (general/keywords='[\"V1\"]'); an "
        "empty VALUE removes the field",
    )
    parser.add_argument(
        "--template",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a JSON or YAML mapping of field paths (flat or nested) to values; --set wins",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the changes, write nothing")
    recovery = parser.add_mutually_exclusive_group()
    recovery.add_argument(
        "--rollback",
        action="store_true",
        help="restore the old values from the journal an older ndviewer's interrupted save "
        "left, then stop",
    )
    recovery.add_argument(
        "--keep",
        action="store_true",
        help="keep the values of an older ndviewer's interrupted save and remove its journal, "
        "then stop",
    )
    return parser


def _file_argument(text: str) -> Path | str:
    """A path, or a URL kept as written (``Path`` would fold its ``//``) so it is refused."""
    return text if is_remote(text) else Path(text)


def parse_assignment(text: str) -> tuple[str, str]:
    """``general/subject/sex=F`` → (``general/subject/sex``, ``F``)."""
    path, sep, value = text.partition("=")
    if not sep or not path.strip():
        raise UsageError(f"--set needs PATH=VALUE, e.g. general/subject/sex=F (got '{text}').")
    return path.strip(), value


def flatten(mapping: dict, prefix: str = "") -> dict[str, Any]:
    """Nested template mappings become field paths: {general: {lab: X}} → {general/lab: X}."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        path = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(flatten(value, path))
        else:
            out[path.strip("/")] = value
    return out


def load_template(path: Path) -> dict[str, Any]:
    """Field values from a JSON or YAML template (a mapping, flat or nested)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"Cannot read the template {path}: {exc.strerror or exc}.") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise UsageError(
                f"Cannot read {path}: YAML templates need the pyyaml package; install it or "
                "write the template as JSON."
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UsageError(f"The template {path} is not valid YAML ({exc}).") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"The template {path} is not valid JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise UsageError(f"The template {path} must be a mapping of field paths to values.")
    return flatten(data)


def template_value(form_field: FormField, value: Any) -> Any:
    """A template's native value (text, number, list, null) as the field's value."""
    if value is None:
        return ABSENT
    if hasattr(value, "isoformat"):  # YAML turns unquoted dates into date/datetime objects
        value = value.isoformat()
    if isinstance(value, str):
        return form_field.parse(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return form_field.parse_item(value)
    if isinstance(value, list):
        return [
            form_field.parse_item(v.isoformat() if hasattr(v, "isoformat") else v) for v in value
        ]
    return value


def prepare(path: Path, assignments: dict[str, Any], raw_text: set[str]) -> EditSession:
    """Apply every assignment to a new session on ``path`` (read-only; the file is closed
    again before returning).

    ``raw_text`` names the assignments given as command-line text, parsed like typed input.
    Raises ``NdviewerError`` listing every problem found in this file.
    """
    refuse_remote(path)
    nwbfile = open_nwb(path)
    session = EditSession(path, nwbfile.h5)
    problems: list[str] = []
    try:
        for field_path, value in assignments.items():
            try:
                form, form_field = resolve_field(session, nwbfile.catalog, field_path)
                if field_path in raw_text:
                    parsed = form_field.parse(value)
                else:
                    parsed = template_value(form_field, value)
                set_field(session, form, form_field.key, parsed)
            except NdviewerError as exc:
                problems.append(f"{field_path}: {exc.message}")
        if not problems:
            problems.extend(session.transaction().check(path))
    finally:
        session.attach(None)
        nwbfile.close()
    if problems:
        raise NdviewerError(f"{path}: " + "; ".join(problems))
    return session


def _recover(files: list[Path], rollback: bool, out: TextIO) -> int:
    status = EXIT_OK
    for path in files:
        try:
            journal = find_journal(path)
            if journal is None:
                print(f"{path}: no interrupted save.", file=out)
                continue
            if rollback:
                lines = rollback_journal(path)
                print(f"{path}: restored {len(lines)} value(s):", file=out)
                for line in lines:
                    print(f"  {line}", file=out)
            else:
                discard_journal(path)
                print(f"{path}: kept the values of the interrupted save.", file=out)
        except NdviewerError as exc:
            print(f"ndviewer: {' '.join(exc.message.split())}", file=sys.stderr)
            status = EXIT_INVALID
    return status


def _refuse(messages: list[str]) -> int:
    """Say why nothing was written, on one line (scripts read stderr line by line)."""
    text = "; ".join(" ".join(m.split()) for m in messages)
    print(f"ndviewer: {text} Nothing was written.", file=sys.stderr)
    return EXIT_INVALID


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Run ``ndviewer edit``; returns the exit status (0 done, 2 refused: nothing written).

    A refusal is one line on stderr and nothing on stdout. ``--dry-run`` refuses exactly
    what the real save would (a read-only, locked or journal-pending file), so a dry run that
    passes predicts a save that passes.
    """
    out = out or sys.stdout
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage message
        return EXIT_INVALID if exc.code else EXIT_OK
    if args.rollback or args.keep:
        return _recover(args.files, args.rollback, out)
    try:
        assignments: dict[str, Any] = {}
        for template in args.template:
            assignments.update(load_template(template))
        raw_text: set[str] = set()
        for text in args.sets:
            path, value = parse_assignment(text)
            assignments[path] = value
            raw_text.add(path)
        if not assignments:
            raise UsageError("Nothing to set: give --set PATH=VALUE or --template FILE.")
    except UsageError as exc:
        return _refuse([exc.message])

    sessions: list[EditSession] = []
    messages: list[str] = []
    for path in args.files:
        try:
            sessions.append(prepare(path, assignments, raw_text))
        except NdviewerError as exc:
            messages.append(exc.message)
        except (RuntimeError, OSError, KeyError, ValueError, TypeError, RecursionError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            messages.append(f"Cannot edit {path}: the file is damaged ({reason}).")
    for session in sessions:
        if session.is_dirty:
            try:
                check_writable(session.path)
            except NdviewerError as exc:
                messages.append(exc.message)
    if messages:
        return _refuse(messages)

    for session in sessions:
        diff = session.diff()
        print(f"{session.path}: {len(diff)} change(s)" + (":" if diff else ""), file=out)
        for line in diff:
            print(f"  {line}", file=out)
    if args.dry_run:
        print("Dry run: nothing was written.", file=out)
        return EXIT_OK

    saved: list[Path] = []
    for session in sessions:
        try:
            session.save()
        except NdviewerError as exc:
            already = f" Already saved: {', '.join(str(p) for p in saved)}." if saved else ""
            print(f"ndviewer: {' '.join(exc.message.split())}{already}", file=sys.stderr)
            return EXIT_INVALID
        saved.append(session.path)
    print(f"Saved {len(saved)} file(s).", file=out)
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
