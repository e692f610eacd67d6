"""``ndviewer edit``: --set, --template, --dry-run, exit codes, all-or-nothing over files."""

from __future__ import annotations

import io
import json
import shutil

import pytest

from ndviewer.core.edit import batch_edit
from ndviewer.core.edit.journal import find_journal
from tests.core.edit_fixtures import checksums, pynwb_errors, pynwb_read, write_nwb


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch")
    return {
        "full": write_nwb(folder / "full.nwb"),
        "no_subject": write_nwb(folder / "no_subject.nwb", subject=False),
    }


@pytest.fixture
def files(tmp_path, templates):
    first = tmp_path / "a.nwb"
    second = tmp_path / "b.nwb"
    shutil.copy(templates["no_subject"], first)
    shutil.copy(templates["full"], second)
    return first, second


def run(argv):
    out = io.StringIO()
    return batch_edit.main([str(a) for a in argv], out=out), out.getvalue()


def test_set_applies_to_every_file(files):
    status, out = run(
        [
            *files,
            "--set",
            "general/subject/species=Mus musculus",
            "--set",
            "general/subject/age=P90D/P120D",
            "--set",
            'general/keywords=["V1", "gratings"]',
            "--set",
            "general/devices/probe/description=Neuropixels 1.0",
            "--set",
            "general/extracellular_ephys/shank0/device=/general/devices/scope",
        ]
    )
    assert status == 0, out
    assert "Saved 2 file(s)." in out
    for path in files:
        with pynwb_read(path) as nwbfile:
            assert nwbfile.subject.species == "Mus musculus"
            assert nwbfile.subject.age == "P90D/P120D"
            assert list(nwbfile.keywords) == ["V1", "gratings"]
            assert nwbfile.devices["probe"].description == "Neuropixels 1.0"
            assert nwbfile.electrode_groups["shank0"].device.name == "scope"
        assert pynwb_errors(path) == []
        assert find_journal(path) is None


def test_dry_run_prints_the_diff_and_writes_nothing(files):
    before = [checksums(p) for p in files]
    status, out = run([*files, "--set", "general/subject/sex=M", "--dry-run"])
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == f"{files[0]}: 2 change(s):"
    assert lines[1].startswith("  /general/subject: (absent) → Subject group (object_id ")
    assert lines[2] == "  /general/subject/sex: (absent) → 'M'"
    assert lines[3] == f"{files[1]}: 1 change(s):"
    assert lines[4] == "  /general/subject/sex: 'F' → 'M'"
    assert lines[-1] == "Dry run: nothing was written."
    assert [checksums(p) for p in files] == before


def test_invalid_value_exits_2_and_writes_nothing(files, capsys):
    before = [checksums(p) for p in files]
    status, _ = run(
        [*files, "--set", "general/lab=New lab", "--set", "general/subject/species=mouse"]
    )
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ndviewer: ")  # one line (issue 23.11)
    assert f"{files[0]}: general/subject/species: Species 'mouse' is neither" in err
    assert "e.g. 'Mus musculus'" in err
    assert err.rstrip().endswith("Nothing was written.")
    assert [checksums(p) for p in files] == before


def test_unknown_path_and_bad_usage_exit_2(files, capsys):
    assert run([files[0], "--set", "general/nope=1"])[0] == 2
    assert "has no editable field 'general/nope'" in capsys.readouterr().err
    assert run([files[0], "--set", "no-equals-sign"])[0] == 2
    assert "needs PATH=VALUE" in capsys.readouterr().err
    assert run([files[0]])[0] == 2
    assert "Nothing to set" in capsys.readouterr().err
    assert run(["--set", "a=b"])[0] == 2  # no file: argparse usage error


def test_json_template_nested_and_flat_with_set_overriding(files, tmp_path):
    template = tmp_path / "meta.json"
    template.write_text(
        json.dumps(
            {
                "general": {
                    "subject": {"species": "Mus musculus", "sex": "F", "subject_id": "m1"},
                    "experimenter": ["Doe, Jane", "Roe, Rick"],
                },
                "general/institution": "Institute of Neuroscience",
                "general/optophysiology/plane0/excitation_lambda": 910,
            }
        )
    )
    status, out = run([files[0], "--template", template, "--set", "general/subject/sex=M"])
    assert status == 0, out
    with pynwb_read(files[0]) as nwbfile:
        assert (nwbfile.subject.species, nwbfile.subject.sex, nwbfile.subject.subject_id) == (
            "Mus musculus",
            "M",
            "m1",
        )
        assert list(nwbfile.experimenter) == ["Doe, Jane", "Roe, Rick"]
        assert nwbfile.institution == "Institute of Neuroscience"
        assert nwbfile.imaging_planes["plane0"].excitation_lambda == 910.0


def test_yaml_template(files, tmp_path):
    pytest.importorskip("yaml")
    template = tmp_path / "meta.yaml"
    template.write_text(
        "general:\n"
        "  subject:\n"
        "    species: Homo sapiens\n"
        "    date_of_birth: 2000-01-01T00:00:00+00:00\n"
        "  keywords: [EEG, sleep]\n"
        "session_start_time: 2024-02-01T08:00:00-05:00\n"
    )
    status, out = run([files[1], "--template", template])
    assert status == 0, out
    with pynwb_read(files[1]) as nwbfile:
        assert nwbfile.subject.species == "Homo sapiens"
        assert nwbfile.subject.date_of_birth.isoformat() == "2000-01-01T00:00:00+00:00"
        assert list(nwbfile.keywords) == ["EEG", "sleep"]
        assert nwbfile.session_start_time.isoformat() == "2024-02-01T08:00:00-05:00"


def test_bad_template_exits_2(tmp_path, files, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    assert run([files[0], "--template", bad])[0] == 2
    assert "must be a mapping" in capsys.readouterr().err
    assert run([files[0], "--template", tmp_path / "missing.json"])[0] == 2
    assert "Cannot read the template" in capsys.readouterr().err


def test_empty_value_removes_an_optional_field(files):
    status, _ = run([files[1], "--set", "general/protocol="])
    assert status == 0
    with pynwb_read(files[1]) as nwbfile:
        assert nwbfile.protocol is None


def test_interrupted_save_blocks_then_rollback_and_keep(files, capsys):
    from ndviewer.core.edit.journal import write_journal

    path = files[1]
    write_journal(path, [])  # as if a save had been interrupted
    before = checksums(path)
    assert run([path, "--set", "general/lab=X"])[0] == 2
    assert "earlier save was interrupted" in capsys.readouterr().err
    assert checksums(path) == before
    status, out = run([path, "--rollback"])
    assert status == 0 and "restored 0 value(s)" in out
    assert find_journal(path) is None
    write_journal(path, [])
    status, out = run([path, "--keep"])
    assert status == 0 and "kept the values" in out
    assert find_journal(path) is None
    status, out = run([path, "--keep"])
    assert "no interrupted save" in out
