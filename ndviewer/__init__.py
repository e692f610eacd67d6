"""ndviewer: a desktop viewer and editor for Neurodata Without Borders (NWB 2.x) files."""

__version__ = "0.1.0"
