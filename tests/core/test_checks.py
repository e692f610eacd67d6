"""``check_file``: every planted defect is found at its object and field, a clean twin gets
no warning or error, schema damage is reported as errors, and the report pickles."""

from __future__ import annotations

import pickle
from pathlib import Path

import h5py
import pytest

from ndviewer.core.checks import Finding, check_file
from ndviewer.core.checks.rules import rules
from tests.core import checks_fixtures as cf


@pytest.fixture(scope="module")
def clean_file(tmp_path_factory) -> Path:
    return cf.write_checks_file(tmp_path_factory.mktemp("checks") / "clean.nwb", defective=False)


@pytest.fixture(scope="module")
def defective_file(tmp_path_factory) -> Path:
    return cf.write_checks_file(tmp_path_factory.mktemp("checks") / "bad.nwb", defective=True)


@pytest.fixture(scope="module")
def schema_file(tmp_path_factory) -> Path:
    return cf.write_schema_broken(tmp_path_factory.mktemp("checks") / "schema.nwb")


def _keys(findings: list[Finding]) -> set[tuple[str, str, str]]:
    return {(f.check, f.path, f.field) for f in findings}


def test_every_planted_defect_is_found_at_its_object_and_field(defective_file: Path) -> None:
    report = check_file(defective_file)
    assert report.error is None
    missing = cf.PLANTED - _keys(report.findings)
    assert not missing, f"planted but not found: {sorted(missing)}"


def test_planted_findings_carry_the_severity_of_their_rule(defective_file: Path) -> None:
    report = check_file(defective_file)
    table = rules()
    for finding in report.findings:
        if finding.check in table:
            assert finding.severity == table[finding.check].severity
    by_check = {f.check: f for f in report.findings}
    # nwbinspector: CRITICAL -> error, BEST_PRACTICE_VIOLATION -> warning, SUGGESTION -> info
    assert by_check["rate_negative"].severity == "error"
    assert by_check["timestamps_not_ascending"].severity == "warning"
    assert by_check["experimenter_form"].severity == "info"


def test_messages_name_the_problem_and_a_fix(defective_file: Path) -> None:
    by_check = {f.check: f for f in check_file(defective_file).findings}
    assert "'mouse'" in by_check["species_form"].message
    assert "Mus musculus" in by_check["species_form"].message
    assert "-100" in by_check["rate_negative"].message
    assert "(4, 200)" in by_check["time_axis_transposed"].message
    assert "(200, 4)" in by_check["time_axis_transposed"].message
    assert "sample 51" in by_check["timestamps_not_ascending"].message
    chunks = by_check["chunks_too_small"].message
    assert "(64, 1)" in chunks and "10 s window of every channel" in chunks
    assert "h5repack" in chunks


def test_clean_twin_has_no_warning_or_error(clean_file: Path) -> None:
    report = check_file(clean_file)
    assert report.error is None
    serious = [f for f in report.findings if f.severity in ("error", "warning")]
    assert serious == []
    assert not report.has_errors


def test_schema_damage_is_reported_as_errors(schema_file: Path) -> None:
    report = check_file(schema_file)
    errors = {(f.path, f.field) for f in report.findings if f.severity == "error"}
    missing = cf.SCHEMA_PLANTED - errors
    assert not missing, f"schema damage not reported: {sorted(missing)}"
    by_field = {(f.path, f.field): f for f in report.findings if f.severity == "error"}
    assert by_field[("/acquisition/early/starting_time", "rate")].check == "dtype"
    assert by_field[("/", "identifier")].check == "missing_dataset"
    assert by_field[("/acquisition/zero_rate", "neurodata_type")].check == "unknown_type"


def test_schema_validation_of_a_clean_file_reports_nothing(clean_file: Path) -> None:
    report = check_file(clean_file)
    schema_checks = {f.check for f in report.findings} - set(rules())
    assert schema_checks == set()


def test_dangling_link_and_wrong_link_target(tmp_path: Path, clean_file: Path) -> None:
    path = tmp_path / "links.nwb"
    path.write_bytes(clean_file.read_bytes())
    with h5py.File(path, "r+") as h5:
        group = h5["general/extracellular_ephys/shank0"]
        del group["device"]
        group["device"] = h5py.SoftLink("/general/devices/nothing_here")
    report = check_file(path)
    found = [f for f in report.findings if f.path == "/general/extracellular_ephys/shank0"]
    assert [(f.severity, f.field, f.check) for f in found] == [
        ("error", "device", "link_unresolvable")
    ]


