"""PySide6 6.12.0 on Python 3.11 aborts CPython after a few hundred calls of C++ methods that
return nothing (none_dealloc). The dependency pin keeps us off it; this test would crash the
run if a bad build slipped in."""

import numpy as np
import pyqtgraph as pg


def test_thousands_of_void_calls(qtbot):
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    curve = pg.PlotCurveItem()
    widget.addItem(curve)
    x = np.arange(100.0)
    for i in range(3000):
        curve.setData(x, np.sin(x / 10 + i))
        curve.update()
    assert curve.getData()[1].shape == (100,)
