"""One inflate for every reader of gzip-compressed HDF5 chunks.

ISA-L (the ``isal`` package) inflates these chunks 2-4x faster than zlib and, like zlib,
releases the GIL, so chunk decoding spreads over the cores; zlib is the fallback when isal is
not installed.
"""

from __future__ import annotations

try:
    from isal.isal_zlib import decompress as _decompress

    BACKEND = "isal"
except ImportError:  # pragma: no cover - depends on the environment
    from zlib import decompress as _decompress

    BACKEND = "zlib"


def inflate(data: bytes | memoryview, bufsize: int = 16384) -> bytes:
    """Decompress one deflate (HDF5 gzip filter) chunk; ``bufsize`` is the expected size."""
    return _decompress(data, bufsize=max(int(bufsize), 1))
