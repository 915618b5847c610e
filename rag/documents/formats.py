"""Turning a file's bytes into the text every offset of it refers to, by file kind.

.txt and .md are decoded exactly as stored (UTF-8, else the encoding ``rag.documents.encoding``
finds), so offsets index the file's decoded text. .html/.htm, .pdf (``rag.documents.pdf``) and
.docx are *extracted* into clean, readable text; offsets index that text, which the index
keeps (``Index.kept_text``). Extraction is deterministic (same bytes, same text), so
``file_text(docs, source)`` can always re-extract it to check a citation.
Headings are places (``section “Heading”``): HTML h1-h6, Word heading styles, Markdown headings
(``rag.documents.markdown``). ``READER_VERSIONS`` says when a kind's reader changed, so indexes read
its files again. Anything that cannot be read raises ValueError with a reason the user can act on.
"""

from __future__ import annotations

import codecs
import importlib
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path, PurePath
from typing import IO
from xml.etree import ElementTree

from rag.documents import ocr
from rag.documents.encoding import (
    MAX_DETECTED_BYTES,
    SNIFF_BYTES,
    bom_codec,
    decode_html,
    decode_text,
    too_large_to_detect,
    utf16_without_bom,
)
from rag.documents.markdown import text_places
from rag.documents.parts import MARK, mark_visible, tidy, unmarked
from rag.types import Extracted

PLAIN_SUFFIXES = (".txt", ".md")
# Formats read by a module of their own: suffix -> (module of rag.documents, its function of bytes -> Extracted).
# Imported on first use, so python-pptx and openpyxl load only when such a file is read.
FORMAT_MODULES = {
    ".odt": ("opendocument", "odt_text"),
    ".pptx": ("office", "pptx_text"),
    ".xlsx": ("sheets", "xlsx_text"),
    ".csv": ("sheets", "csv_text"),
    ".epub": ("ebook", "epub_text"),
    ".eml": ("mail", "eml_text"),
}
# Every kind the indexer reads: the one list the folder scan, the CLI's help and the chat's upload use.
DOC_SUFFIXES = (*PLAIN_SUFFIXES, ".html", ".htm", ".pdf", ".docx", *FORMAT_MODULES)
# The version of each kind's reader: bump it when what a reader makes of the same bytes changes (its text,
# offsets, places or encoding), and every index re-reads files of that kind once (``reader_version``).
READER_VERSIONS = {
    ".txt": 1,
    ".md": 2,  # 2: headings are places
    ".html": 2,  # 2: headings are places
    ".htm": 2,
    ".pdf": 1,
    ".docx": 2,  # 2: heading paragraphs are places
    ".odt": 1,
    ".pptx": 1,
    ".xlsx": 1,
    ".csv": 1,
    ".epub": 1,
    ".eml": 1,
}
MAX_XML_BYTES = 64 * 2**20  # a .docx's document.xml, uncompressed, counted while reading: zip bombs
MAX_XML_ELEMENTS = 2_000_000  # elements in it (31 million empty paragraphs fit in 271 KB zipped)
DOCX_ERRORS = (zipfile.BadZipFile, KeyError, ElementTree.ParseError, ValueError, OSError, RuntimeError, EOFError)


def suffix_of(source: str) -> str:
    return PurePath(source).suffix.lower()


def is_plain(source: str) -> bool:
    """True for files whose text is the file itself (.txt, .md), False for extracted formats."""
    return suffix_of(source) in PLAIN_SUFFIXES


def decode(data: bytes) -> str:
    """A text file's text: UTF-8 when valid (a byte-order mark's encoding first), else the encoding the
    detector finds (``encoding.decode_text``); ValueError for binary data or bytes no encoding fits."""
    return decode_text(data)[0]


