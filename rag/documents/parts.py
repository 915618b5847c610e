"""Building a document's text from its parts (slides, rows, chapters, paragraphs), with a place label
where each labelled part starts.

The offsets of an answer index the text this builds, so it is built once, in order, and each part is
tidied *before* it is placed: the joined text is already what ``tidy`` would make of it, and
every recorded start stays exact. Text is bounded while it grows, since a small file can expand into
far more text than it holds (a spreadsheet's shared string, repeated in a million cells).
"""

from __future__ import annotations

import re

from rag.types import Extracted

MAX_TEXT_CHARS = 64 * 2**20  # characters of text from one file
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
PARAGRAPH = "\n\n"  # between parts: a blank line, so no chunk straddles two slides or chapters
PAGE_SEPARATOR = "\n\n"  # between PDF pages; a blank line, so no chunk straddles two pages
MAX_LABEL_CHARS = 80  # a heading's text in a location: enough to find it again, short enough to cite
# Where a heading starts, written into text before it is tidied and taken out after, so a heading's
# offset stays exact whatever the tidying removes before it. A Unicode noncharacter: reserved for a
# program's own use, so input loses nothing by having it removed (``unmarked``).
MARK = "\ufdd0"
VISIBLE = re.compile(r"[^\s\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # a character tidying never removes


def tidy(text: str) -> str:
    """Unix newlines, no control characters or trailing spaces, at most one blank line in a row: the
    text of every format, as offsets index it (``rag.documents.formats``, ``rag.documents.pdf``)."""
    text = CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def tidy_part(text: str) -> str:
    """One part as ``tidy`` leaves text: Unix newlines, no control characters, no trailing
    spaces, at most one blank line in a row, no blank line at either end. A vertical tab (a line
    break in Office files) becomes a newline rather than vanish between two words."""
    text = CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n").replace("\v", "\n"))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def one_line(text: str) -> str:
    """A cell or header value on one line: each run of whitespace (newlines too) one space."""
    return " ".join(text.split())


def section(text: str) -> str | None:
    """A heading's location, ``section “Installing”`` (whitespace runs one space, at most
    MAX_LABEL_CHARS); None for a heading with no text."""
    label = one_line(text)
    if not label:
        return None
    if len(label) > MAX_LABEL_CHARS:
        label = label[: MAX_LABEL_CHARS - 1].rstrip() + "…"
    return f"section “{label}”"


def mark_visible(text: str) -> tuple[str, bool]:
    """``text`` with MARK before its first character that tidying keeps; (text, whether it was marked).
    A mark placed there never changes what tidying does to the rest (no line becomes non-blank)."""
    found = VISIBLE.search(text)
    if found is None:
        return text, False
    return f"{text[: found.start()]}{MARK}{text[found.start() :]}", True


def unmarked(text: str) -> tuple[str, tuple[tuple[int, str], ...]]:
    """``text`` without its marks, and a ``section “…”`` place at each: its label is the marked
    paragraph's text (up to the next blank line)."""
    pieces = text.split(MARK)
    plain = "".join(pieces)
    places = []
    offset = len(pieces[0])
    for piece in pieces[1:]:
        head = plain[offset : offset + 4 * MAX_LABEL_CHARS].split("\n\n", 1)[0]
        if (label := section(head)) is not None:
            places.append((offset, label))
        offset += len(piece)
    return plain, tuple(places)


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
