"""The lazy node tree: kinds, types, layouts, decoded attributes and every kind of link."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from ndviewer.core.model.files import open_nwb
from ndviewer.core.model.nodes import BROKEN_LINK, DATASET, EXTERNAL_LINK, GROUP, SOFT_LINK
from tests.core import foundation_fixtures as ff


def _h5py_oracle(path) -> dict[str, dict]:
    """What h5py itself says about every object and soft link in the file."""
    found: dict[str, dict] = {}
    with h5py.File(path, "r", locking=False) as h5:

        def visit(name: str, obj) -> None:
            attrs = obj.attrs
            found["/" + name] = {
                "kind": DATASET if isinstance(obj, h5py.Dataset) else GROUP,
                "neurodata_type": attrs.get("neurodata_type"),
                "namespace": attrs.get("namespace"),
                "object_id": attrs.get("object_id"),
                "shape": obj.shape if isinstance(obj, h5py.Dataset) else None,
                "dtype": obj.dtype if isinstance(obj, h5py.Dataset) else None,
                "chunks": obj.chunks if isinstance(obj, h5py.Dataset) else None,
            }

        def visit_link(name: str, link) -> None:
            if isinstance(link, h5py.SoftLink):
                found["/" + name] = {"kind": SOFT_LINK, "target": link.path}

        h5.visititems(visit)
        h5.visititems_links(visit_link)
    return found


def _walk(node, out: dict) -> None:
    for child in node.children():
        out[child.path] = child
        if child.kind == GROUP:
            _walk(child, out)


@pytest.mark.parametrize("fixture", ["ecephys_file", "icephys_file", "ndx_pose_file"])
def test_every_node_agrees_with_h5py(request, fixture):
    path = request.getfixturevalue(fixture)
    oracle = _h5py_oracle(path)
    with open_nwb(path) as file:
        nodes: dict = {}
        _walk(file.root, nodes)
        assert sorted(nodes) == sorted(oracle)
        for node_path, expected in oracle.items():
            node = nodes[node_path]
            assert node.kind == expected["kind"], node_path
            if expected["kind"] == SOFT_LINK:
                assert node.link_target == expected["target"], node_path
                continue
            assert node.neurodata_type == expected["neurodata_type"], node_path
            assert node.namespace == expected["namespace"], node_path
            assert node.object_id == expected["object_id"], node_path
            assert node.shape == expected["shape"], node_path
            assert node.dtype == expected["dtype"], node_path
            assert node.chunks == expected["chunks"], node_path


def test_root_node(ecephys_file):
    with open_nwb(ecephys_file) as file, h5py.File(ecephys_file, "r", locking=False) as h5:
        root = file.root
        assert (root.path, root.name, root.kind) == ("/", "", GROUP)
        assert (root.neurodata_type, root.namespace) == ("NWBFile", "core")
        assert root.object_id == h5.attrs["object_id"]
        assert root.parent_path is None
        assert root.attrs[".specloc"] == "/specifications"  # a reference, shown as its target
        assert root.attrs["nwb_version"] == "2.11.0"
        assert root.child_names() == list(h5.keys())


def test_dataset_layout_and_values(ecephys_file):
    with open_nwb(ecephys_file) as file, h5py.File(ecephys_file, "r", locking=False) as h5:
        data = file.node("/acquisition/raw/data")
        stored = h5["acquisition/raw/data"]
        assert data.kind == DATASET and data.is_dataset and not data.is_group
        assert data.shape == (ff.ECEPHYS_SAMPLES, ff.ECEPHYS_CHANNELS)
        assert data.dtype == np.dtype("int16") and data.dtype_name == "int16"
        assert data.chunks == (500, ff.ECEPHYS_CHANNELS)
        assert data.compression == f"gzip({stored.compression_opts})"
        assert data.filters == [("gzip", (stored.compression_opts,))]
        assert data.logical_size == ff.ECEPHYS_SAMPLES * ff.ECEPHYS_CHANNELS * 2
        assert data.storage_size == stored.id.get_storage_size()
        np.testing.assert_array_equal(data.read(), ff.ecephys_data())
        assert data.read(max_elements=100) is None  # too big to read whole
        assert data.parent_path == "/acquisition/raw"
        assert file.node("/acquisition/raw/starting_time").compression is None


def test_attributes_are_decoded(ecephys_file):
    with open_nwb(ecephys_file) as file:
        assert file.node("/acquisition/raw/data").attrs == {
            "conversion": 0.195e-6,
            "offset": 0.0,
            "resolution": -1.0,
            "unit": "volts",
        }
        series = file.node("/acquisition/raw")
        assert series.attrs["description"] == "no description"
        assert series.attrs["neurodata_type"] == "ElectricalSeries"
        region = file.node("/acquisition/raw/electrodes")
        assert region.attrs["table"] == "/general/extracellular_ephys/electrodes"
        electrodes = file.node("/general/extracellular_ephys/electrodes")
        assert electrodes.attrs["colnames"] == ["location", "group", "group_name", "x", "y", "z"]
        # a column of object references reads as the paths of their targets
        assert file.node("/general/extracellular_ephys/electrodes/group").read() == [
            f"/general/extracellular_ephys/shank{channel // 4}"
            for channel in range(ff.ECEPHYS_CHANNELS)
        ]
        assert file.node("/session_description").read() == "ecephys fixture"


def test_soft_links_describe_their_target(ecephys_file):
    with open_nwb(ecephys_file) as file:
        device = file.node("/general/extracellular_ephys/shank0/device")
        assert device.kind == SOFT_LINK
        assert device.link_target == "/general/devices/probe"
        assert device.neurodata_type == "Device"
        assert device.is_group
        assert device.child_names() == []  # the tree jumps to the target instead
        stamps = file.node("/processing/ecephys/lfp_power/timestamps")
        assert stamps.kind == SOFT_LINK
        assert stamps.link_target == "/processing/ecephys/LFP/lfp/timestamps"
        assert stamps.shape == (ff.LFP_SAMPLES,)
        np.testing.assert_allclose(stamps.read(), ff.LFP_TIMESTAMPS)


@pytest.fixture(scope="module")
def linked_files(tmp_path_factory):
    """A file with an external link, a dangling external link, a dangling soft link and strings."""
    folder = tmp_path_factory.mktemp("links")
    with h5py.File(folder / "target.h5", "w") as target:
        values = target.create_dataset("values", data=np.arange(6.0).reshape(2, 3))
        values.attrs["neurodata_type"] = "VectorData"
        values.attrs["namespace"] = "hdmf-common"
    main = folder / "main.h5"
    with h5py.File(main, "w") as h5:
        h5["external"] = h5py.ExternalLink("target.h5", "/values")
        h5["missing_file"] = h5py.ExternalLink("missing.h5", "/x")
        h5["dangling"] = h5py.SoftLink("/nowhere")
        strings = h5.create_group("strings")
        attrs = strings.attrs
        attrs["vlen_utf8"] = "5 µs"
        attrs.create("vlen_ascii", "plain", dtype=h5py.string_dtype("ascii"))
        attrs["fixed_bytes"] = np.bytes_("abc")
        attrs["latin1"] = np.bytes_(b"caf\xe9")
        attrs["string_array"] = np.array(["a", "bc"], dtype=h5py.string_dtype())
        attrs["fixed_array"] = np.array([b"x", b"yz"], dtype="S2")
        attrs["float32"] = np.float32(0.5)
        attrs["int_array"] = np.arange(3, dtype=np.int16)
        attrs["flag"] = np.bool_(True)
        attrs["reference"] = h5["strings"].ref
        attrs.create("null_reference", h5py.Reference(), dtype=h5py.ref_dtype)
        strings.create_dataset("utf8", data="ünïcode", dtype=h5py.string_dtype())
        strings.create_dataset("fixed", data=np.bytes_("fixed"))
    return main


def test_external_and_broken_links(linked_files):
    with open_nwb(linked_files) as file:
        external = file.node("/external")
        assert external.kind == EXTERNAL_LINK
        assert external.link_target == "target.h5::/values"
        assert (external.neurodata_type, external.namespace) == ("VectorData", "hdmf-common")
        assert external.shape == (2, 3)
        np.testing.assert_array_equal(external.read(), np.arange(6.0).reshape(2, 3))

        missing = file.node("/missing_file")
        assert missing.kind == BROKEN_LINK
        assert missing.link_target == "missing.h5::/x"
        assert missing.error.startswith("external link to missing.h5::/x")
        assert missing.h5obj() is None and missing.attrs == {} and missing.children() == []

        dangling = file.node("/dangling")
        assert dangling.kind == BROKEN_LINK
        assert dangling.error == "soft link to /nowhere, which does not exist"
        assert not dangling.is_group and not dangling.is_dataset


def test_strings_numbers_and_references_decode(linked_files):
    with open_nwb(linked_files) as file:
        strings = file.node("/strings")
        attrs = strings.attrs
        assert attrs["vlen_utf8"] == "5 µs"
        assert attrs["vlen_ascii"] == "plain"
        assert attrs["fixed_bytes"] == "abc"
        assert attrs["latin1"] == "café"  # not valid UTF-8: read as Latin-1, not an error
        assert attrs["string_array"] == ["a", "bc"]
        assert attrs["fixed_array"] == ["x", "yz"]
        assert attrs["float32"] == 0.5 and isinstance(attrs["float32"], float)
        np.testing.assert_array_equal(attrs["int_array"], [0, 1, 2])
        assert attrs["flag"] is True
        assert attrs["reference"] == "/strings"
        assert attrs["null_reference"] == "<null reference>"
        utf8 = file.node("/strings/utf8")
        assert utf8.read() == "ünïcode"
        assert utf8.dtype_name == "text (utf-8)"
        fixed = file.node("/strings/fixed")
        assert fixed.read() == "fixed"
        assert fixed.dtype_name == "text[5] (ascii)"


def test_node_lookup(ecephys_file):
    with open_nwb(ecephys_file) as file:
        raw = file.node("/acquisition/raw")
        assert raw is file.root.child("acquisition").child("raw")  # nodes are re-used
        assert raw.n_children == len(raw.child_names()) == 3
        assert repr(raw) == "Node('/acquisition/raw', ElectricalSeries)"
        with pytest.raises(KeyError, match="/acquisition/nothing"):
            file.node("/acquisition/nothing")
