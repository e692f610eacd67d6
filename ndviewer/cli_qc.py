"""``ndviewer qc``: signal QC of one multichannel series, headless.

    ndviewer qc FILE --object PATH [--json] [--write]

Reads windows sampled across the whole recording (see ``core.signal.recording_qc``) and
reports, per channel, RMS in physical units and flags (``dead``, ``saturated``, ``noisy``,
``line_noise``), and the time ranges no channel can be trusted in (``artefact``,
``dropout``). ``--json`` prints one object ``{"file", "object", "channels": [{"index",
"label", "rms", "unit", "flags"}], "bad_times": [{"start", "stop", "reason"}]}``.
``--write`` stores the verdict as standard NWB through the edit transaction: a ``bad_channel``
column on the electrodes table and rows of ``/intervals/invalid_times`` (re-running updates
them, never duplicates).

Exit 0: nothing flagged; 1: something flagged; 2: refused (one line on stderr, nothing on
stdout). Loads no Qt.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

EXIT_CLEAN, EXIT_FLAGGED, EXIT_REFUSED = 0, 1, 2


def _fail(message: str) -> int:
    print(f"ndviewer: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_REFUSED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ndviewer qc",
        description="Signal QC of one ElectricalSeries (or other multichannel TimeSeries).",
    )
    parser.add_argument("file")
    parser.add_argument(
        "--object", required=True, metavar="PATH", help="e.g. /acquisition/ElectricalSeries"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--write",
        action="store_true",
        help="store bad_channel and invalid_times in the file (atomic save)",
    )
    return parser


def _text_report(qc) -> str:
    lines = [f"{qc.file} {qc.object}: read {qc.read_fraction:.1%} of the samples"]
    flagged = [c for c in qc.channels if c.flags]
    for channel in flagged:
        lines.append(
            f"  channel {channel.index} ({channel.label}): {', '.join(channel.flags)}, "
            f"RMS {channel.rms:.4g} {qc.unit}"
        )
    for bad in qc.bad_times:
        lines.append(f"  {bad.reason} {bad.start:.4f}–{bad.stop:.4f} s")
    if not flagged and not qc.bad_times:
        lines.append("  no channel or time range flagged")
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    """Run ``ndviewer qc``; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_REFUSED if exc.code else 0
    from ndviewer.core.errors import NdviewerError
    from ndviewer.core.model.files import open_nwb
    from ndviewer.core.nwb.signal_qc import series_qc
    from ndviewer.core.nwb.timeseries import TimeSeriesSource
    from ndviewer.core.signal.recording_qc import QcSettings

    try:
        with open_nwb(args.file) as file:
            if file.h5.get(args.object) is None:
                return _fail(f"{args.file} has no object {args.object}.")
            source = TimeSeriesSource.from_path(file, args.object)
            try:
                qc = series_qc(source, file_name=args.file, settings=QcSettings())
            finally:
                source.close()
    except (NdviewerError, OSError, RuntimeError, KeyError, ValueError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        return _fail(f"{args.file}: {message}")
    if args.write:
        problem = _write(args.file, qc)
        if problem:
            return _fail(problem)
    if args.json:
        print(json.dumps(qc.to_json()))
    else:
        print(_text_report(qc))
    return EXIT_FLAGGED if qc.flagged else EXIT_CLEAN


def _write(path: str, qc) -> str | None:
    """Store ``qc`` in the file; the refusal sentence, or None when written."""
    import h5py

    from ndviewer.core.edit.qc_writeback import describe_decision, qc_assignments, qc_changes
    from ndviewer.core.edit.transaction import Transaction
    from ndviewer.core.errors import EditError

    settings = f"on {qc.read_fraction:.1%} of the samples of {qc.object}"
    try:
        with h5py.File(path, "r", locking=False) as h5:
            assignments = qc_assignments(
                h5,
                electrodes_table=qc.electrodes_table,
                bad_rows=qc.bad_rows(),
                description=describe_decision(settings),
                bad_times=[(b.start, b.stop, b.reason) for b in qc.bad_times],
            )
            changes = qc_changes(h5, assignments)
        Transaction(changes).commit(path)
    except EditError as exc:
        return exc.message if path in exc.message else f"{path}: {exc.message}"
    except OSError as exc:
        return f"Cannot write QC to {path}: {exc}."
    return None
