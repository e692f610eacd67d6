"""Panels for DynamicTables: the lazy table view, the Units raster and the PSTH view."""
