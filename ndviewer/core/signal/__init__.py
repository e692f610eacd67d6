"""Numbers from samples and frames, with no knowledge of NWB or of where the arrays live.

Owns the min/max level-of-detail pyramid and windowed reads (``lod``), storage-aligned
parallel chunk reads and inflate (``chunk_reader``, ``inflate``), image projections
(``projections``), spectra (``spectral``), rasterised stacked traces (``trace_raster``) and
the per-channel QC statistics of a window (``channel_qc``) and signal QC of a
whole recording from sampled windows (``recording_qc``).

May import: the top-level ``core`` modules (``cache``, ``errors``), h5py and numpy. Never
``core.edit``; never ``core.nwb`` (NWB semantics call into signal, not the reverse).
"""
