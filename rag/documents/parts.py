"""Building a document's text from its parts (slides, rows, chapters, paragraphs), with a place label
where each labelled part starts.

The offsets of an answer index the text this builds, so it is built once, in order, and each part is
tidied *before* it is placed: the joined text is already what ``formats.tidy`` would make of it, and
every recorded start stays exact. Text is bounded while it grows, since a small file can expand into
far more text than it holds (a spreadsheet's shared string, repeated in a million cells).
"""

from __future__ import annotations

import re

from rag.types import Extracted

MAX_TEXT_CHARS = 64 * 2**20  # characters of text from one file
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
PARAGRAPH = "\n\n"  # between parts: a blank line, so no chunk straddles two slides or chapters


def tidy_part(text: str) -> str:
    """One part as ``formats.tidy`` leaves text: Unix newlines, no control characters, no trailing
    spaces, at most one blank line in a row, no blank line at either end. A vertical tab (a line
    break in Office files) becomes a newline rather than vanish between two words."""
    text = CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n").replace("\v", "\n"))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def one_line(text: str) -> str:
    """A cell or header value on one line: each run of whitespace (newlines too) one space."""
    return " ".join(text.split())


class TooMuchText(ValueError):
    """A file whose text would pass MAX_TEXT_CHARS: its own reason, never mistaken for damage."""


class Parts:
    """A document's text, appended a part at a time, and the places where labelled parts start."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.pieces: list[str] = []
        self.size = 0
        self.places: list[tuple[int, str]] = []

    def add(self, text: str, label: str | None = None, sep: str = PARAGRAPH) -> int | None:
        """Append ``text`` (tidied; nothing if it is empty) after ``sep``, labelled ``label`` from its
        start; its start offset, or None when it added nothing."""
        text = tidy_part(text)
        if not text:
            return None
        if self.pieces:
            self.pieces.append(sep)
            self.size += len(sep)
        start = self.size
        self.pieces.append(text)
        self.size += len(text)
        if self.size > MAX_TEXT_CHARS:
            raise TooMuchText(f"the {self.kind} holds over {MAX_TEXT_CHARS >> 20} M characters of text")
        if label is not None:
            self.places.append((start, label))
        return start

    def extracted(self, empty: str) -> Extracted:
        """The joined text and its places; ValueError ``empty`` when there is no text at all."""
        text = "".join(self.pieces)
        if not text.strip():
            raise ValueError(empty)
        return Extracted(text, places=tuple(self.places))
