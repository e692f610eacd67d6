"""DANDI archive references turned into download URLs (filled in by the DANDI step)."""

from __future__ import annotations


def resolve(location: str) -> str:
    """The http(s) URL to read for ``location`` (a URL is returned as it is)."""
    return location
