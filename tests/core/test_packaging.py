"""spec/ and resources/ must ship inside the wheel: the package list in pyproject.toml is kept
by hand (see there), so a new subpackage that is not listed would be left out of installs."""

from __future__ import annotations

import tomllib
from pathlib import Path

from ndviewer.paths import resources_dir, spec_dir

ROOT = Path(__file__).resolve().parents[2]


def test_every_subpackage_is_listed_for_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "ndviewer").rglob("__init__.py")
    }
    assert on_disk <= listed
    assert {"ndviewer._spec", "ndviewer._resources"} <= listed
    assert config["package-dir"] == {"ndviewer._spec": "spec", "ndviewer._resources": "resources"}


def test_shipped_folders_are_found():
    assert (spec_dir() / "panels" / "generic.json").is_file()
    assert (spec_dir() / "fallback" / "core").is_dir()
    assert (resources_dir() / "demo" / "make_demo.py").is_file()
