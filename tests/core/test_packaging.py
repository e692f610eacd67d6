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


def _spec_hidden_imports(
    work_folder: Path,
) -> list[str]:
    """Run packaging/ndviewer.spec with PyInstaller's build objects stubbed out and return the
    hidden imports it hands to ``Analysis`` (PyInstaller itself need not be installed)."""
    import sys
    import types

    captured: dict[str, list[str]] = {}

    def analysis(*args, **kwargs):
        captured["hiddenimports"] = list(kwargs.get("hiddenimports", []))
        return types.SimpleNamespace(pure=[], scripts=[], binaries=[], datas=[])

    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_dynamic_libs = lambda name: []
    stubs = {
        "PyInstaller": types.ModuleType("PyInstaller"),
        "PyInstaller.utils": types.ModuleType("PyInstaller.utils"),
        "PyInstaller.utils.hooks": hooks,
    }
    saved = {name: sys.modules.get(name) for name in stubs}
    sys.modules.update(stubs)
    try:
        namespace = {
            "SPECPATH": str(ROOT / "packaging"),
            "workpath": str(work_folder),
            "Analysis": analysis,
            "PYZ": lambda *a, **k: None,
            "EXE": lambda *a, **k: None,
            "COLLECT": lambda *a, **k: None,
        }
        spec = ROOT / "packaging" / "ndviewer.spec"
        exec(compile(spec.read_text(), str(spec), "exec"), namespace)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return captured["hiddenimports"]


def test_bundle_hidden_imports_are_the_registry_panels_and_all_import(tmp_path):
    """The bundle once named panel modules that had moved, so the app shipped without Table,
    Units or PSTH views: the spec must derive its list from the registry, and every module on
    it (each panel class included) must import."""
    import importlib

    from ndviewer.core.model.registry import default_registry

    hidden = _spec_hidden_imports(tmp_path)
    registry_modules = {entry.panel.split(":")[0] for entry in default_registry().entries}
    assert sorted(registry_modules) == hidden
    assert "ndviewer.gui.panels.tables.table_panel" in hidden
    assert "ndviewer.gui.panels.tables.units_panel" in hidden
    for entry in default_registry().entries:
        module_name, class_name = entry.panel.split(":")
        assert hasattr(importlib.import_module(module_name), class_name), entry.panel
