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
