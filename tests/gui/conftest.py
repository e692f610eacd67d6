"""GUI tests collect garbage on the GUI thread only, as the application does."""

from __future__ import annotations

import pytest

from ndviewer.gui.collector import GuiThreadCollector


@pytest.fixture(scope="session", autouse=True)
def gui_thread_collector(qapp):
    collector = GuiThreadCollector(parent=qapp)
    yield collector
    collector.uninstall()
