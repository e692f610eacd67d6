"""Describe one file as ``ndviewer info`` does: the typed summary, its problems and notes.

One function for the single-file command and for batch runs over folders and clusters, so a
row of a batch report says exactly what ``info`` says of that file. The summary of an
unchanged file comes from the user cache without importing h5py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ndviewer import __version__
from ndviewer.core import cache

#: Version of the cached ``info`` summary (bumped whenever its JSON changes).
INFO_FORMAT = f"info-3/{__version__}"
#: Exceptions that mean "the file is damaged" when nothing more specific caught them.
DAMAGE = (RuntimeError, OSError, KeyError, ValueError, TypeError, RecursionError)


@dataclass
class Description:
    """What ``info`` prints: the JSON summary, the problems (warnings) and notes."""

    summary: dict
    problems: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    from_cache: bool = False
    #: The identity of the file as it was described (None when not cached): what
    #: :func:`save_json` keys the printed JSON by.
    identity: cache.FileIdentity | None = None


#: Kind of the cache entry holding the exact text ``info --json`` printed (see cached_json).
JSON_KIND = "info-json"


def _readable_identity(path: str) -> cache.FileIdentity | None:
    """The identity a cached description is keyed by, None for an unreadable path."""
    try:
        if not os.access(path, os.R_OK) or not os.path.isfile(path):
            return None
        return cache.FileIdentity.of(path)
    except OSError:
        return None


def cached_json(path: str) -> tuple[str, list[str], list[str]] | None:
    """(JSON text, problems, notices) that ``info --json`` printed for this unchanged file.

    Encoding the summary of a file of 10^5 typed objects (200 000 dictionaries) takes 0.4 s
    and unpickling it 0.1 s, where the text itself loads in a few milliseconds; so the text
    is kept as printed and printed again.
    """
    identity = _readable_identity(path)
    if identity is None:
        return None
    payload = cache.load(JSON_KIND, identity, INFO_FORMAT)
    if not isinstance(payload, dict) or not isinstance(payload.get("text"), str):
        return None
    return payload["text"], list(payload.get("problems", [])), list(payload.get("notices", []))


def save_json(description: Description, text: str) -> None:
    """Keep the JSON text printed for a freshly described file (see :func:`cached_json`)."""
    if description.identity is None:
        return
    cache.save(
        JSON_KIND,
        description.identity,
        INFO_FORMAT,
        {"text": text, "problems": description.problems, "notices": description.notices},
    )


def cached_description(path: str) -> Description | None:
    """The summary saved when this unchanged file was last described, or None."""
    identity = _readable_identity(path)
    if identity is None:
        return None
    payload = cache.load("info", identity, INFO_FORMAT)
    if not isinstance(payload, dict) or "summary" not in payload:
        return None
    return Description(
        payload["summary"],
        list(payload.get("problems", [])),
        list(payload.get("notices", [])),
        from_cache=True,
        identity=identity,
    )


def describe(path: str, use_cache: bool = True) -> Description:
    """Describe ``path``; raises ``NdviewerError`` (one sentence) when it cannot be read."""
    if use_cache:
        cached = cached_description(path)
        if cached is not None:
            return cached
    from ndviewer.core.errors import NdviewerError
    from ndviewer.core.model.files import open_nwb
    from ndviewer.core.nwb.summary import file_summary, typed_index

    try:
        with open_nwb(path, use_cache) as file:
            index = typed_index(file, use_cache=use_cache)
            summary = file_summary(file, index)
            description = Description(
                summary,
                list(summary["problems"]),
                list(file.catalog.notices),
                identity=file.identity if use_cache else None,
            )
            if use_cache:
                cache.save(
                    "info",
                    file.identity,
                    INFO_FORMAT,
                    {
                        "summary": summary,
                        "problems": description.problems,
                        "notices": description.notices,
                    },
                )
            return description
    except NdviewerError:
        raise
    except DAMAGE as exc:  # the last guard: damage the model did not turn into a problem
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NdviewerError(f"Cannot describe {path}: the file is damaged ({reason}).") from None
