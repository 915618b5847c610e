"""Turning a file's bytes into the text every offset of it refers to, by file kind.

.txt and .md are decoded exactly as stored, so offsets index the file itself. .html/.htm, .pdf
and .docx are *extracted* into clean, readable text; offsets index that text, which the index
keeps (``Index.text_of``). Extraction is deterministic (same bytes, same text), so
``text_of(docs, source)`` can always re-extract it to check a citation.
Anything that cannot be read raises ValueError with a reason the user can act on.
"""

from __future__ import annotations

import codecs
import importlib
import io
import logging
import re
import zipfile
import zlib
from html.parser import HTMLParser
from pathlib import Path, PurePath
from typing import IO
from xml.etree import ElementTree

from rag.types import Extracted

PLAIN_SUFFIXES = (".txt", ".md")
# Formats read by a module of their own: suffix -> (module of rag.documents, its function of bytes -> Extracted).
# Imported on first use, so python-pptx and openpyxl load only when such a file is read.
READERS = {
    ".odt": ("opendocument", "odt_text"),
    ".pptx": ("office", "pptx_text"),
    ".xlsx": ("sheets", "xlsx_text"),
    ".csv": ("sheets", "csv_text"),
    ".epub": ("ebook", "epub_text"),
    ".eml": ("mail", "eml_text"),
}
# Every kind the indexer reads: the one list the folder scan, the CLI's help and the chat's upload use.
DOC_SUFFIXES = (*PLAIN_SUFFIXES, ".html", ".htm", ".pdf", ".docx", *READERS)
PAGE_SEPARATOR = "\n\n"  # between PDF pages; a blank line, so no chunk straddles two pages
MAX_XML_BYTES = 64 * 2**20  # a .docx's document.xml, uncompressed, counted while reading: zip bombs
MAX_XML_ELEMENTS = 2_000_000  # elements in it (31 million empty paragraphs fit in 271 KB zipped)
DOCX_ERRORS = (zipfile.BadZipFile, KeyError, ElementTree.ParseError, ValueError, OSError, RuntimeError, EOFError)

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)


def suffix_of(source: str) -> str:
    return PurePath(source).suffix.lower()


def is_plain(source: str) -> bool:
    """True for files whose text is the file itself (.txt, .md), False for extracted formats."""
    return suffix_of(source) in PLAIN_SUFFIXES


def decode(data: bytes) -> str:
    """Decode a file's bytes as UTF-8 text (or UTF-16, when it starts with a UTF-16 byte-order mark),
    refusing binary data (NUL bytes) and other encodings."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ValueError(f"not valid UTF-16 (byte {exc.start})") from None
    if b"\x00" in data[:8192]:
        raise ValueError("binary file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 (byte {exc.start})") from None


def check_utf8_file(path: Path, block: int = 1 << 20) -> bool:
    """Whether ``path`` reads as ``decode`` would read it, as UTF-8, checked a block at a time (no whole
    copy of a large file in memory). False for a UTF-16 file (decoded whole); ValueError, with the reason
    ``decode`` gives, for binary or non-UTF-8 data."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    with open(path, "rb") as f:
        data = f.read(block)
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return False
        if b"\x00" in data[:8192]:
            raise ValueError("binary file")
        consumed = 0
        while True:
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                raise ValueError(f"not UTF-8 (byte {consumed - pending + exc.start})") from None
            if not data:
                return True
            consumed += len(data)
            data = f.read(block)


def extract(source: str, data: bytes) -> Extracted:
    """The text of a file named ``source`` (only its suffix matters), and its page starts for PDFs."""
    suffix = suffix_of(source)
    if suffix in READERS:
        module, function = READERS[suffix]
        return getattr(importlib.import_module(f"rag.documents.{module}"), function)(data)
    if suffix in (".html", ".htm"):
        return Extracted(html_text(data))
    if suffix == ".pdf":
        return pdf_text(data)
    if suffix == ".docx":
        return Extracted(docx_text(data))
    return Extracted(decode(data))


def tidy(text: str) -> str:
    """Unix newlines, no control characters or trailing spaces, at most one blank line in a row."""
    text = CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


# --- HTML ------------------------------------------------------------------------------------

SKIPPED_TAGS = {"script", "style", "noscript", "template", "svg", "nav"}  # nav: menus are page chrome
PARAGRAPH_TAGS = {
    *(f"h{i}" for i in range(1, 7)),
    *("p", "blockquote", "pre", "table", "ul", "ol", "dl", "hr", "figure", "form", "fieldset", "details"),
    *("section", "article", "header", "footer", "main", "aside", "address"),
}
LINE_TAGS = {"br", "div", "li", "tr", "dt", "dd", "caption", "figcaption", "summary", "legend", "option"}
CELL_TAGS = {"td", "th"}
CELL_SEPARATOR = " | "