def test_report_pickles_for_batch_runs(defective_file: Path) -> None:
    report = check_file(defective_file)
    again = pickle.loads(pickle.dumps(report))
    assert again.findings == report.findings
    assert again.file == report.file


def test_unreadable_file_gives_a_report_with_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "not.nwb"
    path.write_text("hello")
    report = check_file(path)
    assert report.findings == []
    assert report.error is not None and "not an HDF5 file" in report.error
    assert "\n" not in report.error


def test_every_rule_names_known_severity_and_fills_its_message() -> None:
    for entry in rules().values():
        assert entry.severity in ("error", "warning", "info")
        assert entry.types, entry.check


def test_demo_file_reports_the_age_left_out_on_purpose(demo_file: Path) -> None:
    report = check_file(demo_file)
    serious = {(f.check, f.path) for f in report.findings if f.severity != "info"}
    assert ("age_missing", "/general/subject") in serious
    # the test build keeps few frames: fewer than pixels per row, which reads as transposed
    assert serious - {("time_axis_transposed", "/acquisition/TwoPhotonSeries")} == {
        ("age_missing", "/general/subject")
    }


def test_worker_process_split_gives_the_same_findings(defective_file: Path, monkeypatch) -> None:
    from ndviewer.core.checks import run

    serial = check_file(defective_file, parallel=False)
    monkeypatch.setattr(run, "PARALLEL_THRESHOLD", 1)  # split even this small file
    split = check_file(defective_file, use_cache=False)
    assert sorted(split.findings, key=repr) == sorted(serial.findings, key=repr)
    assert len(split.findings) == len(serial.findings) >= len(cf.PLANTED)


def test_plain_hdf5_file_is_one_error_not_a_crash(plain_hdf5_file: Path) -> None:
    report = check_file(plain_hdf5_file)
    assert report.error is None
    assert [(f.severity, f.path, f.check) for f in report.findings] == [("error", "/", "not_nwb")]


def test_chunks_larger_than_a_read_needs_are_reported(clean_file: Path, monkeypatch) -> None:
    from ndviewer.core.checks import best_practice

    # the clean file's chunks are 4096 x 16 int16 (128 KiB): over a 64 KiB limit
    monkeypatch.setattr(best_practice, "MAX_CHUNK_BYTES", 64 * 1024)
    found = [f for f in check_file(clean_file, use_cache=False).findings if "chunks" in f.check]
    assert [(f.check, f.path, f.field) for f in found] == [
        ("chunks_too_large", "/acquisition/ephys", "data")
    ]
    assert "(4096, 16)" in found[0].message
    assert "h5repack -l /acquisition/ephys/data:CHUNK=" in found[0].message


@pytest.mark.parametrize("name", ["defective", "ecephys"])
def test_walking_and_checking_in_workers_gives_the_same_index_and_findings(
    name: str, defective_file: Path, ecephys_file: Path, monkeypatch, tmp_path: Path
) -> None:
    from ndviewer.core.checks import run
    from ndviewer.core.model.files import open_nwb
    from ndviewer.core.model.index import build_index
    from ndviewer.core.nwb.summary import series_types

    path = tmp_path / "copy.nwb"  # never indexed before: the cold road is taken
    path.write_bytes((defective_file if name == "defective" else ecephys_file).read_bytes())
    serial = check_file(path, use_cache=False, parallel=False)
    monkeypatch.setattr(run, "FUSED_THRESHOLD", 0)  # even this small file
    calls = []
    from ndviewer.core.checks import fused

    original = fused.walk_and_check
    monkeypatch.setattr(
        fused, "walk_and_check", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    together = check_file(path, use_cache=True)
    assert calls == [1]
    assert sorted(together.findings, key=repr) == sorted(serial.findings, key=repr)
    # the index it persisted is the ordinary one
    with open_nwb(path) as file:
        from ndviewer.core.model.index import load_cached_index

        saved = load_cached_index(file.identity)
        plain = build_index(file.h5, series_types(file))
    assert saved is not None
    assert saved.entries == plain.entries
    assert saved.series == plain.series
