"""What a check reports: one finding per problem, pinned to an object path and a field.

Plain frozen dataclasses of strings so a report pickles (a batch run maps ``check_file`` over
files in other processes) and turns into the ``ndviewer check --json`` object as it is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

#: Most serious first; nwbinspector's CRITICAL, BEST_PRACTICE_VIOLATION and
#: BEST_PRACTICE_SUGGESTION map to them in that order, schema violations are errors.
SEVERITIES = ("error", "warning", "info")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: how bad, where (object path, and the member of it), which check, and a
    sentence that says what is wrong and how to make it right."""

    severity: str
    path: str
    field: str
    check: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(slots=True)
class Report:
    """Every finding for one file; ``error`` is set (and findings empty) when the file could
    not be read at all."""

    file: str
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(SEVERITIES, 0)
        for finding in self.findings:
            counts[finding.severity] = counts.get(finding.severity, 0) + 1
        return counts

    def sorted(self) -> list[Finding]:
        """Most serious first, then by object path, so a reader meets errors first."""
        return sorted(
            self.findings, key=lambda f: (SEVERITY_RANK.get(f.severity, 9), f.path, f.field)
        )

    def as_json(self) -> dict:
        return {"file": self.file, "findings": [f.as_dict() for f in self.sorted()]}
