"""Command line: ``ndviewer [FILE...]`` opens the viewer; subcommands work headless.

``ndviewer info FILE [--json]``   the typed index and session summary (a stable JSON contract)
``ndviewer edit FILE... --set PATH=VALUE``   validated batch edits through the edit transaction
``ndviewer export FILE --object PATH --out OUT.EXT``   a figure or the data of one object
``ndviewer check FILE... [--json] [--inspector]``   schema validation and best practices
``ndviewer qc FILE --object PATH [--json] [--write]``   signal QC of one series (``cli_qc``)

Every subcommand exits with the same codes, so a script over a folder can trust them:

- 0: done. Problems found in a file that could still be described (a type from an uncached
  namespace, an unreadable start time, a damaged object) are ``ndviewer: warning: …`` lines
  on stderr and, for ``info --json``, the ``problems`` list of the JSON object.
- 1: done, and a check found problems (reserved for checking subcommands; ``info`` and
  ``edit`` never use it).
- 2: refused (the file cannot be read at all, the command line is wrong, a save would be
  unsafe): one line on stderr naming the file and the reason, nothing on stdout.

Bad input never produces a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ndviewer import __version__

SUBCOMMANDS = ("info", "edit", "export", "check", "qc")
EXIT_OK, EXIT_PROBLEMS, EXIT_REFUSED = 0, 1, 2
EXIT_BAD_INPUT = EXIT_REFUSED


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _fail(message: str) -> int:
    print(f"ndviewer: {_one_line(message)}", file=sys.stderr)
    return EXIT_REFUSED


def _warn(message: str) -> None:
    print(f"ndviewer: warning: {_one_line(message)}", file=sys.stderr)


def _info(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ndviewer info", description="Show the typed contents of an NWB file."
    )
    parser.add_argument("file")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="rebuild the index instead of using the persisted one",
    )
    args = parser.parse_args(argv)
    _remove_save_leftovers(args.file)
    from ndviewer.core.describe import cached_json, describe, save_json
    from ndviewer.core.errors import NdviewerError

    pending = _pending_journal_problem(args.file)
    printed = cached_json(args.file) if args.json and not args.no_cache and not pending else None
    if printed is not None:
        text, problems, notices = printed
    else:
        try:
            description = describe(args.file, use_cache=not args.no_cache)
        except NdviewerError as exc:
            return _fail(exc.message)
        summary, problems = description.summary, description.problems
        notices = description.notices
        if pending and pending not in problems:
            problems = [*problems, pending]
            summary = {**summary, "problems": problems}
        text = None
        if args.json:
            text = json.dumps(summary, default=str)  # indent: the slow pure-Python encoder
            if not pending:
                save_json(description, text)
    try:
        print(text if text is not None else format_summary(summary))
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into head: not an error of ours
        sys.stderr.close()
        return EXIT_OK
    for notice in notices:
        print(f"ndviewer: note: {_one_line(notice)}", file=sys.stderr)
    for problem in problems:
        _warn(problem)
    return EXIT_OK


def _pending_journal_problem(path: str) -> str | None:
    """The warning for a journal an older ndviewer's interrupted save left (the next save
    refuses until it is rolled back or kept, so ``info`` says so first)."""
    from ndviewer.core.edit.journal_files import journal_path  # stdlib only

    journal = journal_path(path)
    if not journal.exists():
        return None
    return (
        f"{path}: an earlier save was interrupted (by an older ndviewer) and left {journal}; "
        f"run 'ndviewer edit {path} --rollback' or '--keep' before editing."
    )


def _remove_save_leftovers(path: str) -> None:
    """Delete the hidden copy a killed save left next to ``path`` (never the file itself)."""
    file_path = Path(path)
    try:  # a listing first: importing the writer costs more than an `info` reopen (~1 ms)
        names = os.listdir(file_path.parent)
    except OSError:
        return
    if not any(name.startswith(f".{file_path.name}.ndviewer-save-") for name in names):
        return
    from ndviewer.core.edit.atomic_save import remove_leftovers

    for leftover in remove_leftovers(path):
        print(f"ndviewer: removed {leftover}, left by an interrupted save", file=sys.stderr)


def format_summary(summary: dict) -> str:
    """The readable form of ``info``: header lines, then the typed tree."""
    lines = [f"{'file:':<21}{summary['file']}"]
    if summary["nwb_version"]:
        lines.append(f"{'NWB version:':<21}{summary['nwb_version']}")
    else:
        lines.append(f"{'NWB version:':<21}(not an NWB file: shown as plain HDF5)")
    lines.append(
        f"{'spec:':<21}{summary['spec_source']}  "
        + ", ".join(f"{ns['name']} {ns['version']}" for ns in summary["namespaces"])
    )
    for key, value in summary["session"].items():
        if value is not None:
            lines.append(f"{key + ':':<21}{value}")
    lines.append("")
    series = {s["path"]: s for s in summary["series"]}
    shown = {"/"}
    for obj in summary["objects"]:
        path = obj["path"]
        depth = 0 if path == "/" else path.count("/")
        name = "/" if path == "/" else path.rsplit("/", 1)[1]
        parts = path.strip("/").split("/")
        for level in range(1, len(parts)):  # untyped folders such as /processing
            folder = "/" + "/".join(parts[:level])
            if folder not in shown:
                shown.add(folder)
                lines.append(f"{'  ' * level}{parts[level - 1]}/")
        shown.add(path)
        detail = ""
        if obj["shape"] is not None:
            detail = f"  {tuple(obj['shape'])} {obj['dtype']}"
        if path in series:
            s = series[path]
            rate = f"{s['rate']:g} Hz" if s["rate"] else "timestamps"
            duration = f"{s['duration']:.3f} s" if s["duration"] is not None else "?"
            detail += f"  [{_extent(s)}, {rate}, {duration}, {s['unit'] or 'no unit'}]"
        link = f"  -> {obj['link']}" if obj.get("link") else ""
        lines.append(f"{'  ' * depth}{name}  <{obj['neurodata_type']}>{detail}{link}")
    return "\n".join(lines)


def _extent(series: dict) -> str:
    """``300 frames × 128 × 128`` for an image series, ``1000 samples x 8 ch`` otherwise."""
    frame_shape = series.get("frame_shape")
    if frame_shape:
        return f"{series['n_samples']} frames × " + " × ".join(str(n) for n in frame_shape)
    if series.get("external_files"):
        return f"{series['n_samples']} frames in external files"
    return f"{series['n_samples']} samples x {series['n_channels']} ch"


def _gui(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ndviewer",
        description="Viewer and editor for NWB files.",
        epilog="Subcommands: " + ", ".join(SUBCOMMANDS) + " (run 'ndviewer info --help').",
    )
    parser.add_argument("files", nargs="*", help="NWB files to open")
    parser.add_argument("--version", action="version", version=f"ndviewer {__version__}")
    parser.add_argument(
        "--select", metavar="PATH", help="show this object of the (first) file, e.g. /units"
    )
    parser.add_argument(
        "--screenshot",
        metavar="PNG",
        help="save a picture of the window once the files are shown, then quit",
    )
    parser.add_argument(
        "--new-window",
        action="store_true",
        help="open a new window even if ndviewer is already running (default: hand the files "
        "to the running window as tabs)",
    )
    args = parser.parse_args(argv)
    if not args.new_window and not args.screenshot:
        from ndviewer.gui.instance_client import exchange

        delivered, _tabs = exchange(args.files)  # a running window takes them: no Qt needed
        if delivered:
            return 0
    from ndviewer.gui.app import run

    return run(
        args.files, screenshot=args.screenshot, select=args.select, new_window=args.new_window
    )


def _unknown_subcommand(word: str) -> bool:
    """A first argument that reads as a command (``ndviewer check f.nwb``), not a file: no
    such path, no suffix or folder in it. It once opened the window with "check" as a file,
    or aborted (SIGABRT) without a display."""
    from ndviewer.core.model.storage import is_remote  # stdlib only: no h5py, no Qt

    return (
        not is_remote(word)
        and not word.startswith("-")
        and word.replace("-", "").replace("_", "").isalnum()
        and not os.path.exists(word)
    )


def _tolerate_undecodable_names() -> None:
    """Print file names with non-UTF-8 bytes as the bytes they are instead of crashing."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="surrogateescape")
            except (ValueError, OSError):  # pragma: no cover - a closed or odd stream
                pass


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _tolerate_undecodable_names()
    from ndviewer.core.blas import one_blas_thread  # stdlib only
    from ndviewer.core.hdf5_plugins import point_hdf5_at_plugins  # stdlib only

    point_hdf5_at_plugins()  # before h5py's import: HDF5 loads a filter when a file needs it
    one_blas_thread()  # before numpy's import
    if argv and argv[0] not in SUBCOMMANDS and _unknown_subcommand(argv[0]):
        print(
            "usage: ndviewer [FILE ...] [--select PATH]\n"
            f"       ndviewer {{{','.join(SUBCOMMANDS)}}} ...",
            file=sys.stderr,
        )
        return _fail(
            f"unknown subcommand or missing file '{argv[0]}' (subcommands: "
            + ", ".join(SUBCOMMANDS)
            + ")"
        )
    if argv and argv[0] in ("info", "check", "qc"):
        from ndviewer.cli_batch import is_batch

        if is_batch(argv[1:], argv[0]):  # folders, globs, lists, several files: one row per file
            from ndviewer.cli_batch import main as batch_main

            return batch_main(argv[0], argv[1:])
    if argv and argv[0] == "info":
        return _info(argv[1:])
    if argv and argv[0] == "edit":
        from ndviewer.core.edit.batch_edit import main as edit_main

        return edit_main(argv[1:])
    if argv and argv[0] == "export":
        from ndviewer.cli_export import main as export_main

        return export_main(argv[1:])
    if argv and argv[0] == "check":
        from ndviewer.cli_check import main as check_main

        return check_main(argv[1:])
    if argv and argv[0] == "qc":
        from ndviewer.cli_qc import main as qc_main

        return qc_main(argv[1:])
    return _gui(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
