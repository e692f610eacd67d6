"""The peak resident memory of this very process, for the benchmarks' ceilings (issue 23.6).

``resource.getrusage(RUSAGE_SELF).ru_maxrss`` is kept across ``fork`` + ``exec`` on Linux, so
a measuring child started by a benchmark that had built a large file reports the parent's
peak (every trace phase read 544 MB that way). ``VmHWM`` in ``/proc/self/status`` is reset by
``exec``: it is this process's own high-water mark.
"""

from __future__ import annotations

import resource
from pathlib import Path


def own_peak_rss_mb() -> float:
    """This process's peak RSS since exec, in MiB (``ru_maxrss`` where there is no /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
