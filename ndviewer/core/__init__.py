"""Qt-free core: HDF5 access, the type catalogue and NWB semantics.

Nothing under this package may import PySide6, pyqtgraph or ndviewer.gui (checked by
import-linter, see pyproject.toml), so every number the GUI shows can be tested headless.
"""