def check_utf8_file(path: Path, block: int = 1 << 20) -> bool:
    """Whether ``path`` is UTF-8 text that can be read a block at a time (no whole copy of a large file
    in memory), checked a block at a time. False for any other encoding, which ``decode`` reads whole;
    ValueError for binary data, or a file too large to guess the encoding of, before it is read whole."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    with open(path, "rb") as f:
        data = f.read(block)
        if bom_codec(data[:4]) not in (None, ("utf-8", "UTF-8")):
            return False
        if b"\x00" in data[:SNIFF_BYTES]:
            if utf16_without_bom(data) and path.stat().st_size % 2 == 0:
                return False
            raise ValueError("binary file")
        consumed = 0
        while True:
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                size = path.stat().st_size
                if size > MAX_DETECTED_BYTES:
                    raise ValueError(too_large_to_detect(size, consumed - pending + exc.start)) from None
                return False
            if not data:
                return True
            consumed += len(data)
            data = f.read(block)


def reader_version(source: str) -> str:
    """What reads ``source`` now, as recorded in the index beside each file: its kind's READER_VERSIONS
    entry, and for a PDF whether OCR can read scanned pages (and in which languages), so a PDF read
    without Tesseract is read again once it is installed."""
    suffix = suffix_of(source)
    version = f"{suffix}:{READER_VERSIONS.get(suffix, 0)}"
    if suffix != ".pdf":
        return version
    return f"{version}+ocr:{ocr.languages()}" if ocr.tesseract() else f"{version}-ocr"


def extract(source: str, data: bytes) -> Extracted:
    """The text of a file named ``source`` (only its suffix matters), and its page starts for PDFs."""
    suffix = suffix_of(source)
    if suffix in FORMAT_MODULES:
        module, function = FORMAT_MODULES[suffix]
        return getattr(importlib.import_module(f"rag.documents.{module}"), function)(data)
    if suffix in (".html", ".htm"):
        return html_extracted(data)
    if suffix == ".pdf":
        return pdf_text(data, source)
    if suffix == ".docx":
        return docx_extracted(data)
    text, encoding = decode_text(data)
    return Extracted(text, places=text_places(text) if suffix == ".md" else (), encoding=encoding)


# --- HTML ------------------------------------------------------------------------------------

SKIPPED_TAGS = {"script", "style", "noscript", "template", "svg", "nav"}  # nav: menus are page chrome
PARAGRAPH_TAGS = {
    *(f"h{i}" for i in range(1, 7)),
    *("p", "blockquote", "pre", "table", "ul", "ol", "dl", "hr", "figure", "form", "fieldset", "details"),
    *("section", "article", "header", "footer", "main", "aside", "address"),
}
HEADING_TAGS = {f"h{i}" for i in range(1, 7)}
LINE_TAGS = {"br", "div", "li", "tr", "dt", "dd", "caption", "figcaption", "summary", "legend", "option"}
CELL_TAGS = {"td", "th"}
CELL_SEPARATOR = " | "


class _TextParser(HTMLParser):
    """Collects the visible text of a page as lines; "" marks a paragraph break. A heading's first
    visible character gets ``parts.MARK`` before it, so ``extracted`` can say where each heading starts
    in the tidied text; ``text`` leaves the marks out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.pieces: list[str] = []
        self.title: list[str] | None = None
        self.title_text = ""
        self.skipping: tuple[str, int] | None = None  # (tag, nesting depth)
        self.pre = 0
        self.cells = 0
        self.heading = 0  # depth inside h1-h6
        self.marked = False  # the open heading's start is marked

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if self.skipping:
            if tag == self.skipping[0]:
                self.skipping = (tag, self.skipping[1] + 1)
        elif tag in SKIPPED_TAGS:
            self.skipping = (tag, 1)
        elif tag == "title" and not self.title_text:
            self.title = []
        else:
            self._block(tag)
            if tag == "pre":
                self.pre += 1
            if tag in HEADING_TAGS:
                self.heading, self.marked = self.heading + 1, self.marked and self.heading > 0
            if tag in CELL_TAGS:
                if self.cells:
                    self.pieces.append(CELL_SEPARATOR)
                self.cells += 1

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if tag == self.skipping[0]:
                depth = self.skipping[1] - 1
                self.skipping = (tag, depth) if depth else None
        elif tag == "title" and self.title is not None:
            self.title_text, self.title = " ".join("".join(self.title).split()), None
        else:
            if tag == "pre" and self.pre:
                self._line()
                self.pre -= 1
            if tag in HEADING_TAGS and self.heading:
                self.heading -= 1
            self._block(tag)

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        data = data.replace(MARK, "")
        if self.title is not None:
            self.title.append(data)
            return
        data = data if self.pre else re.sub(r"\s+", " ", data)
        if self.heading and not self.marked:
            data, self.marked = mark_visible(data)
        self.pieces.append(data)

    def _block(self, tag: str) -> None:
        if tag in PARAGRAPH_TAGS:
            self._line()
            self.lines.append("")
        elif tag in LINE_TAGS:
            self._line()
        if tag == "tr":
            self.cells = 0

    def _line(self) -> None:
        text, self.pieces = "".join(self.pieces), []
        if self.pre:
            self.lines.extend(text.split("\n"))
        elif line := re.sub(r" {2,}", " ", text).strip():
            self.lines.append(line)

    def text(self) -> str:
        return self.extracted()[0]

    def extracted(self) -> tuple[str, tuple[tuple[int, str], ...]]:
        """The page's text and a ``section “Heading”`` place where each heading starts."""
        self.close()
        if self.title is not None:  # never closed: its text is the page's
            self.pieces, self.title = self.title, None
        self._line()
        head = [self.title_text, ""] if self.title_text else []
        return unmarked(tidy("\n".join(head + self.lines)))


