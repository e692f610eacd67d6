"""Batch runs: ``info``, ``check`` and ``qc`` over folders, globs, lists and dandisets.

One task function per command turns one file (path or URL) into one report row and never
raises, so a bad file is a row with its error. The runner maps it over the files in this
process, in a local process pool, or on a ``dask.distributed`` cluster; the task is the same
in all three. Reports are CSV, JSON or HTML; ``--resume`` skips files whose identity (path,
size, mtime, or a URL's ETag) already has a row.
"""
