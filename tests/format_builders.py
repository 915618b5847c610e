"""Real .pptx, .xlsx, .csv, .epub, .odt and .eml files built in memory, so no binary fixture is committed.

python-pptx and openpyxl write their own formats; the e-book and the OpenDocument file are written
as zip + XML by hand, the way their specifications lay them out; the e-mail by the standard library.
"""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage
from xml.sax.saxutils import escape

ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
ODF_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
ODF_MANIFEST = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"


def make_pptx(slides: list[tuple[str, list[str], str | None]], extra: dict[str, bytes] | None = None) -> bytes:
    """A deck with one title-and-content slide per (title, body lines, notes or None); an empty title
    and body make a blank slide. ``extra`` parts are added to the zip as they are."""
    from pptx import Presentation

    deck = Presentation()
    for title, body, notes in slides:
        if not title and not body:
            slide = deck.slides.add_slide(deck.slide_layouts[6])
        else:
            slide = deck.slides.add_slide(deck.slide_layouts[1])
            slide.shapes.title.text = title
            slide.placeholders[1].text = "\n".join(body)
        if notes is not None:
            slide.notes_slide.notes_text_frame.text = notes
    out = io.BytesIO()
    deck.save(out)
    return with_parts(out.getvalue(), extra or {})


def with_parts(data: bytes, extra: dict[str, bytes]) -> bytes:
    """The zip ``data`` with more parts added."""
    if not extra:
        return data
    out = io.BytesIO(data)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as archive:
        for name, content in extra.items():
            archive.writestr(name, content)
    return out.getvalue()


def make_xlsx(sheets: dict[str, list[list[object]]]) -> bytes:
    """A workbook with one sheet per name, its rows from row 1 (None leaves a cell empty)."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def make_epub(chapters: list[tuple[str, list[str]]], title: str = "A Book") -> bytes:
    """An EPUB 3 book: one XHTML page per (chapter title, paragraphs), a nav table of contents naming
    them, a cover image that is never read, and file names that need percent-encoding."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
        )
        items = "".join(
            f'<item id="c{i}" href="text/ch%20{i}.xhtml" media-type="application/xhtml+xml"/>'
            for i in range(len(chapters))
        )
        spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
        z.writestr(
            "OEBPS/content.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            f'<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{escape(title)}</dc:title></metadata>'
            '<manifest><item id="nav" href="nav.xhtml" properties="nav" media-type="application/xhtml+xml"/>'
            f'<item id="cover" href="cover.png" media-type="image/png"/>{items}</manifest>'
            f"<spine>{spine}</spine></package>",
        )
        links = "".join(f'<li><a href="text/ch%20{i}.xhtml">{escape(t)}</a></li>' for i, (t, _) in enumerate(chapters))
        z.writestr(
            "OEBPS/nav.xhtml",
            '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">'
            f'<body><nav epub:type="toc"><ol>{links}</ol></nav></body></html>',
        )
        z.writestr("OEBPS/cover.png", b"\x89PNG\r\n\x1a\n" + bytes(64))
        for i, (heading, paragraphs) in enumerate(chapters):
            body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
            z.writestr(
                f"OEBPS/text/ch {i}.xhtml",
                '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
                f"<head><title>{escape(title)}</title></head><body><h1>{escape(heading)}</h1>{body}</body></html>",
            )
    return out.getvalue()


def odt_content(blocks: list[tuple[str, str]]) -> str:
    """content.xml with one ``<text:h>`` (kind "h") or ``<text:p>`` (kind "p") per block; the middle
    word of each is a ``<text:span>`` and a double space is written as ``<text:s/>``, as writers do."""
    body = []
    for kind, text in blocks:
        words = escape(text).split(" ")
        filled = [i for i, word in enumerate(words) if word]
        if filled:
            middle = filled[len(filled) // 2]
            words[middle] = f"<text:span>{words[middle]}</text:span>"
        inner = " ".join(words).replace("  ", " <text:s/>")
        tag = "text:h text:outline-level='1'" if kind == "h" else "text:p"
        body.append(f"<{tag}>{inner}</{tag.split()[0]}>")
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="{ODF_OFFICE}" '
        f'xmlns:text="{ODF_TEXT}"><office:body><office:text>{"".join(body)}</office:text></office:body>'
        "</office:document-content>"
    )


def make_odt(blocks: list[tuple[str, str]], content: str | None = None) -> bytes:
    """An OpenDocument text file of ``blocks`` (see ``odt_content``), or of the given content.xml."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.text", compress_type=zipfile.ZIP_STORED)
        z.writestr("content.xml", odt_content(blocks) if content is None else content)
        entry = '<manifest:file-entry manifest:full-path="{}" manifest:media-type="{}"/>'
        z.writestr(
            "META-INF/manifest.xml",
            f'<?xml version="1.0"?><manifest:manifest xmlns:manifest="{ODF_MANIFEST}">'
            + entry.format("/", "application/vnd.oasis.opendocument.text")
            + entry.format("content.xml", "text/xml")
            + "</manifest:manifest>",
        )
    return out.getvalue()


def make_eml(headers: dict[str, str], plain: str | None, html: str | None = None) -> bytes:
    """A message with the given headers and a plain and/or HTML body, plus an attachment never read."""
    message = EmailMessage()
    for name, value in headers.items():
        message[name] = value
    if plain is not None:
        message.set_content(plain)
        if html is not None:
            message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")
    message.add_attachment(b"%PDF-1.4 attached, never read", maintype="application", subtype="pdf", filename="a.pdf")
    return message.as_bytes()
