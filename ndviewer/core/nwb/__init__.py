"""NWB semantics on top of the file model: what the groups and datasets mean.

Owns time series (time axis, conversion, channels: ``timeseries``), DynamicTables and their
ragged and region columns (``tables``), units (``units``), images and image series
(``images``), ROI masks (``masks``), events and interval overlays (``events``), trial
alignment (``alignment``), the file summary behind ``ndviewer info`` (``summary``) and
signal QC of a series in NWB terms (``signal_qc``).

May import: ``core.model``, ``core.signal`` and the top-level ``core`` modules. Never
``core.edit``.
"""