def html_text(data: bytes) -> str:
    """The visible text of an HTML page: title first, one line per block, script/style/nav left out."""
    return html_extracted(data).text


def html_extracted(data: bytes) -> Extracted:
    """``html_text`` and the encoding the page was read in, sniffed as browsers do (``encoding.decode_html``)."""
    if b"\x00" in data[:SNIFF_BYTES] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ValueError("binary file")
    markup, encoding = decode_html(data)
    parser = _TextParser()
    try:
        parser.feed(markup)
        text, places = parser.extracted()
    except AssertionError as exc:  # html.parser asserts on some malformed markup ("<![foo")
        raise ValueError(f"malformed HTML ({exc})") from None
    if not text:
        raise ValueError("the page has no visible text")
    return Extracted(text, places=places, encoding=encoding)


# --- PDF -------------------------------------------------------------------------------------


def pdf_text(data: bytes, source: str = "the PDF") -> Extracted:
    """A PDF's reading text, page starts and OCR-read pages (``rag.documents.pdf.pdf_text``)."""
    from rag.documents.pdf import pdf_text as read_pdf  # imported here: pypdf loads only for a PDF

    return read_pdf(data, source)


# --- DOCX ------------------------------------------------------------------------------------


W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
# The names (``w:name``) Word gives its built-in heading styles, whatever the UI language: a localised
# Word writes style ids like ``berschrift1``, but the names stay English.
HEADING_STYLE_NAME = re.compile(r"heading [1-9]|title", re.IGNORECASE)
HEADING_STYLE_ID = re.compile(r"Heading[1-9]|Title")  # without a styles.xml, the ids English Word writes
MAX_STYLES_BYTES = 8 * 2**20  # word/styles.xml, uncompressed (a few hundred KB in real documents)
MAX_BASED_ON = 16  # links followed up a style's basedOn chain (a loop is damage, not a heading)


def _xml_events(stream: IO[bytes], part: str, max_bytes: int) -> Iterator[tuple[str, str, ElementTree.Element, str]]:
    """(event, local tag, element, parent's local tag) for each start and end of an XML part read as
    a stream: the decompressed bytes and the elements are counted as they come (never trusting the
    zip header), no tree is kept (an element is dropped once it ends), nesting costs no recursion."""
    parser = ElementTree.XMLPullParser(events=("start", "end"))
    open_elements: list[ElementTree.Element] = []
    size = count = 0
    while chunk := stream.read(1 << 20):
        size += len(chunk)
        if size > max_bytes:
            raise ValueError(f"{part} is over {max_bytes >> 20} MB uncompressed")
        parser.feed(chunk)
        for event, elem in parser.read_events():
            tag = elem.tag.rpartition("}")[2]
            if event == "start":
                count += 1
                if count > MAX_XML_ELEMENTS:
                    raise ValueError(f"{part} has over {MAX_XML_ELEMENTS:,} elements")
                parent = open_elements[-1].tag.rpartition("}")[2] if open_elements else ""
                open_elements.append(elem)
                yield event, tag, elem, parent
                continue
            open_elements.pop()
            yield event, tag, elem, open_elements[-1].tag.rpartition("}")[2] if open_elements else ""
            if open_elements:
                del open_elements[-1][-1]  # done with it: the tree never grows
    parser.close()


