"""Where the shipped ``spec/`` and ``resources/`` folders are, in a checkout, a wheel or a bundle.

In the source tree they sit at the top level; in an installed wheel setuptools maps them to the
packages ``ndviewer._spec`` and ``ndviewer._resources``; in a PyInstaller bundle they are
collected next to the package. One function each hides the difference.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _find(top_level: str, packaged: str) -> Path:
    candidates = [
        _PACKAGE_DIR.parent / top_level,  # source checkout / editable install
        _PACKAGE_DIR / packaged,  # wheel
    ]
    bundle_dir = getattr(sys, "_MEIPASS", None)
    if bundle_dir:
        candidates.insert(0, Path(bundle_dir) / top_level)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"ndviewer's {top_level}/ folder is missing from this installation")


@cache
def spec_dir() -> Path:
    """The folder holding ndviewer's declarative catalogue (panels, forms, fallback types)."""
    return _find("spec", "_spec")


@cache
def resources_dir() -> Path:
    """The folder holding icons and other shipped resources."""
    return _find("resources", "_resources")
