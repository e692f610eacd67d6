"""Level of detail for long multichannel signals: what to draw when there are more samples
than pixels.

- :mod:`.decimate` — exact min/max of bins aligned to a global sample grid;
- :mod:`.blocks` — storage-aligned reads (``os.pread`` at chunk offsets, GIL released);
- :mod:`.pyramid` — min/max levels built once per dataset and persisted in the user cache;
- :mod:`.window` — window requests ``(t0, t1, channels, pixel width)`` answered from raw
  samples, a pyramid level or decimated raw data, with a bounded cache of decimated units.
"""

from ndviewer.core.signal.lod.blocks import (
    ArrayBlockReader,
    BlockReader,
    H5BlockReader,
    open_block_reader,
)
from ndviewer.core.signal.lod.decimate import (
    bin_range,
    combine_bins,
    merge_into,
    minmax_bins,
    reduce_bins,
)
from ndviewer.core.signal.lod.pyramid import Pyramid, PyramidStore, build_pyramid, pyramid_levels
from ndviewer.core.signal.lod.window import (
    FetchCancelled,
    NeedsPyramid,
    TraceLod,
    TraceWindow,
    rebin_by_time,
)

__all__ = [
    "ArrayBlockReader",
    "BlockReader",
    "FetchCancelled",
    "H5BlockReader",
    "NeedsPyramid",
    "Pyramid",
    "PyramidStore",
    "TraceLod",
    "TraceWindow",
    "bin_range",
    "build_pyramid",
    "combine_bins",
    "merge_into",
    "minmax_bins",
    "open_block_reader",
    "pyramid_levels",
    "rebin_by_time",
    "reduce_bins",
]
