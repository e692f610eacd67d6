"""Linux file association: the desktop entry and MIME type validate, and after the per-user
install script (sandboxed XDG folders, no root) .nwb files are application/x-nwb and open in
ndviewer."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from ndviewer.paths import resources_dir

DESKTOP = resources_dir() / "desktop"


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (make test installs it)")
    return path


def test_desktop_entry_validates():
    result = subprocess.run(
        [need("desktop-file-validate"), str(DESKTOP / "ndviewer.desktop")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout
    text = (DESKTOP / "ndviewer.desktop").read_text()
    assert "MimeType=application/x-nwb;" in text and "Exec=ndviewer %F" in text


def test_mime_type_is_well_formed_and_a_kind_of_hdf5():
    result = subprocess.run(
        [need("xmllint"), "--noout", str(DESKTOP / "ndviewer-mime.xml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    text = (DESKTOP / "ndviewer-mime.xml").read_text()
    assert '<mime-type type="application/x-nwb">' in text
    assert '<sub-class-of type="application/x-hdf5"/>' in text
    assert '<glob pattern="*.nwb"' in text


def test_install_for_the_current_user_registers_nwb_files(tmp_path, demo_file):
    xdg_mime = need("xdg-mime")
    need("update-mime-database")
    exe_folder = tmp_path / "my apps"  # a space in the path, as on many workstations
    exe_folder.mkdir()
    exe = exe_folder / "ndviewer"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    install = subprocess.run(
        ["sh", str(DESKTOP / "install-linux.sh"), str(exe)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    session = tmp_path / "session.nwb"
    shutil.copy(demo_file, session)

    def query(*args: str) -> str:
        return subprocess.run(
            [xdg_mime, "query", *args], env=env, capture_output=True, text=True
        ).stdout.strip()

    assert query("filetype", str(session)) == "application/x-nwb"
    assert query("default", "application/x-nwb") == "ndviewer.desktop"
    entry = (tmp_path / "data" / "applications" / "ndviewer.desktop").read_text()
    assert f'Exec="{exe}" %F' in entry
    assert (tmp_path / "data" / "icons/hicolor/scalable/apps/ndviewer.svg").is_file()
    uninstall = subprocess.run(
        ["sh", str(DESKTOP / "install-linux.sh"), "--uninstall"], env=env, capture_output=True
    )
    assert uninstall.returncode == 0
    assert not (tmp_path / "data" / "applications" / "ndviewer.desktop").exists()


def test_install_without_ndviewer_is_refused_in_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "d")}
    result = subprocess.run(
        ["sh", str(DESKTOP / "install-linux.sh")], env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "not found" in result.stderr
    assert not (tmp_path / "d").exists()
