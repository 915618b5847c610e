"""The headings of a Markdown file, so an offset is cited by the nearest heading above it.

A .md file's text is the file itself (often streamed, never kept whole in the index), so its headings
are found by reading it a line at a time: only a bounded prefix of each line is held, and the result
is a list of (offset, ``section “Heading”``) places, at most MAX_PLACES of them. The same function
reads a whole decoded text (the document view, a non-UTF-8 file) and a file on disk, so both give the
same places.

Headings are CommonMark's: ATX (``## Install``, up to three spaces in, an optional closing ``#`` run)
and setext (a paragraph underlined with ``===`` or ``---``). Fenced code blocks (a shell's ``# comment``),
indented code and YAML front matter are not headings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from rag.documents.parts import MAX_LABEL_CHARS, section

MAX_PLACES = 20_000  # headings of one file kept; past them, an empty place: "no location" beats a wrong one
LINE_PREFIX = 1024  # characters of a line looked at; a longer line is still counted whole
BLOCK_CHARS = 1 << 16

ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")
UNDERLINE = re.compile(r" {0,3}(?:=+|-+)[ \t]*")
FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
BREAK = re.compile(r" {0,3}(?:(?:\*[ \t]*){3,}|(?:_[ \t]*){3,}|(?:-[ \t]*){3,})")
NOT_PARAGRAPH = re.compile(r" {0,3}(?:[-+*][ \t]|\d{1,9}[.)][ \t]|>|<|\|)")  # list, quote, HTML, table


Read = Callable[[int], str]


def lines(read: Read) -> Iterator[tuple[int, str, bool]]:
    """Each line of the text ``read`` gives, as (start offset, its first LINE_PREFIX characters without
    the line end, whether it was longer): memory stays bounded whatever the line lengths."""
    start = position = 0
    head: list[str] = []
    kept = 0
    longer = False
    while block := read(BLOCK_CHARS):
        at = 0
        while True:
            end = block.find("\n", at)
            piece = block[at : len(block) if end < 0 else end]
            room = LINE_PREFIX - kept
            head.append(piece[:room])
            kept += min(len(piece), room)
            longer = longer or len(piece) > room
            if end < 0:
                break
            yield start, "".join(head).removesuffix("\r"), longer
            start, head, kept, longer, at = position + end + 1, [], 0, False, end + 1
        position += len(block)
    if start < position:
        yield start, "".join(head).removesuffix("\r"), longer


@dataclass
class _Scan:
    """The scanner's state between lines: an open fence, the paragraph a setext underline would title."""

    places: list[tuple[int, str]] = field(default_factory=list)
    fence: str = ""  # the open fence's run (```` ``` ````, ``~~~~``), "" when none is open
    paragraph: tuple[int, str] | None = None  # (start, its text so far, bounded)
    full: bool = False

    def add(self, start: int, label: str | None) -> None:
        if label is None or self.full:
            return
        if len(self.places) >= MAX_PLACES:
            self.places.append((start, ""))  # offsets from here on have no known heading
            self.full = True
        else:
            self.places.append((start, label))

    def line(self, start: int, line: str, longer: bool) -> None:
        if self.fence:
            closing = FENCE.fullmatch(line)
            if closing and closing.group(1)[0] == self.fence[0] and len(closing.group(1)) >= len(self.fence):
                self.fence = "" if not closing.group(2).strip() else self.fence
            return
        if not line.strip():
            self.paragraph = None
        elif (fence := FENCE.fullmatch(line)) and not (fence.group(1)[0] == "`" and "`" in fence.group(2)):
            self.fence, self.paragraph = fence.group(1), None
        elif atx := ATX.fullmatch(line):
            self.add(start, section(atx.group(2) or ""))
            self.paragraph = None
        elif self.paragraph is not None and not longer and UNDERLINE.fullmatch(line):
            self.add(*self.paragraph[:1], section(self.paragraph[1]))
            self.paragraph = None
        elif BREAK.fullmatch(line) or NOT_PARAGRAPH.match(line):
            self.paragraph = None
        elif self.paragraph is not None:
            if len(self.paragraph[1]) < MAX_LABEL_CHARS:
                self.paragraph = (self.paragraph[0], f"{self.paragraph[1]} {line.strip()}"[: 2 * MAX_LABEL_CHARS])
        elif len(line) - len(line.lstrip(" ")) < 4 and not line.startswith("\t"):  # else indented code
            self.paragraph = (start, line.strip()[: 2 * MAX_LABEL_CHARS])


def heading_places(read: Read) -> tuple[tuple[int, str], ...]:
    """The (offset, ``section “Heading”``) places of the Markdown text ``read`` gives, in order."""
    scan = _Scan()
    numbered = lines(read)
    first = next(numbered, None)
    if first is not None and first[1].lstrip("\ufeff").rstrip() == "---":
        for _, line, _ in numbered:  # YAML front matter, up to its closing line
            if line.rstrip() in ("---", "..."):
                break
    elif first is not None:
        start, line, longer = first
        bom = line.startswith("\ufeff")  # a streamed UTF-8 file keeps its byte-order mark as a character
        scan.line(start + bom, line[bom:], longer)
    for start, line, longer in numbered:
        scan.line(start, line, longer)
    return tuple(scan.places)


def file_places(path: str, encoding: str = "utf-8") -> tuple[tuple[int, str], ...]:
    """``heading_places`` of a Markdown file on disk, read a block at a time; offsets count characters
    as the streamed chunker does (line ends as stored)."""
    with open(path, encoding=encoding, newline="") as handle:
        return heading_places(handle.read)


def text_places(text: str) -> tuple[tuple[int, str], ...]:
    """``heading_places`` of a decoded Markdown text held in memory."""
    position = 0

    def read(n: int) -> str:
        nonlocal position
        position += n
        return text[position - n : position]

    return heading_places(read)
