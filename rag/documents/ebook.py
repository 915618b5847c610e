"""E-books (.epub) as text, chapter by chapter in reading order, each cited by its chapter.

An EPUB is a zip of XHTML pages: META-INF/container.xml names the package file, whose spine gives
the reading order and whose table of contents (EPUB 3 nav, or EPUB 2 NCX) names the chapters. Each
page's visible text is read by the project's own HTML reader (``formats._TextParser``: the same
lines as an .html file), so ebooklib, which loads every part, images included, is not needed. Only
the parts read are decompressed, counted as they come, up to MAX_BOOK_BYTES in all.
"""

from __future__ import annotations

import codecs
import posixpath
import re
import urllib.parse
import zipfile
from xml.etree import ElementTree

from rag.documents.archive import Budget, open_archive
from rag.documents.formats import _TextParser
from rag.documents.parts import Parts
from rag.types import Extracted

KIND = ".epub"
MAX_BOOK_BYTES = 64 * 2**20  # the parts read (package, contents, chapters), uncompressed
MAX_META_BYTES = 4 * 2**20  # the container, package and contents files, each: they are parsed as trees
MAX_LABEL_CHARS = 80
PAGE_TYPES = {"application/xhtml+xml", "text/html"}
XML_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([\w.:-]+)["']""")


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


def short(text: str) -> str:
    """A title on one line, cut to MAX_LABEL_CHARS."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1].rstrip() + "…"


class _Book:
    """The parts of one .epub, read within one budget."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive, self.budget = archive, Budget(KIND, MAX_BOOK_BYTES)

    def read(self, path: str, limit: int | None = None) -> bytes:
        data = self.budget.read(self.archive, path)
        if data is None:
            raise ValueError(f"not a valid {KIND}: {path} is missing")
        if limit is not None and len(data) > limit:
            raise ValueError(f"{path} is over {limit >> 20} MB")
        return data

    def tree(self, path: str) -> ElementTree.Element:
        try:
            return ElementTree.fromstring(self.read(path, MAX_META_BYTES))
        except (ElementTree.ParseError, LookupError) as exc:
            raise ValueError(f"not a valid {KIND}: {path}: {exc}") from None


def href_path(base: str, href: str) -> str:
    """The archive path of ``href`` (percent-encoded, maybe with a #fragment) relative to file ``base``."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), urllib.parse.unquote(href.split("#")[0])))


def contents(book: _Book, root: ElementTree.Element, items: dict[str, tuple[str, str, str]]) -> dict:
    """Chapter titles by archive path, from the EPUB 3 nav or else the EPUB 2 NCX (first title of a file wins)."""
    titles: dict[str, str] = {}
    nav = next((href for href, _, props in items.values() if "nav" in props.split()), None)
    spine = next((e for e in root.iter() if local(e.tag) == "spine"), None)
    ncx = items.get(spine.get("toc", "") if spine is not None else "", ("", "", ""))[0]
    try:
        if nav:
            for a in book.tree(nav).iter():
                if local(a.tag) == "a" and a.get("href"):
                    titles.setdefault(href_path(nav, a.get("href", "")), short("".join(a.itertext())))
        elif ncx:
            for point in book.tree(ncx).iter():
                if local(point.tag) == "navPoint":
                    label = next((e for e in point.iter() if local(e.tag) == "text"), None)
                    src = next((e.get("src", "") for e in point if local(e.tag) == "content"), "")
                    if label is not None and src:
                        titles.setdefault(href_path(ncx, src), short(label.text or ""))
    except ValueError:
        return {}  # a broken or oversized table of contents costs the titles, not the book
    return {path: title for path, title in titles.items() if title}


def page_text(data: bytes, path: str) -> tuple[str, str]:
    """The visible text of one XHTML page and its <title>, left out of the text (often the book's)."""
    encoding = "utf-8"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif match := XML_ENCODING.match(data.removeprefix(codecs.BOM_UTF8)):
        encoding = match.group(1).decode("ascii")
    try:
        markup = data.decode(encoding).removeprefix("\ufeff")
    except (LookupError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a valid {KIND}: {path} is not {encoding} text ({type(exc).__name__})") from None
    parser = _TextParser()
    try:
        parser.feed(markup)
        parser.close()
        title, parser.title_text = parser.title_text, ""
        return parser.text(), title
    except AssertionError as exc:  # html.parser asserts on some malformed markup
        raise ValueError(f"not a valid {KIND}: {path}: malformed XHTML ({exc})") from None


def epub_text(data: bytes) -> Extracted:
    """The book's pages in spine order, a blank line between them; ``chapter N (title)`` where each
    starts, numbered among the pages that have text, titled by the table of contents or the page."""
    with open_archive(data, KIND) as archive:
        book = _Book(archive)
        rootfile = next((e for e in book.tree("META-INF/container.xml").iter() if local(e.tag) == "rootfile"), None)
        package = rootfile.get("full-path", "") if rootfile is not None else ""
        if not package:
            raise ValueError(f"not a valid {KIND}: its container names no package file")
        root = book.tree(package)
        items = {
            e.get("id", ""): (href_path(package, e.get("href", "")), e.get("media-type", ""), e.get("properties", ""))
            for e in root.iter()
            if local(e.tag) == "item"
        }
        titles = contents(book, root, items)
        parts, n = Parts("book"), 0
        for ref in (e for e in root.iter() if local(e.tag) == "itemref"):
            path, media, _ = items.get(ref.get("idref", ""), ("", "", ""))
            if media not in PAGE_TYPES:
                continue
            text, title = page_text(book.read(path), path)
            title = titles.get(path) or short(title)
            if parts.add(text, f"chapter {n + 1}" + (f" ({title})" if title else "")) is not None:
                n += 1
    return parts.extracted("the book has no text")
