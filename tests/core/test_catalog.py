"""The type catalogue read from the file's /specifications, checked against hdmf/pynwb."""

from __future__ import annotations

import json
import shutil
import warnings

import h5py
import pytest

from ndviewer.core.model.catalog import BASE_NAMESPACES, fallback_catalog, load_catalog, version_key
from ndviewer.core.model.files import open_nwb
from ndviewer.paths import spec_dir

TIMESERIES_CHAIN = ["TimeSeries", "NWBDataInterface", "NWBContainer", "Container"]


@pytest.fixture(scope="module")
def pynwb_catalog():
    """pynwb's own namespace catalogue (the oracle), with both extensions loaded."""
    with warnings.catch_warnings():  # ndx-events re-declares types core 2.11 now has
        warnings.simplefilter("ignore", UserWarning)
        import ndx_events  # noqa: F401
        import ndx_pose  # noqa: F401
        import pynwb

    return pynwb.get_type_map().namespace_catalog


@pytest.fixture(scope="module")
def pose_catalog(ndx_pose_file):
    with open_nwb(ndx_pose_file) as file:
        return file.catalog


def _file_spec(path, namespace: str) -> dict[str, dict]:
    """Every type definition of ``namespace`` as the file caches it (raw JSON), by name."""
    found: dict[str, dict] = {}
    with h5py.File(path, "r", locking=False) as h5:
        versions = h5[f"specifications/{namespace}"]
        folder = versions[max(versions.keys(), key=version_key)]
        for name in folder:
            if name == "namespace":
                continue
            source = json.loads(folder[name][()])
            for spec in source.get("groups", []) + source.get("datasets", []):
                type_name = spec.get("neurodata_type_def") or spec.get("data_type_def")
                if type_name:
                    found[type_name] = spec
    return found


def test_namespaces_come_from_the_file(ecephys_file):
    with open_nwb(ecephys_file) as file:
        catalog = file.catalog
        assert catalog.spec_source == "file"
        versions = {name: info.version for name, info in catalog.namespaces.items()}
        assert versions["core"] == "2.11.0"
        assert versions["hdmf-common"] == "1.10.0"
        assert versions["hdmf-experimental"] == "0.6.0"
        assert catalog.namespaces["core"].includes == ["hdmf-common"]
        assert catalog.namespaces["core"].versions_cached == ["2.11.0"]
        assert catalog.problems == [] and file.problems == []


def test_inheritance_and_is_a(pose_catalog):
    catalog = pose_catalog
    assert catalog.hierarchy("ElectricalSeries") == ["ElectricalSeries", *TIMESERIES_CHAIN]
    assert catalog.hierarchy("ElectrodesTable") == ["ElectrodesTable", "DynamicTable", "Container"]
    assert catalog.hierarchy("VectorIndex") == ["VectorIndex", "VectorData", "Data"]
    assert catalog.is_a("TwoPhotonSeries", "ImageSeries")
    assert catalog.is_a("TwoPhotonSeries", "TimeSeries")
    assert not catalog.is_a("TimeSeries", "TwoPhotonSeries")
    assert not catalog.is_a(None, "TimeSeries")
    assert catalog.hierarchy("NoSuchType") == ["NoSuchType"]  # shown, with no parent
    assert catalog.hierarchy(None) == []
    assert "RoiResponseSeries" in catalog.subtypes("TimeSeries")
    assert "DynamicTable" not in catalog.subtypes("TimeSeries")


@pytest.mark.parametrize("namespace", ["hdmf-common", "hdmf-experimental", "core", "ndx-pose"])
def test_every_type_matches_pynwb(pose_catalog, pynwb_catalog, namespace):
    """Ancestry, doc and named members (with doc and required) of every type, as pynwb has them."""
    oracle = pynwb_catalog.get_namespace(namespace)
    types = oracle.get_registered_types()  # includes the types of included namespaces
    assert len(types) > 0
    for type_name in types:
        assert pose_catalog.hierarchy(type_name) == list(oracle.get_hierarchy(type_name))
        expected = pynwb_catalog.get_spec(namespace, type_name)
        ours = pose_catalog.get(type_name, namespace)
        assert ours.doc == expected.doc, type_name
        members = {(m.kind, m.name): m for m in pose_catalog.fields(type_name) if m.name}
        expected_members = {}
        kinds = [("attribute", expected.attributes)]
        if hasattr(expected, "groups"):
            kinds += [("group", expected.groups), ("dataset", expected.datasets)]
            kinds += [("link", expected.links)]
        for kind, specs in kinds:
            expected_members.update({(kind, s.name): s for s in specs if s.name is not None})
        assert set(members) == set(expected_members), type_name
        for key, spec in expected_members.items():
            assert members[key].doc == spec.doc, (type_name, key)
            assert members[key].required == spec.required, (type_name, key)


