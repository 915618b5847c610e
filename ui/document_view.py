"""The document view: a document's whole text, escaped, with exactly the cited ``start:end`` span
highlighted and scrolled into view; served by the app on ``/document``."""

from __future__ import annotations

import html
from collections.abc import Sequence

from rag.types import Extracted, Span
from ui.reply import digest

# --- the document view -----------------------------------------------------------------------

FONT_FAMILY = "Source Sans Pro"
FONT_FILES = {400: "Regular", 700: "Bold"}  # Gradio's own copies (static/fonts/SourceSansPro/): no fetch


def font_faces(prefix: str = "") -> str:
    """@font-face rules for every weight the pages use, served by the app itself."""
    return "".join(
        f"@font-face {{ font-family: '{FONT_FAMILY}'; font-weight: {weight}; font-style: normal; "
        f"src: url('{prefix}static/fonts/SourceSansPro/SourceSansPro-{name}.woff2') format('woff2'); }}\n"
        for weight, name in FONT_FILES.items()
    )


DOCUMENT_CSS = """
body { margin: 0; font-family: 'Source Sans Pro', sans-serif; color: #1f2937; background: #f9fafb; }
header { position: sticky; top: 0; background: #fff; border-bottom: 1px solid #e5e7eb; padding: 0.75rem 1.5rem; }
h1 { font-size: 1.25rem; margin: 0; font-weight: 700; overflow-wrap: anywhere; }
header p { margin: 0.25rem 0 0; color: #4b5563; }
#text { white-space: pre-wrap; overflow-wrap: anywhere; max-width: 48rem; margin: 1.5rem auto;
        padding: 0 1.5rem 60vh; line-height: 1.6; font-size: 1.05rem; }
mark { background: #fde68a; color: #000; font-weight: 700; border-radius: 3px; scroll-margin-top: 40vh; }
.page::before { content: "Page " attr(data-page); display: block; margin: 1.5rem 0 0.5rem; color: #6b7280;
                font-size: 0.85rem; border-top: 1px solid #e5e7eb; padding-top: 0.5rem; }
@media (prefers-color-scheme: dark) {  /* as the chat: Gradio follows the system's dark mode too */
  body { color: #e5e7eb; background: #0b0f19; }
  header { background: #111827; border-bottom-color: #374151; }
  header p { color: #d1d5db; }
  .page::before { color: #9ca3af; border-top-color: #374151; }
}
"""
DOCUMENT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; font-src 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def text_html(text: str) -> str:
    """``text`` escaped as HTML text whose content is ``text`` exactly (a CR survives as ``&#13;``)."""
    return html.escape(text, quote=False).replace("\r", "&#13;")


def document_body(text: str, pages: Sequence[int], span: Span | None) -> str:
    """The document's text as HTML: ``span`` in ``<mark id="span">`` and a marker at each page start
    outside it. The markers are drawn by CSS, so the text content is the document's text exactly."""
    tags = [
        (start, 1, f'<span class="page" data-page="{n}"></span>')
        for n, start in enumerate(pages, 1)
        if span is None or not span.start < start < span.end
    ]
    if span is not None:
        tags += [(span.start, 2, '<mark id="span">'), (span.end, 0 if len(span) else 3, "</mark>")]
    out, at = [], 0
    for position, _, tag in sorted(tags):
        out += [text_html(text[at:position]), tag]
        at = position
    out.append(text_html(text[at:]))
    return "".join(out)


def document_span(doc: Extracted, start: int | None, end: int | None, check: str | None) -> Span | None:
    """The span to highlight, if it is one of the document's and (given ``check``) still holds the cited text."""
    if start is None or end is None or not 0 <= start <= end <= len(doc.text):
        return None
    if check is not None and digest(doc.text[start:end]) != check:
        return None
    return Span(start, end)


def reading_note(doc: Extracted) -> str:
    """How the text was obtained, where a reader should know it: an encoding other than UTF-8 (a guessed
    one can be wrong), pages read by OCR (their text may have misreadings)."""
    notes = []
    if doc.encoding and doc.encoding != "UTF-8":
        notes.append(f"Read as {doc.encoding}.")
    if doc.ocr:
        pages = ", ".join(map(str, doc.ocr))
        notes.append(f"Page{'s' if len(doc.ocr) > 1 else ''} {pages} read by OCR (Tesseract): expect misreadings.")
    return " ".join(notes)


def document_page(source: str, doc: Extracted, span: Span | None, asked: bool = False) -> str:
    """The document view: the whole text (extracted text for html, pdf and docx), scrolled by the
    address's ``#span`` to the highlighted span; ``asked``: a span was asked for (and not found)."""
    if span is not None:
        location = doc.location_of(span.start)
        note = f"The highlighted text{'' if location is None else f' ({location})'} is what the answer cites."
    elif asked:
        note = "The document has changed since that answer: the cited text is no longer there."
    else:
        note = ""
    read = reading_note(doc)
    read_html = f'<p id="read">{html.escape(read)}</p>' if read else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(source)}</title><style>{font_faces()}{DOCUMENT_CSS}</style></head><body>"
        f'<header><h1>{html.escape(source)}</h1><p id="note">{html.escape(note)}</p>{read_html}</header>'
        f'<main id="text">{document_body(doc.text, doc.pages, span)}</main></body></html>'
    )


def problem_page(message: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Document not available</title>'
        f"<style>{font_faces()}{DOCUMENT_CSS}</style></head><body><header><h1>Document not available</h1>"
        f'<p id="note">{html.escape(message)}</p></header></body></html>'
    )
