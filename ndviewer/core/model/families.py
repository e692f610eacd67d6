"""Which family (icon glyph and colour) a neurodata type belongs to, from ``spec/families.json``.

The nearest listed ancestor wins, so an extension subtype of ElectricalSeries looks like
ephys without an entry of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from ndviewer.core.model.catalog import Catalog


@dataclass(frozen=True)
class Family:
    name: str
    glyph: str
    color: str


GROUP = Family("group", "", "#6b7b8c")
DATASET = Family("dataset", "", "#6b7b8c")
LINK = Family("link", "↪", "#2874a6")
BROKEN = Family("broken", "!", "#c0392b")


@cache
def _table() -> dict[str, Family]:
    from ndviewer.paths import spec_dir

    raw = json.loads((spec_dir() / "families.json").read_text(encoding="utf-8"))
    return {
        item["type"]: Family(item["family"], item["glyph"], item["color"])
        for item in raw["families"]
    }


def family_of(neurodata_type: str | None, catalog: Catalog) -> Family | None:
    """The family of a type, or None when neither it nor an ancestor is listed."""
    table = _table()
    for type_name in catalog.hierarchy(neurodata_type):
        family = table.get(type_name)
        if family is not None:
            return family
    return None