def test_fields_resolve_inheritance_with_overrides(pose_catalog):
    catalog = pose_catalog
    data = catalog.member("ElectricalSeries", "data")
    assert data.doc == "Recorded voltage data."  # ElectricalSeries' own, not TimeSeries'
    assert catalog.member("TimeSeries", "data").doc != data.doc
    unit = next(m for m in data.members if m.name == "unit")
    assert (unit.kind, unit.value) == ("attribute", "volts")
    assert data.dims == [
        ["num_times"],
        ["num_times", "num_channels"],
        ["num_times", "num_channels", "num_samples"],
    ]
    starting_time = catalog.member("ElectricalSeries", "starting_time")  # inherited
    assert (starting_time.kind, starting_time.quantity, starting_time.required) == (
        "dataset",
        "?",
        False,
    )
    rate = next(m for m in starting_time.members if m.name == "rate")
    assert (rate.dtype, rate.required) == ("float32", True)
    electrodes = catalog.member("ElectricalSeries", "electrodes")
    assert electrodes.neurodata_type == "DynamicTableRegion"
    description = catalog.member("TimeSeries", "description", kind="attribute")
    assert (description.default_value, description.required) == ("no description", False)
    device = catalog.member("ElectrodeGroup", "device")
    assert (device.kind, device.target_type) == ("link", "Device")
    unnamed = [m for m in catalog.fields("ProcessingModule") if m.name is None]
    assert [(m.kind, m.neurodata_type, m.quantity) for m in unnamed] == [
        ("group", "NWBDataInterface", "*"),
        ("group", "DynamicTable", "*"),
    ]


def test_ndx_pose_types_with_docs_and_parents_from_the_file(ndx_pose_file, pose_catalog):
    in_file = _file_spec(ndx_pose_file, "ndx-pose")
    series = pose_catalog.get("PoseEstimationSeries")
    assert series.namespace == "ndx-pose"
    assert series.doc == in_file["PoseEstimationSeries"]["doc"]
    assert series.parent == "SpatialSeries"
    assert pose_catalog.hierarchy("PoseEstimationSeries") == [
        "PoseEstimationSeries",
        "SpatialSeries",
        *TIMESERIES_CHAIN,
    ]
    assert pose_catalog.is_a("PoseEstimationSeries", "TimeSeries")
    confidence = pose_catalog.member("PoseEstimationSeries", "confidence")
    spec_confidence = next(
        d for d in in_file["PoseEstimationSeries"]["datasets"] if d["name"] == "confidence"
    )
    assert (confidence.doc, confidence.required) == (spec_confidence["doc"], False)
    # inherited from SpatialSeries, which the extension does not redefine
    assert pose_catalog.member("PoseEstimationSeries", "reference_frame") is not None
    assert pose_catalog.hierarchy("Skeleton") == [
        "Skeleton",
        "NWBDataInterface",
        "NWBContainer",
        "Container",
    ]
    assert pose_catalog.doc("Skeleton") == in_file["Skeleton"]["doc"]
    assert pose_catalog.namespaces["ndx-pose"].version == "0.4.0"
    assert pose_catalog.namespaces["ndx-pose"].includes == ["core"]


