"""Field validators: is this value acceptable for sharing, and if not, what would be?

DANDI and nwbinspector reject files whose metadata is malformed in well-known ways (a species
written "mouse", an age written "3 months", a session start without a timezone). Each validator
here answers one such question for one value and, when the answer is no, returns a message that
says what is wrong *and shows an example of right*, so the user can fix it without reading the
best-practice guide.

Validators are looked up by name (``spec/forms.json`` says which field uses which), take the
parsed value (a ``str``, a number, or a list of them) and return ``None`` when the value is fine.
They are pure functions: the form model, the edit transaction and the batch CLI all call the same
ones, so a value the GUI accepts is a value ``ndviewer edit`` accepts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

Validator = Callable[[Any], "str | None"]

# ISO 8601 duration as DANDI/nwbinspector accept it: P[nY][nM][nW][nD][T[nH][nM][nS]], with at
# least one component and decimals allowed.
_NUMBER = r"\d+(?:[.,]\d+)?"
DURATION_PATTERN = re.compile(
    rf"^P(?!$)(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}W)?(?:{_NUMBER}D)?"
    rf"(?:T(?=\d)(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?$"
)
_DURATION_PARTS = re.compile(
    rf"^P(?:(?P<Y>{_NUMBER})Y)?(?:(?P<MO>{_NUMBER})M)?(?:(?P<W>{_NUMBER})W)?(?:(?P<D>{_NUMBER})D)?"
    rf"(?:T(?:(?P<H>{_NUMBER})H)?(?:(?P<MI>{_NUMBER})M)?(?:(?P<S>{_NUMBER})S)?)?$"
)
LATIN_BINOMIAL = re.compile(r"^[A-Z][a-z]+ [a-z]+(?: [a-z]+)?$")
NCBI_TAXON_URI = re.compile(r"^http://purl\.obolibrary\.org/obo/NCBITaxon_\d+$")
# DANDI's NAME_PATTERN ("Last, First"), as nwbinspector copies it.
EXPERIMENTER_PATTERN = re.compile(r"^([\w\s\-\.']+),\s+([\w\s\-\.']+)$")
DOI_PREFIXES = ("doi:", "https://doi.org/", "http://dx.doi.org/", "https://dx.doi.org/")
WEIGHT_PATTERN = re.compile(r"(?i)^\d+(\.\d+)? (kg|g|mg|ug|μg|ng|pg)$")
SEX_CODES = {"M": "male", "F": "female", "U": "unknown", "O": "other"}

DATETIME_EXAMPLE = "2024-01-05T14:30:00-05:00"


def _items(value: Any) -> list[Any]:
    """Validators of list fields check every element; scalars are a list of one."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 date-time; ``Z`` is accepted for UTC. Raises ``ValueError``."""
    text = text.strip()
    if not text:
        raise ValueError("empty")
    return datetime.fromisoformat(text)


def check_datetime_tz(value: Any) -> str | None:
    """ISO 8601 date and time *with* a timezone: NWB times are meaningless without one."""
    for item in _items(value):
        text = str(item).strip()
        try:
            parsed = parse_datetime(text)
        except ValueError:
            return (
                f"'{text}' is not an ISO 8601 date and time; write it like "
                f"{DATETIME_EXAMPLE} (date, 'T', time, timezone offset)."
            )
        if "T" not in text.upper() and " " not in text:
            return (
                f"'{text}' is a date without a time; write a date and time with a timezone, "
                f"e.g. {text}T00:00:00+00:00."
            )
        if parsed.tzinfo is None:
            return (
                f"'{text}' has no timezone; add the UTC offset of where it was recorded, "
                f"e.g. {parsed.isoformat()}-05:00 (or Z for UTC)."
            )
    return None


def check_not_future(value: Any) -> str | None:
    """A recording cannot start in the future (nwbinspector reports it as critical)."""
    for item in _items(value):
        try:
            parsed = parse_datetime(str(item))
        except ValueError:
            continue  # check_datetime_tz reports the format
        if parsed.tzinfo is None:
            continue
        if parsed > datetime.now(parsed.tzinfo) + timedelta(minutes=1):
            return f"'{item}' is in the future; a session start time must be in the past."
    return None


def check_duration(value: Any) -> str | None:
    """A single ISO 8601 duration such as P90D or PT1H30M."""
    for item in _items(value):
        text = str(item).strip()
        if not DURATION_PATTERN.match(text):
            return (
                f"'{text}' is not an ISO 8601 duration; write e.g. P90D (90 days), P12W "
                "(12 weeks), P2Y6M (2 years 6 months) or PT1H30M (1 hour 30 minutes)."
            )
    return None


