"""NWB semantics on top of the file model: what the groups and datasets mean.

Owns time series (time axis, conversion, channels: ``timeseries``), DynamicTables and their
ragged and region columns (``tables``), units (``units``), images and image series
(``images``), ROI masks (``masks``), events and interval overlays (``events``), trial
alignment (``alignment``) and the file summary behind ``ndviewer info`` (``summary``).

May import: ``core.model``, ``core.signal`` and the top-level ``core`` modules. Never
``core.edit``.
"""