def test_ndx_events_types_with_docs_and_parents_from_the_file(ndx_events_file, pynwb_catalog):
    in_file = _file_spec(ndx_events_file, "ndx-events")
    core_in_file = _file_spec(ndx_events_file, "core")
    with open_nwb(ndx_events_file) as file:
        catalog = file.catalog
        assert catalog.namespaces["ndx-events"].version == "0.4.0"
        # the extension's own definition, kept apart from core's type of the same name
        extension_table = catalog.get("EventsTable", "ndx-events")
        assert extension_table.doc == in_file["EventsTable"]["doc"]
        assert catalog.get("EventsTable", "core").doc == core_in_file["EventsTable"]["doc"]
        assert extension_table.doc != core_in_file["EventsTable"]["doc"]
        categorical = catalog.get("CategoricalVectorData")
        assert categorical.namespace == "ndx-events"
        assert categorical.doc == in_file["CategoricalVectorData"]["doc"]
        expected = pynwb_catalog.get_namespace("ndx-events").get_hierarchy("CategoricalVectorData")
        assert catalog.hierarchy("CategoricalVectorData") == list(expected)
        assert catalog.hierarchy("CategoricalVectorData") == [
            "CategoricalVectorData",
            "VectorData",
            "Data",
        ]
        meanings = catalog.member("CategoricalVectorData", "meanings", kind="attribute")
        assert meanings.doc == in_file["CategoricalVectorData"]["attributes"][0]["doc"]
        assert catalog.hierarchy("NdxEventsNWBFile") == [
            "NdxEventsNWBFile",
            "NWBFile",
            "NWBContainer",
            "Container",
        ]
        assert file.node("/events/licks").neurodata_type == "EventsTable"


def test_newest_cached_version_wins(ndx_pose_file, tmp_path):
    """Several cached versions of a namespace: numeric order (0.10.0 > 0.9.0), not string order."""
    path = tmp_path / "versions.nwb"
    shutil.copyfile(ndx_pose_file, path)
    with h5py.File(path, "r+") as h5:
        group = h5["specifications/ndx-pose"]
        for version in ("0.9.0", "0.10.0"):
            group.copy("0.4.0", version)
            namespace = json.loads(group[f"{version}/namespace"][()])
            namespace["namespaces"][0]["version"] = version
            del group[f"{version}/namespace"]
            group[f"{version}/namespace"] = json.dumps(namespace)
            source = json.loads(group[f"{version}/ndx-pose.extensions"][()])
            skeleton = next(g for g in source["groups"] if g["neurodata_type_def"] == "Skeleton")
            skeleton["doc"] = f"Skeleton as of {version}"
            del group[f"{version}/ndx-pose.extensions"]
            group[f"{version}/ndx-pose.extensions"] = json.dumps(source)
    with open_nwb(path) as file:
        info = file.catalog.namespaces["ndx-pose"]
        assert info.version == "0.10.0"
        assert info.versions_cached == ["0.4.0", "0.9.0", "0.10.0"]
        assert file.catalog.doc("Skeleton") == "Skeleton as of 0.10.0"


def test_version_key_orders_numerically():
    versions = ["2.9.0", "2.10.0", "2.2.1", "2.10.0-alpha", "1.8.0"]
    assert sorted(versions, key=version_key) == [
        "1.8.0",
        "2.2.1",
        "2.9.0",
        "2.10.0-alpha",
        "2.10.0",
    ]


def test_file_without_cached_spec_falls_back_and_says_so(nocache_file):
    with open_nwb(nocache_file) as file:
        catalog = file.catalog
        assert catalog.spec_source == "fallback"
        assert len(catalog.problems) == 1
        assert str(nocache_file) in catalog.problems[0]
        assert "no cached specification" in catalog.problems[0]
        assert catalog.problems == file.problems
        assert catalog.hierarchy("TimeSeries") == TIMESERIES_CHAIN
        assert catalog.doc("TimeSeries") == fallback_catalog().doc("TimeSeries") != ""
        assert catalog.get("PoseEstimationSeries") is None  # extensions need the file's cache


def test_plain_hdf5_has_no_catalog(plain_hdf5_file):
    with h5py.File(plain_hdf5_file, "r", locking=False) as h5:
        catalog = load_catalog(h5)
    assert catalog.spec_source == "none"
    assert catalog.types == {} and catalog.problems == []


