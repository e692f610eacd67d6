"""The table of best-practice rules (``spec/checks.json``): severity, message, types, field.

Data, not code, so the severities can follow nwbinspector's importance levels in one visible
place and the tests can match our checks against its checks by the ``inspector`` column.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from ndviewer.core.checks.findings import SEVERITIES, Finding


class RuleError(Exception):
    """A rule's message does not match the values its code gives (a programming error)."""


@dataclass(frozen=True)
class Rule:
    check: str
    severity: str
    types: tuple[str, ...]
    field: str
    inspector: tuple[str, ...]
    message: str

    def finding(self, path: str, field: str | None = None, **values: object) -> Finding:
        """The finding of this rule at ``path``, its message filled in with ``values``."""
        try:
            message = self.message.format(**values)
            field = field if field is not None else self.field.format(**values)
        except (KeyError, IndexError, ValueError) as exc:
            # a bug of ours, not damage in the file: must not be mistaken for it and skipped
            raise RuleError(f"spec/checks.json: {self.check} cannot be filled ({exc!r})") from exc
        return Finding(self.severity, path, field, self.check, message)


@cache
def rules() -> dict[str, Rule]:
    """Every rule by check name, from the shipped ``spec/checks.json``."""
    from ndviewer.paths import spec_dir

    raw = json.loads((spec_dir() / "checks.json").read_text())
    table: dict[str, Rule] = {}
    for row in raw["rules"]:
        if row["severity"] not in SEVERITIES:
            raise ValueError(f"spec/checks.json: {row['check']} has severity {row['severity']!r}")
        table[row["check"]] = Rule(
            row["check"],
            row["severity"],
            tuple(row["types"]),
            row["field"],
            tuple(row["inspector"]),
            row["message"],
        )
    return table


def rule(check: str) -> Rule:
    return rules()[check]


def inspector_equivalents() -> dict[str, set[str]]:
    """nwbinspector check name → our check names that report the same problem."""
    mapping: dict[str, set[str]] = {}
    for entry in rules().values():
        for name in entry.inspector:
            mapping.setdefault(name, set()).add(entry.check)
    return mapping
