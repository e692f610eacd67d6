"""Field validators: accepted forms, rejected forms, and messages that show an example of right."""

from __future__ import annotations

import re

import pytest

from ndviewer.core.edit import validators as v


@pytest.mark.parametrize(
    "text",
    ["2024-01-05T10:00:00+00:00", "2024-01-05T10:00:00Z", "2024-01-05T10:00:00.123456-05:00"],
)
def test_datetime_with_timezone_is_accepted(text):
    assert v.check_datetime_tz(text) is None


def test_datetime_without_timezone_names_the_problem_and_an_example():
    message = v.check_datetime_tz("2024-01-05T10:00:00")
    assert "no timezone" in message
    assert "2024-01-05T10:00:00-05:00" in message


def test_date_only_asks_for_a_time():
    message = v.check_datetime_tz("2024-01-05")
    assert "without a time" in message
    assert "2024-01-05T00:00:00+00:00" in message


def test_garbage_datetime_shows_the_format():
    message = v.check_datetime_tz("yesterday")
    assert "not an ISO 8601 date and time" in message
    assert v.DATETIME_EXAMPLE in message


def test_future_start_time_is_rejected():
    assert "future" in v.check_not_future("2999-01-01T00:00:00+00:00")
    assert v.check_not_future("2020-01-01T00:00:00+00:00") is None


@pytest.mark.parametrize("text", ["P90D", "P12W", "P2Y6M", "PT1H30M", "P1DT12H", "P0.5D"])
def test_durations_accepted(text):
    assert v.check_duration(text) is None
    assert v.check_age(text) is None


@pytest.mark.parametrize("text", ["90 days", "P", "PT", "P90", "3 months", "p90d", "P1H"])
def test_bad_durations_rejected_with_example(text):
    message = v.check_duration(text)
    assert message is not None and "P90D" in message
    assert "P90D" in v.check_age(text)


@pytest.mark.parametrize("text", ["P90D/P120D", "P90D/", "/P120D", "P1Y/P2Y"])
def test_age_ranges_accepted(text):
    assert v.check_age(text) is None


def test_decreasing_age_range_is_rejected_with_the_swapped_range():
    message = v.check_age("P120D/P90D")
    assert "does not increase" in message
    assert "P90D/P120D" in message


def test_age_range_of_nothing_is_rejected():
    assert v.check_age("/") is not None


def test_duration_days():
    assert v.duration_days("P90D") == 90
    assert v.duration_days("P2W") == 14
    assert v.duration_days("PT12H") == 0.5
    with pytest.raises(ValueError):
        v.duration_days("90D")


@pytest.mark.parametrize(
    "text",
    [
        "Mus musculus",
        "Homo sapiens",
        "Rattus norvegicus domestica",
        "http://purl.obolibrary.org/obo/NCBITaxon_10090",
    ],
)
def test_species_accepted(text):
    assert v.check_species(text) is None


@pytest.mark.parametrize("text", ["mouse", "mus musculus", "Mus Musculus", "NCBITaxon_10090"])
def test_species_rejected_with_examples(text):
    message = v.check_species(text)
    assert f"'{text}'" in message
    assert "'Mus musculus'" in message and "NCBITaxon_10090" in message


@pytest.mark.parametrize("code", ["M", "F", "U", "O"])
def test_sex_codes(code):
    assert v.check_sex(code) is None


def test_sex_rejected_lists_codes():
    message = v.check_sex("male")
    assert "M (male)" in message and "O (other)" in message


def test_experimenter_last_first():
    assert v.check_experimenter(["Doe, Jane", "O'Brien, Mary-Kate"]) is None
    message = v.check_experimenter(["Doe, Jane", "Jane Doe"])
    assert "'Jane Doe'" in message
    assert "'Doe, Jane'" in message  # the swapped suggestion


@pytest.mark.parametrize(
    "text", ["doi:10.1016/j.neuron.2016.12.011", "https://doi.org/10.1038/nature12373"]
)
def test_doi_accepted(text):
    assert v.check_doi([text]) is None


@pytest.mark.parametrize("text", ["PMID 12345", "https://example.org/paper", "doi:abc"])
def test_doi_rejected_with_example(text):
    message = v.check_doi([text])
    assert "doi:10.1016/j.neuron.2016.12.011" in message


def test_weight_form():
    assert v.check_weight("0.025 kg") is None
    assert v.check_weight("25 g") is None
    assert "'0.025 kg'" in v.check_weight("25")


def test_non_empty_and_placeholders():
    assert v.check_non_empty("   ") is not None
    assert v.check_non_empty("mouse on a wheel") is None
    assert v.check_no_placeholder("No description.") is not None
    assert v.check_no_placeholder("A probe") is None


def test_no_slash_suggests_replacement():
    message = v.check_no_slash("2024/01/05")
    assert "'2024-01-05'" in message


def test_validate_by_name_and_unknown_name():
    assert v.validate("species", "Mus musculus") is None
    assert v.validate("sex", "X") is not None
    with pytest.raises(KeyError, match="unknown validator 'nope'"):
        v.validate("nope", "x")


def test_every_message_ends_as_a_sentence():
    samples = {
        "datetime_tz": "x",
        "duration": "x",
        "age": "x",
        "species": "x",
        "sex": "x",
        "experimenter": "x",
        "doi": "x",
        "weight": "x",
        "non_empty": "",
        "no_slash": "a/b",
        "no_placeholder": "none",
        "not_future": "2999-01-01T00:00:00+00:00",
    }
    assert set(samples) == set(v.VALIDATORS)
    for name, value in samples.items():
        message = v.validate(name, value)
        assert message and re.search(r"[.)]$", message), (name, message)


def test_dtype_families():
    assert v.dtype_family("text") == "text"
    assert v.dtype_family("isodatetime") == "datetime"
    assert v.dtype_family("float32") == "float"
    assert v.dtype_family("uint8") == "int"
    assert v.dtype_family({"target_type": "Device", "reftype": "object"}) == "other"
    assert v.dtype_family(None) == "other"


def test_check_dtype():
    assert v.check_dtype("x", "text") is None
    assert v.check_dtype(3, "text") is not None
    assert "non-ASCII" in v.check_dtype("café", "ascii")
    assert v.check_dtype(920.0, "float32") is None
    assert "not a number" in v.check_dtype("920nm", "float32")
    assert v.check_dtype(True, "float32") is not None
    assert "does not fit" in v.check_dtype(300, "uint8")
    assert "no timezone" in v.check_dtype("2024-01-05T10:00:00", "isodatetime")


def test_check_shape():
    assert v.check_shape("x", None) is None
    assert v.check_shape(["x"], None) is not None
    assert v.check_shape(["a", "b"], [None]) is None
    assert v.check_shape("a", [None]) is not None
    assert v.check_shape([1.0, 2.0, 3.0], [[2], [3]]) is None
    assert "2 or 3" in v.check_shape([1.0], [[2], [3]])