def duration_days(text: str) -> float:
    """Approximate length of an ISO 8601 duration in days (months 30.44 d, years 365.25 d).

    Used to check that an age range increases; exact calendar arithmetic does not matter there.
    """
    match = _DURATION_PARTS.match(text.strip())
    if not match or not DURATION_PATTERN.match(text.strip()):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    scale = {
        "Y": 365.25,
        "MO": 30.44,
        "W": 7.0,
        "D": 1.0,
        "H": 1 / 24,
        "MI": 1 / 1440,
        "S": 1 / 86400,
    }
    return sum(
        float(match.group(key).replace(",", ".")) * factor
        for key, factor in scale.items()
        if match.group(key)
    )


def check_age(value: Any) -> str | None:
    """Subject age: an ISO 8601 duration, or a range ``P90D/P120D`` (either side may be open)."""
    example = (
        "write it as an ISO 8601 duration, e.g. P90D (90 days) or P12W (12 weeks), or a range "
        "such as P90D/P120D (between 90 and 120 days) or P90D/ (90 days or older)."
    )
    for item in _items(value):
        text = str(item).strip()
        if DURATION_PATTERN.match(text):
            continue
        if text.count("/") == 1:
            lower, upper = text.split("/")
            lower_ok = lower == "" or DURATION_PATTERN.match(lower)
            upper_ok = upper == "" or DURATION_PATTERN.match(upper)
            if lower_ok and upper_ok and (lower or upper):
                if lower and upper and duration_days(lower) >= duration_days(upper):
                    return (
                        f"The age range '{text}' does not increase; put the shorter duration "
                        f"first, e.g. {upper}/{lower}."
                    )
                continue
        return f"'{text}' is not an ISO 8601 age; {example}"
    return None


def check_species(value: Any) -> str | None:
    """Latin binomial ("Mus musculus") or an NCBI taxonomy URI, as DANDI requires."""
    for item in _items(value):
        text = str(item).strip()
        if LATIN_BINOMIAL.match(text) or NCBI_TAXON_URI.match(text):
            continue
        return (
            f"Species '{text}' is neither a Latin binomial nor an NCBI taxonomy URI; write e.g. "
            "'Mus musculus', 'Homo sapiens' or "
            "'http://purl.obolibrary.org/obo/NCBITaxon_10090'."
        )
    return None


def check_sex(value: Any) -> str | None:
    """One of the four DANDI codes M, F, U, O."""
    for item in _items(value):
        text = str(item).strip()
        if text not in SEX_CODES:
            codes = ", ".join(f"{code} ({name})" for code, name in SEX_CODES.items())
            return f"Sex '{text}' is not one of the accepted codes: {codes}."
    return None


def check_experimenter(value: Any) -> str | None:
    """Each experimenter as "Last, First" (DANDI's name pattern)."""
    for item in _items(value):
        text = str(item).strip()
        if not EXPERIMENTER_PATTERN.match(text):
            hint = ""
            parts = text.split()
            if "," not in text and len(parts) == 2:
                hint = f" ('{parts[1]}, {parts[0]}')"
            return (
                f"Experimenter '{text}' is not in the form 'Last, First'; write e.g. "
                f"'Doe, Jane'{hint}."
            )
    return None


def check_doi(value: Any) -> str | None:
    """Each publication as ``doi:10.…`` or a ``https://doi.org/10.…`` link."""
    for item in _items(value):
        text = str(item).strip()
        if not text.startswith(DOI_PREFIXES):
            return (
                f"Publication '{text}' is not a DOI; write e.g. 'doi:10.1016/j.neuron.2016.12.011' "
                "or 'https://doi.org/10.1016/j.neuron.2016.12.011'."
            )
        suffix = text.split(":", 1)[1] if text.startswith("doi:") else text.split(".org/", 1)[1]
        if not suffix.strip().startswith("10."):
            return (
                f"Publication '{text}' does not hold a DOI (DOIs start with '10.'); write e.g. "
                "'doi:10.1016/j.neuron.2016.12.011'."
            )
    return None


def check_weight(value: Any) -> str | None:
    """Subject weight as "<number> <unit>", e.g. "0.02 kg" (nwbinspector's form)."""
    for item in _items(value):
        text = str(item).strip()
        if not WEIGHT_PATTERN.match(text):
            return (
                f"Weight '{text}' is not a number followed by a unit; write e.g. '0.025 kg' or "
                "'25 g' (units: kg, g, mg, ug, ng, pg)."
            )
    return None


def check_non_empty(value: Any) -> str | None:
    """Text that must say something (a blank description helps nobody)."""
    items = _items(value)
    if not items or all(not str(item).strip() for item in items):
        return "This field is empty; write a short description, e.g. 'Mouse running on a wheel'."
    return None


