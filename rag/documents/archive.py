"""Zip-based documents (.pptx, .xlsx, .epub, .odt) opened with bounds that hold whatever the zip claims.

A zip's header states each part's size, but a hostile file can lie, and a few KB can inflate to
gigabytes (a zip bomb) or to millions of XML elements that a library turns into a tree. So sizes are
counted while decompressing, never read from the header, and elements are counted by a streaming
parser that keeps nothing. Libraries that read every part themselves (python-pptx, openpyxl) get the
file only after ``check_archive`` has walked all of it; readers of our own take parts through a
``Budget``. Every failure is a ValueError with a one-line reason (``not a valid .pptx: ...``).
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable
from xml.parsers import expat

MAX_UNZIPPED_BYTES = 256 * 2**20  # all parts together, uncompressed (media included: the libraries load it)
MAX_MEMBERS = 10_000  # parts in one archive
MAX_ELEMENTS = 2_000_000  # XML elements in the parts a library parses into trees
BLOCK = 1 << 20
XML_STARTS = (b"<", b"\xef", b"\xff", b"\xfe")  # markup, or a UTF-8/UTF-16 byte-order mark
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, OSError, RuntimeError, KeyError)


def damaged(kind: str, exc: BaseException) -> ValueError:
    """The one-line refusal of a file that is not what its suffix says, or is broken."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ValueError(f"not a valid {kind}: {reason}")


def open_archive(data: bytes, kind: str) -> zipfile.ZipFile:
    """The zip in ``data``, refused if it is not one or holds too many parts."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (*ZIP_ERRORS, ValueError) as exc:
        raise damaged(kind, exc) from None
    if len(archive.infolist()) > MAX_MEMBERS:
        raise ValueError(f"{kind} has over {MAX_MEMBERS:,} parts")
    return archive


class Budget:
    """Uncompressed bytes read from one archive so far, against a limit for the whole file."""

    def __init__(self, kind: str, limit: int | None = None) -> None:
        self.kind, self.limit, self.used = kind, MAX_UNZIPPED_BYTES if limit is None else limit, 0

    def blocks(self, archive: zipfile.ZipFile, name: str) -> list[bytes] | None:
        """Every block of part ``name``, decompressed and counted as it comes; None if there is no such part."""
        try:
            info = archive.getinfo(name)
        except KeyError:
            return None
        out = []
        try:
            with archive.open(info) as stream:
                while block := stream.read(BLOCK):
                    self.count(len(block))
                    out.append(block)
        except (*ZIP_ERRORS, ValueError) as exc:
            if isinstance(exc, ValueError) and str(exc).startswith(self.kind):
                raise
            raise damaged(self.kind, exc) from None
        return out

    def read(self, archive: zipfile.ZipFile, name: str) -> bytes | None:
        """Part ``name`` whole, counted against the budget; None if there is no such part."""
        blocks = self.blocks(archive, name)
        return None if blocks is None else b"".join(blocks)

    def count(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            raise ValueError(f"{self.kind} is over {self.limit >> 20} MB uncompressed (a zip bomb?)")


def check_archive(data: bytes, kind: str, streamed: Callable[[str], bool] = lambda name: False) -> None:
    """Walk every part of the zip in ``data`` before a library opens it: at most MAX_UNZIPPED_BYTES
    uncompressed in all, and at most MAX_ELEMENTS elements in the XML parts, except those ``streamed``
    says the library reads as a stream (whose cost the caller bounds as it reads them)."""
    budget, elements = Budget(kind), [0]

    def start(name: str, attrs: object) -> None:  # expat calls this for each element; nothing is kept
        elements[0] += 1
        if elements[0] > MAX_ELEMENTS:
            raise ValueError(f"{kind} has over {MAX_ELEMENTS:,} XML elements")

    with open_archive(data, kind) as archive:
        for info in archive.infolist():
            if not info.is_dir():
                _walk(archive, info, budget, None if streamed(info.filename) else start)


def _walk(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget, start: Callable | None) -> None:
    """Decompress one part, counting its bytes and, when ``start`` is given and it is XML, its elements."""
    parser: expat.XMLParserType | None = None
    try:
        with archive.open(info) as stream:
            first = True
            while block := stream.read(BLOCK):
                budget.count(len(block))
                if first and start is not None and block.lstrip()[:1] in XML_STARTS:
                    parser = expat.ParserCreate()
                    parser.StartElementHandler = start
                first = False
                if parser is not None:
                    try:
                        parser.Parse(block, False)
                    except (expat.ExpatError, LookupError):  # LookupError: an unknown declared encoding
                        parser = None  # not well-formed: its library refuses it; its bytes are still counted
    except (*ZIP_ERRORS, ValueError) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith(budget.kind):
            raise
        raise damaged(budget.kind, exc) from None
