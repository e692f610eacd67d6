"""The panel registry: extension types get their nearest registered ancestor's panel."""

from __future__ import annotations

import json

import pytest

from ndviewer.core.model.catalog import fallback_catalog
from ndviewer.core.model.files import open_nwb
from ndviewer.core.model.registry import PanelChoice, PanelEntry, PanelRegistry, default_registry
from ndviewer.paths import spec_dir

TRACE = "panels.trace:TracePanel"
POSITION = "panels.position:PositionPanel"
TABLE = "panels.table:TablePanel"
RAW = "panels.raw:RawPanel"
ATTRIBUTES = "panels.attributes:AttributesPanel"


@pytest.fixture
def registry() -> PanelRegistry:
    registry = PanelRegistry()
    registry.register(PanelEntry("TimeSeries", TRACE, 100, "group"))
    registry.register(PanelEntry("SpatialSeries", POSITION, 100, "group"))
    registry.register(PanelEntry("DynamicTable", TABLE, 100, "group"))
    registry.register(PanelEntry("*", RAW, 10, "dataset"))
    registry.register(PanelEntry("*", ATTRIBUTES, 1))
    return registry


@pytest.fixture(scope="module")
def pose_catalog(ndx_pose_file):
    with open_nwb(ndx_pose_file) as file:
        return file.catalog


def test_ndx_pose_series_gets_the_nearest_ancestors_panel(registry, pose_catalog):
    # PoseEstimationSeries -> SpatialSeries -> TimeSeries: both panels, the nearer one first
    assert registry.choices("PoseEstimationSeries", pose_catalog, "group") == [
        PanelChoice(POSITION, 99, "SpatialSeries"),
        PanelChoice(TRACE, 98, "TimeSeries"),
        PanelChoice(ATTRIBUTES, 1, "*"),
    ]
    # the core parent itself, for comparison: same panels, one step nearer
    assert [c.score for c in registry.choices("SpatialSeries", pose_catalog, "group")] == [
        100,
        99,
        1,
    ]


def test_ndx_pose_type_without_registered_ancestor_gets_only_generic_panels(registry, pose_catalog):
    assert [c.panel for c in registry.choices("Skeleton", pose_catalog, "group")] == [ATTRIBUTES]


def test_ndx_events_table_gets_the_table_panel(registry, ndx_events_file):
    with open_nwb(ndx_events_file) as file:
        catalog = file.catalog
        node = file.node("/events/licks")
        choices = registry.choices(node.neurodata_type, catalog, node.kind)
        assert choices[0] == PanelChoice(TABLE, 99, "DynamicTable")
        column = file.node("/events/licks/timestamp")  # TimestampVectorData, a dataset
        assert [c.panel for c in registry.choices(column.neurodata_type, catalog, column.kind)] == [
            RAW,
            ATTRIBUTES,
        ]
        # the extension-only type resolves through the file's own ndx-events spec
        assert catalog.hierarchy("NdxEventsNWBFile")[1] == "NWBFile"


def test_without_the_cached_spec_an_extension_type_is_unknown(registry, nocache_file):
    with open_nwb(nocache_file) as file:
        choices = registry.choices("PoseEstimationSeries", file.catalog, "group")
    assert [c.panel for c in choices] == [ATTRIBUTES]


def test_untyped_nodes_get_generic_panels(registry, pose_catalog):
    assert [c.panel for c in registry.choices(None, pose_catalog, "dataset")] == [RAW, ATTRIBUTES]
    assert [c.panel for c in registry.choices(None, pose_catalog, "group")] == [ATTRIBUTES]


def test_registering_twice_fails_loudly(registry):
    with pytest.raises(ValueError, match="already registered"):
        registry.register(PanelEntry("TimeSeries", TRACE, 50))
    registry.register(PanelEntry("TimeSeries", TRACE, 50, "group"), override=True)
    assert PanelEntry("TimeSeries", TRACE, 50, "group") in registry.entries


def test_registry_loads_a_folder_of_json(tmp_path, pose_catalog):
    (tmp_path / "a.json").write_text(
        json.dumps({"panels": [{"type": "TimeSeries", "panel": TRACE, "priority": 80}]})
    )
    (tmp_path / "b.json").write_text(
        json.dumps({"panels": [{"type": "*", "panel": ATTRIBUTES, "priority": 1}]})
    )
    registry = PanelRegistry()
    registry.load_folder(tmp_path)
    assert registry.entries == [
        PanelEntry("TimeSeries", TRACE, 80, None),
        PanelEntry("*", ATTRIBUTES, 1, None),
    ]
    assert registry.choices("PoseEstimationSeries", pose_catalog)[0] == PanelChoice(
        TRACE, 78, "TimeSeries"
    )


def test_shipped_panel_files_name_real_types_and_panels():
    """A typo in spec/panels would silently never match: every type must exist in the schema."""
    known = fallback_catalog().types
    for path in sorted((spec_dir() / "panels").glob("*.json")):
        for raw in json.loads(path.read_text())["panels"]:
            assert raw["type"] == "*" or raw["type"] in known, (path.name, raw["type"])
            module, _, class_name = raw["panel"].partition(":")
            assert module.startswith("ndviewer.") and class_name.isidentifier(), raw["panel"]
            assert raw.get("kind") in (None, "group", "dataset"), raw
    assert default_registry().entries  # loads without duplicates
