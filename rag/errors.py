"""Errors a user can fix, each carrying the exit code the command-line tools return."""

from __future__ import annotations


class RagError(Exception):
    """A problem with the user's input or files: shown as one line, never as a traceback."""

    exit_code = 1


class UsageError(RagError):
    """Bad input on the command line: an empty question, a missing docs folder."""

    exit_code = 2


class IndexUnusable(RagError):
    """The index on disk cannot be used (missing, corrupt, built with another model)."""


class IndexNotUpdated(RagError):
    """An update of the index could not be written (a read-only folder, a full disk): the previous index
    is still the live one. Raised only to callers that ask (``fresh_index(strict=True)``), so that a
    document action can undo its change to the docs folder instead of reporting one the index lacks."""