def html_encoding(data: bytes) -> str:
    """UTF-8 (BOM honoured) unless a ``<meta charset>`` names another codec Python knows."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    match = META_CHARSET.search(data[:4096])
    if not match:
        return "utf-8"
    try:
        name = codecs.lookup(match.group(1).decode("ascii")).name
        "".encode(name)  # LookupError for codecs that are not text encodings (base64, rot13...)
    except (LookupError, UnicodeDecodeError):
        return "utf-8"
    if name in ("iso8859-1", "ascii"):
        return "cp1252"  # what browsers decode these labels as (WHATWG Encoding)
    return "utf-8" if name.startswith(("utf-16", "utf-32")) else name


class _TextParser(HTMLParser):
    """Collects the visible text of a page as lines; "" marks a paragraph break."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.pieces: list[str] = []
        self.title: list[str] | None = None
        self.title_text = ""
        self.skipping: tuple[str, int] | None = None  # (tag, nesting depth)
        self.pre = 0
        self.cells = 0

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
            self._block(tag)

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        if self.title is not None:
            self.title.append(data)
        else:
            self.pieces.append(data if self.pre else re.sub(r"\s+", " ", data))

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
        self.close()
        if self.title is not None:  # never closed: its text is the page's
            self.pieces, self.title = self.title, None
        self._line()
        head = [self.title_text, ""] if self.title_text else []
        return tidy("\n".join(head + self.lines))


def html_text(data: bytes) -> str:
    """The visible text of an HTML page: title first, one line per block, script/style/nav left out."""
    if b"\x00" in data[:8192]:
        raise ValueError("binary file")
    encoding = html_encoding(data)
    try:
        markup = data.decode(encoding)
    except UnicodeDecodeError as exc:
        label = "UTF-8" if encoding.startswith("utf-8") else encoding
        raise ValueError(f"not {label} (byte {exc.start}); save it as UTF-8 or declare its <meta charset>") from None
    parser = _TextParser()
    try:
        parser.feed(markup)
        text = parser.text()
    except AssertionError as exc:  # html.parser asserts on some malformed markup ("<![foo")
        raise ValueError(f"malformed HTML ({exc})") from None
    if not text:
        raise ValueError("the page has no visible text")
    return text


# --- PDF -------------------------------------------------------------------------------------


def pdf_text(data: bytes) -> Extracted:
    """Each page's text via pypdf, pages joined by PAGE_SEPARATOR, with the offset where each starts."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    # pypdf logs every repairable flaw of a file; only failures matter here, and they raise.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        pages = [tidy(page.extract_text() or "") for page in PdfReader(io.BytesIO(data)).pages]
    except FileNotDecryptedError:
        raise ValueError("encrypted PDF (it needs a password)") from None
    except Exception as exc:  # pypdf raises many kinds of errors on damaged files
        raise ValueError(f"not a readable PDF ({type(exc).__name__}: {exc})") from None
    starts, offset = [], 0
    for page in pages:
        starts.append(offset)
        offset += len(page) + len(PAGE_SEPARATOR)
    text = PAGE_SEPARATOR.join(pages)
    if not text.strip():
        raise ValueError("the PDF has no extractable text (scanned images?)")
    return Extracted(text, tuple(starts))


# --- DOCX ------------------------------------------------------------------------------------


def _docx_pieces(stream: IO[bytes]) -> list[str]:
    """Text of runs in document order, a paragraph break after each ``<w:p>``, read as a stream:
    the decompressed bytes and the elements are counted as they come (never trusting the zip
    header), no tree is kept, and nesting depth costs no recursion."""
    parser = ElementTree.XMLPullParser(events=("start", "end"))
    open_elements: list[ElementTree.Element] = []
    pieces: list[str] = []
    size = count = 0
    while chunk := stream.read(1 << 20):
        size += len(chunk)
        if size > MAX_XML_BYTES:
            raise ValueError(f"document.xml is over {MAX_XML_BYTES >> 20} MB uncompressed")
        parser.feed(chunk)
        for event, elem in parser.read_events():
            if event == "start":
                count += 1
                if count > MAX_XML_ELEMENTS:
                    raise ValueError(f"document.xml has over {MAX_XML_ELEMENTS:,} elements")
                open_elements.append(elem)
                continue
            open_elements.pop()
            tag = elem.tag.rpartition("}")[2]
            parent = open_elements[-1].tag.rpartition("}")[2] if open_elements else ""
            if tag == "t":
                pieces.append(elem.text or "")
            elif tag == "tab" and parent == "r":  # not the tab stops of paragraph properties
                pieces.append("\t")
            elif tag in ("br", "cr") and parent == "r":
                pieces.append("\n")
            elif tag == "p":
                pieces.append("\n\n")
            if open_elements:
                del open_elements[-1][-1]  # done with it: the tree never grows
    parser.close()
    return pieces


def docx_text(data: bytes) -> str:
    """The paragraphs of a Word document (word/document.xml), one per block, blank lines between."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open("word/document.xml") as stream:
            pieces = _docx_pieces(stream)
    except (*DOCX_ERRORS, NotImplementedError, zlib.error) as exc:
        raise ValueError(f"not a readable .docx ({exc})") from None
    text = tidy("".join(pieces))
    if not text:
        raise ValueError("the document has no text")
    return text
