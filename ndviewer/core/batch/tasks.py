"""One file in, one report row out: the functions a batch run maps over its files.

They run in this process, in a pool process or on a Dask worker, so they are top-level
functions of picklable arguments, import what they need inside, and never raise: a file that
cannot be read is a row whose ``status`` is ``"error"`` and whose ``error`` says why.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

#: Row fields every command writes, in report order.
COMMON_FIELDS = ("file", "status", "error", "size", "mtime_ns", "seconds", "bytes_read")


def identity(item: str) -> dict[str, Any]:
    """What tells whether a file changed since its row was written (``--resume``)."""
    if item.startswith(("http://", "https://")):
        return remote_identity(item)
    try:
        stat = os.stat(item)
    except OSError:
        return {"size": None, "mtime_ns": None}
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def remote_identity(url: str) -> dict[str, Any]:
    """Size and ETag (or Last-Modified) of a URL from one HEAD request; Nones if it fails."""
    from ndviewer.core.model.storage.remote import RemoteFile

    try:
        remote = RemoteFile(url, use_disk_cache=False)
    except Exception:  # unreachable now: the task itself will say why in its row
        return {"size": None, "mtime_ns": None, "etag": None}
    remote.close()
    validators = remote.validators
    return {
        "size": validators["size"],
        "mtime_ns": None,
        "etag": validators.get("etag") or validators.get("last_modified"),
    }


def _bytes_read() -> int:
    """Bytes this process has read through system calls so far (Linux), else 0."""
    try:
        with open("/proc/self/io", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _test_delay() -> None:
    """Tests that kill a worker mid-run slow each task down (``NDVIEWER_BATCH_TASK_DELAY``)."""
    delay = os.environ.get("NDVIEWER_BATCH_TASK_DELAY")
    if delay:
        time.sleep(float(delay))


#: What the tasks import: loaded before a pool forks its workers (they inherit it instead of
#: each importing h5py and the core again) and before ``bytes_read`` is measured.
TASK_MODULES = (
    "h5py",
    "numpy",
    "ndviewer.core.describe",
    "ndviewer.core.model.files",
    "ndviewer.core.model.catalog",
    "ndviewer.core.nwb.summary",
    "ndviewer.core.checks.run",
)


def warm_up() -> None:
    """Import what the tasks need (a no-op once done in this process)."""
    import importlib

    for name in TASK_MODULES:
        importlib.import_module(name)


def _row(item: str, work: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    warm_up()  # imports are not the file's bytes
    start, read_before = time.perf_counter(), _bytes_read()
    row: dict[str, Any] = {"file": item, "status": "ok", "error": None, **identity(item)}
    try:
        _test_delay()
        row.update(work(item))
    except Exception as exc:  # one bad file is one row, never the end of the run
        message = getattr(exc, "message", None) or (
            f"Cannot read {item}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}."
        )
        row.update(status="error", error=" ".join(message.split()))
    row["seconds"] = round(time.perf_counter() - start, 4)
    row["bytes_read"] = max(0, _bytes_read() - read_before)
    return row


def _info(item: str) -> dict[str, Any]:
    from ndviewer.core.describe import describe

    description = describe(item, use_cache=False)
    summary = description.summary
    series = summary["series"]
    durations = [s["duration"] for s in series if s.get("duration")]
    return {
        "status": "problems" if description.problems else "ok",
        "nwb_version": summary["nwb_version"],
        "session_start_time": summary["session"].get("session_start_time"),
        "objects": len(summary["objects"]),
        "series": len(series),
        "duration_s": max(durations) if durations else None,
        "problems": list(description.problems),
    }


def info_task(item: str) -> dict[str, Any]:
    """The ``info`` row of one file: version, start time, object and series counts, the
    longest series, and the problems ``info`` warns about."""
    return _row(item, _info)


def _check(item: str) -> dict[str, Any]:
    from ndviewer.core.checks.run import check_file
    from ndviewer.core.errors import NdviewerError

    # one file per worker: the batch is parallel across files, not inside one
    report = check_file(item, use_cache=False, parallel=False)
    if report.error:
        raise NdviewerError(report.error)
    counts = report.counts()
    return {
        "status": "problems" if counts.get("error") or counts.get("warning") else "ok",
        "errors": counts.get("error", 0),
        "warnings": counts.get("warning", 0),
        "infos": counts.get("info", 0),
        "findings": [f.as_dict() for f in report.sorted()],
    }


def check_task(item: str) -> dict[str, Any]:
    """The ``check`` row of one file: counts by severity and every finding, worst first."""
    return _row(item, _check)


def _qc(item: str, object_path: str | None = None) -> dict[str, Any]:
    from ndviewer.core.errors import NdviewerError
    from ndviewer.core.model.files import open_nwb
    from ndviewer.core.nwb.signal_qc import series_qc
    from ndviewer.core.nwb.summary import find_typed_paths, typed_index
    from ndviewer.core.nwb.timeseries import TimeSeriesSource
    from ndviewer.core.signal.recording_qc import QcSettings

    series: list[dict[str, Any]] = []
    with open_nwb(item) as file:
        if object_path:
            if file.h5.get(object_path) is None:
                raise NdviewerError(f"{item} has no object {object_path}.")
            paths = [object_path]
        else:
            paths = find_typed_paths(file, "ElectricalSeries", typed_index(file, use_cache=False))
        for path in paths:
            source = TimeSeriesSource.from_path(file, path)
            try:
                qc = series_qc(source, file_name=item, settings=QcSettings()).to_json()
            finally:
                source.close()
            series.append(
                {
                    "object": path,
                    "flagged_channels": [
                        {"index": c["index"], "label": c["label"], "flags": c["flags"]}
                        for c in qc["channels"]
                        if c["flags"]
                    ],
                    "bad_times": qc["bad_times"],
                }
            )
    flagged = sum(len(s["flagged_channels"]) for s in series)
    bad_times = sum(len(s["bad_times"]) for s in series)
    return {
        "status": "problems" if flagged or bad_times else "ok",
        "series": len(series),
        "flagged_channels": flagged,
        "bad_times": bad_times,
        "qc": series,
    }


def qc_task(item: str, object_path: str | None = None) -> dict[str, Any]:
    """The ``qc`` row of one file: signal QC of ``object_path``, or of every
    ElectricalSeries in it (flagged channels and bad time ranges per series)."""
    return _row(item, lambda path: _qc(path, object_path))


#: Command -> task.
TASKS: dict[str, Callable[..., dict[str, Any]]] = {
    "info": info_task,
    "check": check_task,
    "qc": qc_task,
}
#: Command -> the fields of its rows after the common ones.
FIELDS: dict[str, tuple[str, ...]] = {
    "info": (
        "nwb_version",
        "session_start_time",
        "objects",
        "series",
        "duration_s",
        "problems",
    ),
    "check": ("errors", "warnings", "infos", "findings"),
    "qc": ("series", "flagged_channels", "bad_times", "qc"),
}
