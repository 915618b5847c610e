"""OpenDocument text (.odt) as paragraphs, each cited by the nearest heading above it.

content.xml is read with the standard library's expat as a stream, like a .docx: its uncompressed
bytes and its elements are counted as they come (never trusting the zip header), no tree is kept,
and nesting costs no recursion. odfpy is not used: it builds the whole document as a DOM first.
ODF's white-space rule is applied (runs of spaces, tabs and newlines are one space; ``<text:s>``,
``<text:tab>`` and ``<text:line-break>`` are the kept ones). Footnotes, comments and tracked
deletions are left out: they would cut into the sentence they are anchored in.
"""

from __future__ import annotations

import re
from xml.parsers import expat

from rag.documents.archive import Budget, damaged, open_archive
from rag.documents.parts import Parts, section
from rag.types import Extracted

KIND = ".odt"
MAX_XML_BYTES = 64 * 2**20  # content.xml, uncompressed, counted while reading
MAX_XML_ELEMENTS = 2_000_000
TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
SVG = "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"
PARAGRAPHS = {f"{TEXT} p", f"{TEXT} h"}
SKIPPED = {f"{TEXT} note", f"{TEXT} tracked-changes", f"{OFFICE} annotation", f"{SVG} title", f"{SVG} desc"}
# Kept white space, as characters XML text can never hold, until the white-space rule has run.
SPACE, TAB, BREAK = "\x00", "\x01", "\x02"
KEPT = str.maketrans({SPACE: " ", TAB: "\t", BREAK: "\n"})
WHITE = re.compile(r"[ \t\r\n]+")


class _Body:
    """expat's handlers: paragraphs into ``parts`` as they end, a heading labelling what follows it."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.open: list[tuple[bool, list[str]]] = []  # paragraphs being read: (is a heading, pieces)
        self.skipping = 0  # depth inside a left-out element
        self.elements = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.elements += 1
        if self.elements > MAX_XML_ELEMENTS:
            raise ValueError(f"content.xml has over {MAX_XML_ELEMENTS:,} elements")
        if self.skipping or name in SKIPPED:
            self.skipping += 1
        elif name in PARAGRAPHS:
            self.open.append((name == f"{TEXT} h", []))
        elif self.open and name == f"{TEXT} s":
            count = attrs.get(f"{TEXT} c", "1")
            self.open[-1][1].append(SPACE * (min(int(count), 1000) if count.isdigit() else 1))
        elif self.open and name == f"{TEXT} tab":
            self.open[-1][1].append(TAB)
        elif self.open and name == f"{TEXT} line-break":
            self.open[-1][1].append(BREAK)

    def end(self, name: str) -> None:
        if self.skipping:
            self.skipping -= 1
        elif name in PARAGRAPHS and self.open:
            heading, pieces = self.open.pop()
            text = WHITE.sub(" ", "".join(pieces)).strip(" ").translate(KEPT)
            self.parts.add(text, section(text) if heading else None)

    def data(self, text: str) -> None:
        if self.open and not self.skipping:
            self.open[-1][1].append(text)


def odt_text(data: bytes) -> Extracted:
    """The paragraphs and headings of content.xml in order, a blank line between them; each offset's
    location is the heading above it (``section “Installing”``), none before the first heading."""
    parts = Parts("document")
    body = _Body(parts)
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = body.start, body.end, body.data
    with open_archive(data, KIND) as archive:
        blocks = Budget(KIND, MAX_XML_BYTES).blocks(archive, "content.xml")
        if blocks is None:
            raise ValueError(f"not a valid {KIND}: it has no content.xml")
        try:
            for block in blocks:
                parser.Parse(block, False)
            parser.Parse(b"", True)
        except (expat.ExpatError, LookupError) as exc:  # the bounds' own ValueErrors pass as they are
            raise damaged(KIND, exc) from None
    return parts.extracted("the document has no text")
