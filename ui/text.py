"""Small text helpers of the chat: escaping for Markdown, plurals, the errors of document actions."""

from __future__ import annotations

import html
import re

from rag.errors import RagError

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")


class DocumentError(RagError):
    """A document action (add, remove, replace, view) that cannot be done; the message says why,
    and nothing was changed."""


class UploadRejected(DocumentError):
    """An uploaded file that cannot be added; the message says why, and nothing was written."""


def md_escape(text: str) -> str:
    """``text`` as Markdown that displays literally: no HTML, no formatting, no links."""
    return html.escape(_MARKDOWN_SPECIAL.sub(r"\\\1", text), quote=False)


def count(n: int, noun: str) -> str:
    """``1 passage``, ``2 passages``: a number with its noun in the right number."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
