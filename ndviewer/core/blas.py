"""numpy's BLAS runs on one thread in ndviewer's processes.

numpy's wheels bring OpenBLAS, which starts a thread per core when numpy is imported; its
threads spin for a while whenever they wait for work. ndviewer multiplies no matrices (its
one ``einsum`` is a per-column sum of squares, which does not go through BLAS), so those
threads only took CPU from ours: on this 2-core machine numpy's import took 67-83 ms with
them and 56-61 ms without (medians of 30 launches each), on the path from launch to the
painted tree, and every worker process started one more. Stdlib only: it must run before
numpy is imported (the application and the command line call it first; worker processes
inherit the environment). A value the user set is kept.
"""

from __future__ import annotations

import os

THREAD_VARIABLE = "OPENBLAS_NUM_THREADS"


def one_blas_thread() -> None:
    os.environ.setdefault(THREAD_VARIABLE, "1")