def test_shipped_fallback_equals_what_installed_pynwb_caches(ecephys_file):
    """spec/fallback must be a verbatim copy of pynwb's cache, so it cannot go stale."""
    fallback = spec_dir() / "fallback"
    shipped = {
        (folder.parent.name, folder.name): folder
        for folder in fallback.glob("*/*")
        if folder.is_dir()
    }
    with h5py.File(ecephys_file, "r", locking=False) as h5:
        cached = {
            (namespace, version): h5[f"specifications/{namespace}/{version}"]
            for namespace in h5["specifications"]
            for version in h5[f"specifications/{namespace}"]
        }
        # pynwb caches every namespace loaded in this process (extensions of other tests too):
        # the base ones must be exactly the shipped ones
        base = {key: group for key, group in cached.items() if key[0] in BASE_NAMESPACES}
        assert set(shipped) == set(base)
        for key, group in base.items():
            files = {path.stem: path for path in shipped[key].glob("*.json")}
            assert set(files) == set(group.keys()), key
            for name, path in files.items():
                assert json.loads(path.read_text()) == json.loads(group[name][()]), (key, name)


def test_each_distinct_cached_spec_is_parsed_once(
    ecephys_file, ndx_pose_file, tmp_path, monkeypatch
):
    """The parsed spec is persisted once per distinct spec: a reopened file, an edited file
    and another file with the same spec load it; a new spec is parsed; no-cache parses."""
    import ndviewer.core.model.catalog as catalog_module

    monkeypatch.setenv("NDVIEWER_CACHE_DIR", str(tmp_path / "cache"))
    parses = []
    original = catalog_module.load_catalog

    def counting(h5, source_name=""):
        parses.append(source_name)
        return original(h5, source_name)

    monkeypatch.setattr(catalog_module, "load_catalog", counting)
    first, second = tmp_path / "first.nwb", tmp_path / "second.nwb"
    shutil.copy2(ecephys_file, first)
    shutil.copy2(ecephys_file, second)
    with open_nwb(first) as file:
        parsed = file.catalog
    assert parses == [str(first)]
    with open_nwb(first) as file:
        reloaded = file.catalog
    assert reloaded is not parsed and parses == [str(first)]
    assert sorted(reloaded.types) == sorted(parsed.types) and len(parsed.types) > 90
    assert reloaded.hierarchy("ElectricalSeries") == ["ElectricalSeries", *TIMESERIES_CHAIN]
    assert reloaded.doc("ElectricalSeries") == parsed.doc("ElectricalSeries") != ""
    assert reloaded.namespaces["core"].version == "2.11.0"
    with h5py.File(first, "r+", locking=False) as h5:  # a new version of the file, same spec
        h5.attrs["edited"] = 1
    with open_nwb(first) as file, open_nwb(second) as other:
        assert sorted(file.catalog.types) == sorted(other.catalog.types) == sorted(parsed.types)
    assert parses == [str(first)]
    assert len(list((tmp_path / "cache" / "catalog").glob("*.pickle"))) == 1
    with open_nwb(ndx_pose_file) as file:  # another spec (an extension): parsed
        assert file.catalog.get("PoseEstimationSeries") is not None
    assert parses == [str(first), str(ndx_pose_file)]
    with open_nwb(second, use_cache=False) as file:
        assert sorted(file.catalog.types) == sorted(parsed.types)
    assert parses[-1] == str(second)


def test_a_broken_spec_is_reported_at_every_open_not_persisted(bad_input, monkeypatch, tmp_path):
    """A catalogue with problems names its file in them: it is parsed (and reported) each
    time, and never shared with another file."""
    monkeypatch.setenv("NDVIEWER_CACHE_DIR", str(tmp_path / "cache"))
    path = bad_input("invalid_spec_json").path
    for _ in range(2):
        with open_nwb(path) as file:
            assert any(
                "specification of namespace 'core'" in problem and str(path) in problem
                for problem in file.catalog.problems
            )
    assert not list((tmp_path / "cache").glob("catalog/*.pickle"))


def test_a_complete_cached_spec_does_not_parse_the_shipped_one(ecephys_file, monkeypatch):
    """The shipped copy fills in only missing base namespaces; a file with all of them never
    pays for parsing it (it was ~4 ms of every open)."""
    import ndviewer.core.model.catalog as catalog_module

    def refuse():
        raise AssertionError("the shipped spec was parsed")

    monkeypatch.setattr(catalog_module, "fallback_catalog", refuse)
    with h5py.File(ecephys_file, "r", locking=False) as h5:
        catalog = load_catalog(h5)
    assert set(BASE_NAMESPACES) <= set(catalog.namespaces)
    assert catalog.problems == []
