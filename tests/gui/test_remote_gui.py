"""Remote files in the window: ``open_path(URL)``, File → Open URL…, and read-only forms.

The files are real pynwb fixtures served by a local Range-honouring server; the tab reads
them in its worker like a local file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialogButtonBox

from ndviewer.core.model.files import open_nwb, remote_of
from ndviewer.core.time_cursor import TimeCursor
from ndviewer.gui.forms.metadata_form import MetadataFormPanel
from ndviewer.gui.main_window import MainWindow
from ndviewer.gui.open_url_dialog import OpenUrlDialog
from ndviewer.gui.panels.base import PanelContext
from ndviewer.gui.tree_model import TYPE
from ndviewer.gui.workers import WorkerPool
from tests.core.http_fixtures import FileServer


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("NDVIEWER_CONFIG_DIR", str(tmp_path / "config"))
    from ndviewer.gui.app import make_settings

    win = MainWindow(make_settings())
    qtbot.addWidget(win)
    yield win
    win.close()


@pytest.fixture
def server(ecephys_file: Path):
    with FileServer({"ecephys.nwb": ecephys_file}) as running:
        yield running


def test_url_opens_in_a_tab_with_its_tree(
    qtbot, window: MainWindow, server: FileServer, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("NDVIEWER_CACHE_DIR", str(tmp_path / "cache"))  # a cold block cache
    url = server.url("ecephys.nwb")
    with qtbot.waitSignal(window.tree_shown, timeout=20000) as shown:
        tab = window.open_path(url)
    assert shown.args == [url]
    assert tab.path == url
    assert window.tabs.tabText(window.tabs.indexOf(tab)) == "ecephys.nwb"
    qtbot.waitUntil(lambda: tab.context.index is not None, timeout=30000)
    # walked in the open worker, before the tree showed: every metadata block is cached, so
    # the GUI thread never waits on the network; the tab's own index build loads it
    assert tab.context.index.from_cache
    requests = server.counters.requests
    for path in ("/acquisition/raw", "/general/extracellular_ephys/electrodes", "/units"):
        tab.show_path(path)
    assert server.counters.requests == requests
    assert tab.model.data(tab.model.root_index().siblingAtColumn(TYPE)) == "NWBFile"
    assert tab.model.index_for_path("/acquisition/raw").isValid()
    assert server.counters.range_requests > 0
    assert window.open_path(url) is tab  # the same URL again: the same tab


def test_status_bar_says_what_reading_a_url_cost(
    qtbot, window: MainWindow, demo_file: Path, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("NDVIEWER_CACHE_DIR", str(tmp_path / "cache"))
    with FileServer({"demo.nwb": demo_file}) as server:
        with qtbot.waitSignal(window.tree_shown, timeout=20000):
            tab = window.open_path(server.url("demo.nwb"))
        messages: list[str] = []
        tab.status.connect(messages.append)
        remote = remote_of(tab.file.h5)
        assert remote.stats.bytes < remote.size  # the open read the metadata, not the data
        remote.prefetch([(0, remote.size)])  # what a panel's worker fetches (its thread)
        qtbot.waitUntil(lambda: any("over the network" in m for m in messages), timeout=5000)
    message = next(m for m in messages if "over the network" in m)
    assert message.startswith(f"demo.nwb: {remote.size / 1e6:,.1f} MB fetched over the network")


def test_open_url_dialog_accepts_urls_and_dandi_references(
    qtbot, window: MainWindow, server: FileServer
) -> None:
    dialog = OpenUrlDialog(window)
    qtbot.addWidget(dialog)
    open_button = dialog.buttons.button(QDialogButtonBox.StandardButton.Open)
    for text, ok in (
        ("", False),
        ("/data/local.nwb", False),
        ("DANDI:000123/0.230101.1234/sub-x/sub-x_ses-y.nwb", True),
        ("5f8a0c3e-1b2c-4d5e-8f90-0123456789ab", True),
        ("https://dandiarchive.org/dandiset/000123", True),
    ):
        dialog.edit.setText(text)
        assert open_button.isEnabled() is ok, text

    window.choose_url()
    dialog = window._url_dialog
    dialog.edit.setText("  " + server.url("ecephys.nwb") + " ")
    with qtbot.waitSignal(window.tree_shown, timeout=20000) as shown:
        open_button = dialog.buttons.button(QDialogButtonBox.StandardButton.Open)
        open_button.click()
    assert shown.args == [server.url("ecephys.nwb")]


def test_unreachable_url_shows_one_message(qtbot, window: MainWindow, monkeypatch) -> None:
    monkeypatch.setenv("NDVIEWER_NET_TIMEOUT", "1")
    with FileServer({}, mode="stall") as stalled:
        url = stalled.url("x.nwb")
        with qtbot.waitSignal(window.file_failed, timeout=20000):
            window.open_path(url)
    assert window.last_error.startswith(f"Cannot read {url}: the server stopped answering")
    assert window.tabs.count() == 0


def test_metadata_form_of_a_url_is_read_only_and_says_why(qtbot, server: FileServer) -> None:
    file = open_nwb(server.url("ecephys.nwb"))
    context = PanelContext(file=file, time_cursor=TimeCursor(), pool=WorkerPool())
    panel = MetadataFormPanel(context, file.node("/"))
    qtbot.addWidget(panel)
    panel.show()
    assert panel.read_only_notice.isVisible()
    assert panel.read_only_notice.text().startswith("Editing is disabled: ecephys.nwb is read")
    assert not panel.save_button.isEnabled()
    assert not panel.view.isEnabled()
    assert panel.save(confirm=False) is False
    panel.close()
    file.close()


def test_dialog_lists_a_dandisets_nwb_files_to_pick_one(
    qtbot, window: MainWindow, ecephys_file: Path, demo_file: Path, monkeypatch
) -> None:
    from tests.core.test_dandi import ASSET, DANDISET, PATH, VERSION, _fake_api

    server = FileServer({"x.nwb": ecephys_file, "w.nwb": demo_file})
    server.routes.update(_fake_api(server.base))
    with server:
        monkeypatch.setenv("NDVIEWER_DANDI_API", f"{server.base}/api")
        dialog = OpenUrlDialog(window, window.pool)
        qtbot.addWidget(dialog)
        dialog.edit.setText("https://example.org/a.nwb")
        assert not dialog.list_button.isEnabled()  # not a dandiset
        dialog.edit.setText(f"DANDI:{DANDISET}")
        assert dialog.list_button.isEnabled()
        dialog.list_files()
        qtbot.waitUntil(lambda: dialog.files.count() == 2, timeout=10000)
        assert "holds 2 NWB files" in dialog.status.text()
        assert [dialog.files.item(i).text().split("  ")[0] for i in range(2)] == [
            "sub-w/sub-w_ses-1.nwb",
            PATH,
        ]
        dialog.files.setCurrentRow(1)
        assert dialog.location() == f"DANDI:{DANDISET}/{VERSION}/{PATH}"
        dialog.accepted.connect(lambda: window.open_path(dialog.location()))
        with qtbot.waitSignal(window.tree_shown, timeout=20000):
            dialog.buttons.button(QDialogButtonBox.StandardButton.Open).click()
        assert window.current_tab().file.is_remote
        assert ASSET in remote_url(window)


def remote_url(window: MainWindow) -> str:
    return remote_of(window.current_tab().file.h5).url
