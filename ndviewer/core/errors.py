"""Typed errors that cross the core/GUI boundary.

Every error a user can cause (a bad file, a bad value) is raised as an ``NdviewerError`` whose
``message`` is one readable sentence naming the file or object and the problem. The GUI shows
the message and logs the traceback; the CLI prints the message and exits 2.
"""

from __future__ import annotations


class NdviewerError(Exception):
    """A problem the user can understand and act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FileOpenError(NdviewerError):
    """The file cannot be opened: missing, unreadable, empty, not HDF5 or damaged."""


class SpecError(NdviewerError):
    """The file's cached specification cannot be used."""


class EditError(NdviewerError):
    """An edit is invalid or could not be written safely."""
