"""Export in the GUI: painting figure scenes into PNG, SVG, PDF or the clipboard
(``render``), and the Export dialog the panels and the File menu open (``dialog``).

What to draw is decided in ``ndviewer.core.export`` (Qt-free, shared with the CLI); this
package only paints and asks. It never imports h5py: reads run on the panel's worker pool
through the core.
"""
