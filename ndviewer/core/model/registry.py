"""Which panels can show a node, ranked: the one registry that maps types to views.

Entries are data (``spec/panels/*.json``): a neurodata type, a ``"module:Class"`` string and a
base priority. A node matches an entry when its type *is a* the entry's type, so an extension
type gets its parent's panel; the nearer the ancestor, the higher the score. Panel classes are
imported only when shown, so the core never imports Qt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ndviewer.core.model.catalog import Catalog


@dataclass(frozen=True)
class PanelEntry:
    """One registration: panels of ``panel`` can show ``neurodata_type`` and its subtypes."""

    neurodata_type: str
    panel: str  # "package.module:ClassName"
    priority: int = 100
    kind: str | None = None  # optional: only for "group" or "dataset" nodes


@dataclass(frozen=True)
class PanelChoice:
    """A panel that can show a node, with its score (silx scale: 1 can, 100 should)."""

    panel: str
    score: int
    matched_type: str


class PanelRegistry:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], PanelEntry] = {}

    def register(self, entry: PanelEntry, override: bool = False) -> None:
        key = (entry.neurodata_type, entry.panel)
        if key in self._entries and not override:
            raise ValueError(f"{entry.panel} is already registered for {entry.neurodata_type}")
        self._entries[key] = entry

    def load_folder(self, folder: Path) -> None:
        for path in sorted(folder.glob("*.json")):
            for raw in json.loads(path.read_text()).get("panels", []):
                self.register(
                    PanelEntry(
                        raw["type"], raw["panel"], int(raw.get("priority", 100)), raw.get("kind")
                    )
                )

    @property
    def entries(self) -> list[PanelEntry]:
        return list(self._entries.values())

    def choices(
        self, neurodata_type: str | None, catalog: Catalog, node_kind: str | None = None
    ) -> list[PanelChoice]:
        """Every panel that can show a node of this type, best first.

        Score = entry priority minus the distance to the matched ancestor, so the nearest
        registered ancestor wins between entries of equal priority.
        """
        hierarchy = catalog.hierarchy(neurodata_type) if neurodata_type else []
        best: dict[str, PanelChoice] = {}
        for distance, type_name in enumerate(hierarchy):
            for entry in self._entries.values():
                if entry.neurodata_type != type_name:
                    continue
                if entry.kind and node_kind and entry.kind != node_kind:
                    continue
                score = max(1, entry.priority - distance)
                current = best.get(entry.panel)
                if current is None or score > current.score:
                    best[entry.panel] = PanelChoice(entry.panel, score, type_name)
        # "*" entries can show anything (raw/attributes views)
        for entry in self._entries.values():
            if entry.neurodata_type == "*" and entry.panel not in best:
                if entry.kind and node_kind and entry.kind != node_kind:
                    continue
                best[entry.panel] = PanelChoice(entry.panel, entry.priority, "*")
        return sorted(best.values(), key=lambda c: (-c.score, c.panel))


@cache
def default_registry() -> PanelRegistry:
    """The registry built from the shipped ``spec/panels`` folder."""
    from ndviewer.paths import spec_dir

    registry = PanelRegistry()
    registry.load_folder(spec_dir() / "panels")
    return registry
