"""Figures and data out of a file: the same code behind the GUI's Export dialog and
``ndviewer export``.

Owns the window of samples in physical units and its CSV/NPY/NPZ files (``window_data``),
image frames and projections at full bit depth as TIFF or PNG (``image_files``), a table's
rows as CSV (``table_csv``), the figure of the synchronised view as a Qt-free scene of
vector primitives in points (``scene``, ``figure``: traces redrawn from min/max envelopes or
raw samples, channel labels, axes, scale bars, trial bands, spike raster, events) and the
standalone script that redraws it with h5py, numpy and matplotlib (``script``).

Painting a scene into PNG, SVG or PDF needs a painter and so lives in ``ndviewer.gui.export``;
everything here runs headless and loads no Qt.

May import: ``core.model``, ``core.nwb``, ``core.signal`` and the top-level ``core`` modules,
h5py and numpy. Never ``core.edit`` (exporting never writes into the NWB file) and never Qt
or matplotlib (matplotlib appears only as text inside generated scripts).
"""