def check_no_slash(value: Any) -> str | None:
    """IDs that DANDI turns into file names must not contain slashes."""
    for item in _items(value):
        text = str(item)
        if "/" in text or "\\" in text:
            return (
                f"'{text}' contains a slash, which breaks DANDI file names; use '-' or '_' "
                f"instead, e.g. '{text.replace('/', '-').replace(chr(92), '-')}'."
            )
    return None


def check_no_placeholder(value: Any) -> str | None:
    """Placeholders such as "no description" count as missing for nwbinspector."""
    for item in _items(value):
        text = str(item).strip().strip(".").lower()
        if text in ("no description", "no desc", "none", "placeholder", "todo", "tbd"):
            return (
                f"'{item}' is a placeholder; describe the object, e.g. 'Silicon probe, 384 "
                "channels, implanted in CA1'."
            )
    return None


VALIDATORS: dict[str, Validator] = {
    "datetime_tz": check_datetime_tz,
    "not_future": check_not_future,
    "duration": check_duration,
    "age": check_age,
    "species": check_species,
    "sex": check_sex,
    "experimenter": check_experimenter,
    "doi": check_doi,
    "weight": check_weight,
    "non_empty": check_non_empty,
    "no_slash": check_no_slash,
    "no_placeholder": check_no_placeholder,
}


def validate(name: str, value: Any) -> str | None:
    """Run the validator called ``name``; an unknown name is a bug in ``spec/forms.json``."""
    try:
        validator = VALIDATORS[name]
    except KeyError:
        raise KeyError(f"unknown validator {name!r}; known: {', '.join(VALIDATORS)}") from None
    return validator(value)


# -- dtype and shape, from the spec --------------------------------------------------------------
TEXT_DTYPES = {"text", "utf", "utf8", "utf-8"}
ASCII_DTYPES = {"ascii", "bytes"}
DATETIME_DTYPES = {"isodatetime", "datetime"}
FLOAT_DTYPES = {"float", "float32", "float64", "double", "numeric"}
INT_RANGES = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "long": (-(2**63), 2**63 - 1),
    "uint8": (0, 2**8 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    "uint": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}


def dtype_family(dtype: Any) -> str:
    """Classify a spec dtype: ``text``, ``ascii``, ``datetime``, ``float``, ``int``, ``bool``,
    or ``other`` (compound, references, unspecified: not editable as a plain value)."""
    if not isinstance(dtype, str):
        return "other"
    name = dtype.lower()
    if name in TEXT_DTYPES:
        return "text"
    if name in ASCII_DTYPES:
        return "ascii"
    if name in DATETIME_DTYPES:
        return "datetime"
    if name in FLOAT_DTYPES:
        return "float"
    if name in INT_RANGES:
        return "int"
    if name == "bool":
        return "bool"
    return "other"


def check_dtype(value: Any, dtype: Any) -> str | None:
    """Does ``value`` (scalar or list) fit the spec ``dtype``? Message names an example."""
    family = dtype_family(dtype)
    for item in _items(value):
        if family in ("text", "ascii", "datetime"):
            if not isinstance(item, str):
                return f"{item!r} is not text; write the value as text, e.g. 'example'."
            if family in ("ascii", "datetime") and not item.isascii():
                return f"'{item}' contains non-ASCII characters, which this field cannot store."
            if family == "datetime":
                problem = check_datetime_tz(item)
                if problem:
                    return problem
        elif family == "float":
            if isinstance(item, bool) or not isinstance(item, int | float):
                return f"{item!r} is not a number; write e.g. 920 or 920.5."
        elif family == "int":
            if isinstance(item, bool) or not isinstance(item, int):
                return f"{item!r} is not a whole number; write e.g. 3."
            low, high = INT_RANGES[dtype.lower()]
            if not low <= item <= high:
                return f"{item} does not fit in {dtype} (from {low} to {high})."
        elif family == "bool" and not isinstance(item, bool):
            return f"{item!r} is not true or false."
    return None


def check_shape(value: Any, shape: Any) -> str | None:
    """Does ``value`` have the spec ``shape``? ``None`` is a scalar, ``[None]`` a list,
    ``[3]`` a list of three, ``[[2], [3]]`` either of two shapes."""
    if shape is None:
        if isinstance(value, list | tuple):
            return "This field holds one value, not a list."
        return None
    alternatives = shape if shape and isinstance(shape[0], list) else [shape]
    for alternative in alternatives:
        if len(alternative) != 1:
            continue  # only 1-D values are edited as plain values
        if not isinstance(value, list | tuple):
            continue
        if alternative[0] is None or alternative[0] == len(value):
            return None
    lengths = [str(a[0]) for a in alternatives if len(a) == 1 and a[0] is not None]
    if lengths:
        return f"This field holds a list of {' or '.join(lengths)} values, e.g. [1.0, 2.0, 3.0]."
    return "This field holds a list of values."