def _outline_heading(elem: ElementTree.Element) -> bool:
    """Whether a ``w:outlineLvl`` puts its paragraph (or style) in the outline: levels 0-8 are headings."""
    level = elem.get(f"{W}val", "9")
    return level.isdigit() and int(level) < 9


def _heading_styles(archive: zipfile.ZipFile) -> Callable[[str], bool]:
    """Which paragraph style ids are headings: named ``heading N``/``Title`` in word/styles.xml, in the
    outline (``w:outlineLvl``), or based on such a style. Without styles.xml, the English ids."""
    try:
        stream = archive.open("word/styles.xml")
    except KeyError:
        return lambda style: bool(HEADING_STYLE_ID.fullmatch(style))
    styles: dict[str, tuple[bool, str]] = {}  # id -> (a heading itself, the id it is based on)
    current = ""
    with stream:
        for event, tag, elem, parent in _xml_events(stream, "styles.xml", MAX_STYLES_BYTES):
            if event == "end":
                current = "" if tag == "style" else current
            elif tag == "style":
                current = elem.get(f"{W}styleId", "")
                styles[current] = (False, "")
            elif current and tag in ("name", "basedOn", "outlineLvl"):
                heading, based_on = styles[current]
                value = elem.get(f"{W}val", "")
                if tag == "name":
                    heading = heading or bool(HEADING_STYLE_NAME.fullmatch(value))
                elif tag == "basedOn":
                    based_on = value
                elif parent == "pPr":
                    heading = heading or _outline_heading(elem)
                styles[current] = (heading, based_on)
    headings = set()
    for style in styles:
        chain = style
        for _ in range(MAX_BASED_ON):
            heading, chain = styles.get(chain, (False, ""))
            if heading:
                headings.add(style)
            if heading or not chain:
                break
    return headings.__contains__


def _docx_pieces(stream: IO[bytes], is_heading: Callable[[str], bool]) -> list[str]:
    """Text of runs in document order, a paragraph break after each ``<w:p>``; a heading paragraph
    (its style is one, or it has an outline level) gets ``parts.MARK`` before its first visible
    character, for ``unmarked`` to place it after tidying."""
    pieces: list[str] = []
    paragraphs: list[tuple[int, bool]] = []  # open paragraphs: (their first piece, a heading)
    for event, tag, elem, parent in _xml_events(stream, "document.xml", MAX_XML_BYTES):
        if event == "start":
            if tag == "p":
                paragraphs.append((len(pieces), False))
            elif paragraphs and parent == "pPr" and tag in ("pStyle", "outlineLvl"):
                heading = is_heading(elem.get(f"{W}val", "")) if tag == "pStyle" else _outline_heading(elem)
                paragraphs[-1] = (paragraphs[-1][0], paragraphs[-1][1] or heading)
        elif tag == "t":
            pieces.append((elem.text or "").replace(MARK, ""))
        elif tag == "tab" and parent == "r":  # not the tab stops of paragraph properties
            pieces.append("\t")
        elif tag in ("br", "cr") and parent == "r":
            pieces.append("\n")
        elif tag == "p":
            first, heading = paragraphs.pop() if paragraphs else (len(pieces), False)
            if heading:
                _mark_first(pieces, first)
            pieces.append("\n\n")
    return pieces


def _mark_first(pieces: list[str], first: int) -> None:
    """Put ``parts.MARK`` before the first visible character of ``pieces[first:]``, if any."""
    for i in range(first, len(pieces)):
        pieces[i], marked = mark_visible(pieces[i])
        if marked:
            return


def docx_text(data: bytes) -> str:
    """The paragraphs of a Word document (word/document.xml), one per block, blank lines between."""
    return docx_extracted(data).text


def docx_extracted(data: bytes) -> Extracted:
    """``docx_text`` and a ``section “Heading”`` place where each heading paragraph starts."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            is_heading = _heading_styles(archive)
            with archive.open("word/document.xml") as stream:
                pieces = _docx_pieces(stream, is_heading)
    except (*DOCX_ERRORS, NotImplementedError, zlib.error) as exc:
        raise ValueError(f"not a readable .docx ({exc})") from None
    text, places = unmarked(tidy("".join(pieces)))
    if not text:
        raise ValueError("the document has no text")
    return Extracted(text, places=places)
