"""PDF text as a reader needs it, on PDFs built in the test: line-end hyphens joined, running headers,
footers and page numbers left out, numbered headings apart from the text before them, scanned pages
read by Tesseract OCR; and the cleaned text is the document's text, so answers slice it exactly and
cite the right page.

The OCR tests run the real ``tesseract`` command: without it they are skipped, except under CI (env CI
set), where they fail (``.ci/run`` installs Debian's tesseract-ocr)."""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import pypdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from rag.documents.folder import file_text
from rag.documents.formats import extract
from rag.documents.ocr import tesseract
from rag.documents.parts import PAGE_SEPARATOR
from rag.documents.pdf import clean_pages, page_ranges, pdf_text
from rag.index.store import Index
from rag.pipeline import Pipeline
from rag.settings import Settings
from ui.core import Assistant
from ui.document_view import document_page

from .builders import make_pdf

HEADER = "Port Elira Harbour Almanac"


def almanac_page(number: int, body: list[str]) -> list[str]:
    """A typeset page: running header, chapter line with the page number, body, footer; the first page
    has the title (the later pages' header) instead."""
    top = [HEADER] if number == 1 else [HEADER, f"Chapter 2: Lights and keepers {number + 40}"]
    return [*top, *body, f"Page {number} of 4"]


ALMANAC = [
    almanac_page(
        1, ["The harbour opened to ships in 1851.", "Its first keeper trained each appren-", "tice individually."]
    ),
    almanac_page(
        2,
        [
            "2.1 The lamp",
            "The lamp was designed by the engineer Magdalena Kowal-",
            "czyk in 1890. Kowalczyk also drew the pier. The lamp was refur-",
        ],
    ),
    almanac_page(
        3,
        [
            "bished in 1902 by the harbour board.",
            "Ships use the command-line signal or the command-",
            "line horn, which the pilot Ingrid Holm sounds.",
        ],
    ),
    almanac_page(4, ["Table of contents", "2.1 The lamp 2", "2.2 The pier 3", "The pier was opened in 1894."]),
]


def pages_of(extracted) -> list[str]:
    bounds = [*extracted.pages[1:], len(extracted.text) + len(PAGE_SEPARATOR)]
    return [extracted.text[a : b - len(PAGE_SEPARATOR)] for a, b in zip(extracted.pages, bounds)]


# --- the cleanup -------------------------------------------------------------------------------


def test_running_headers_footers_and_page_numbers_are_left_out():
    extracted = pdf_text(make_pdf(ALMANAC))
    pages = pages_of(extracted)
    assert pages[0].startswith(f"{HEADER}\nThe harbour opened")  # the title page keeps its title
    assert all(HEADER not in page and "Chapter 2: Lights" not in page for page in pages[1:])
    assert "of 4" not in extracted.text and pages[3].endswith("The pier was opened in 1894.")
    assert extracted.page_of(extracted.text.index("Magdalena")) == 2
    assert extracted.page_of(extracted.text.index("The pier was opened")) == 4
    assert extract("almanac.PDF", make_pdf(ALMANAC)) == extracted  # deterministic


def test_a_word_hyphenated_at_a_line_end_is_joined_and_compounds_keep_their_hyphen():
    text = pdf_text(make_pdf(ALMANAC)).text
    assert "each apprentice\nindividually." in text  # the word moves up; the line count stays
    assert "Magdalena Kowalczyk\nin 1890." in text  # the document spells it whole elsewhere
    assert "command-line\nhorn, which" in text  # and "command-line" with its hyphen
    assert "-\n" not in text


def test_a_word_hyphenated_across_a_page_is_cited_on_the_page_where_it_starts():
    extracted = pdf_text(make_pdf(ALMANAC))
    pages = pages_of(extracted)
    assert pages[1].endswith("The lamp was refurbished") and pages[2].startswith("in 1902 by the harbour board.")
    assert extracted.page_of(extracted.text.index("refurbished")) == 2


def test_a_numbered_heading_starts_a_paragraph_but_a_contents_line_does_not():
    extracted = pdf_text(make_pdf(ALMANAC))
    page2, page4 = pages_of(extracted)[1], pages_of(extracted)[3]
    assert page2.startswith("2.1 The lamp\nThe lamp was designed")  # its line break kept
    assert "Table of contents\n2.1 The lamp 2\n2.2 The pier 3\nThe pier" in page4
    assert clean_pages(["The harbour opened in 1851.\n3.1 Invoking the bell\nRing it twice."]) == [
        "The harbour opened in 1851.\n\n3.1 Invoking the bell\nRing it twice."
    ]


def test_lines_that_merely_start_several_pages_are_kept():
    """A label like "Possible return values:" at the top of several pages is text, not a running header."""
    pages = [["Possible return values:", f"BZ_OK for call {i}", "More text about the call."] for i in range(5)]
    assert all(page.startswith("Possible return values:") for page in clean_pages(["\n".join(p) for p in pages]))


def test_page_ranges():
    assert page_ranges([7, 1, 2, 3, 9, 10]) == "1-3, 7, 9-10"


# --- the cleaned text is the document's text ----------------------------------------------------


@pytest.fixture(scope="module")
def almanac(tmp_path_factory, embedder) -> Pipeline:
    root = tmp_path_factory.mktemp("almanac")
    docs = root / "docs"
    docs.mkdir()
    (docs / "almanac.pdf").write_bytes(make_pdf(ALMANAC))
    pipe = Pipeline(Settings(docs=docs, index=root / "index"), embedder=embedder, log=io.StringIO())
    pipe.refresh()
    return pipe


@pytest.mark.parametrize(
    "question, answer, page",
    [
        ("Who designed the lamp?", "Magdalena Kowalczyk", 2),
        ("Who sounds the horn?", "Ingrid Holm", 3),
    ],
)
def test_answers_slice_the_cleaned_text_and_cite_the_right_page(almanac: Pipeline, question, answer, page):
    result = almanac.ask(question)
    assert result.answer is not None and answer in result.answer.text and result.answer.page == page
    index = Index.load(almanac.index_dir)
    shown = Assistant(almanac).document("almanac.pdf")  # what the document view shows
    assert index.kept_text("almanac.pdf") == file_text(almanac.docs_dir, "almanac.pdf") == shown.text
    for item in (result.answer, *result.passages):
        assert shown.text[item.start : item.end] == item.text
        assert "Chapter 2: Lights" not in item.text and "Page " not in item.text
    assert shown.page_of(result.answer.start) == page


# --- scanned pages: Tesseract OCR ---------------------------------------------------------------

LEASE = [
    ["Lease agreement", "", "The tenant of the Alder Street flat is", "Marguerite Okonkwo, who pays the rent monthly."],
    ["The deposit is held by the Kellerman Trust", "until the lease ends in 2031."],
]


def scanned_pdf(pages: list[list[str]]) -> bytes:
    """A PDF with no text layer: each page an image of its lines (Pillow's own font), as a scanner makes."""
    font = ImageFont.load_default(size=34)
    images = []
    for lines in pages:
        image = Image.new("L", (1275, 1650), 255)  # US Letter at 150 dpi
        draw = ImageDraw.Draw(image)
        for i, line in enumerate(lines):
            draw.text((120, 150 + 52 * i), line, font=font, fill=0)
        images.append(image)
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=150.0, save_all=True, append_images=images[1:])
    return out.getvalue()


def mixed_pdf() -> bytes:
    """Page 1 typeset (a text layer), page 2 scanned (an image only)."""
    writer = pypdf.PdfWriter()
    writer.append(pypdf.PdfReader(io.BytesIO(make_pdf([["The harbour opened to ships in 1851."]]))))
    writer.append(pypdf.PdfReader(io.BytesIO(scanned_pdf(LEASE[1:]))))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture
def with_tesseract() -> None:
    if tesseract() is None:
        why = "tesseract is not installed (Debian: apt-get install tesseract-ocr)"
        if os.environ.get("CI"):
            pytest.fail(f"{why}; CI must run the OCR tests")
        pytest.skip(why)


def test_a_scanned_pdf_has_no_text_layer():
    data = scanned_pdf(LEASE)
    assert all(not (page.extract_text() or "").strip() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_scanned_pages_are_read_by_ocr(with_tesseract):
    extracted = pdf_text(scanned_pdf(LEASE))
    assert extracted.ocr == (1, 2) and len(extracted.pages) == 2
    assert "Marguerite Okonkwo" in extracted.text and "Kellerman" in extracted.text
    assert extracted.page_of(extracted.text.index("Kellerman")) == 2
    assert pdf_text(scanned_pdf(LEASE)) == extracted  # the same bytes, the same text (kept by hash)
    mixed = pdf_text(mixed_pdf())
    assert mixed.ocr == (2,) and mixed.text.startswith("The harbour opened to ships in 1851.\n\nThe deposit")


def test_a_scanned_pdf_is_indexed_and_answered_with_its_page(with_tesseract, tmp_path: Path, embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lease.pdf").write_bytes(scanned_pdf(LEASE))
    pipe = Pipeline(Settings(docs=docs, index=tmp_path / "index"), embedder=embedder, log=io.StringIO())
    report = pipe.refresh()
    assert report is not None and not report.skipped
    shown = Assistant(pipe).document("lease.pdf")
    for question, answer, page in [
        ("Who is the tenant of the Alder Street flat?", "Marguerite Okonkwo", 1),
        ("Who holds the deposit?", "Kellerman", 2),
    ]:
        result = pipe.ask(question)
        assert result.answer is not None and answer in result.answer.text and result.answer.page == page
        for item in (result.answer, *result.passages):
            assert shown.text[item.start : item.end] == item.text == file_text(docs, "lease.pdf")[item.start : item.end]
    assert Index.load(pipe.index_dir).texts["lease.pdf"].ocr == (1, 2)
    assert "Pages 1, 2 read by OCR (Tesseract)" in document_page("lease.pdf", shown, None)


def test_without_tesseract_one_line_says_which_pages_were_not_read(monkeypatch, caplog):
    monkeypatch.setenv("RAG_TESSERACT", "no-such-tesseract")  # as on a machine without it
    with caplog.at_level(logging.WARNING, logger="rag.documents.pdf"):
        extracted = pdf_text(mixed_pdf(), "contract.pdf")
        pdf_text(mixed_pdf(), "contract.pdf")  # extracted again (a citation check): said once
    assert extracted.text == "The harbour opened to ships in 1851.\n\n" and len(extracted.pages) == 2
    assert extracted.ocr == ()
    [line] = [r.getMessage() for r in caplog.records]
    assert "contract.pdf: page 2 has no text layer" in line and "apt-get install tesseract-ocr" in line
    assert "\n" not in line
    with pytest.raises(ValueError, match=r"no text layer \(a scan\?\); install Tesseract OCR to read it"):
        pdf_text(scanned_pdf(LEASE))


def test_a_blank_page_needs_no_ocr_and_no_warning(monkeypatch, caplog):
    monkeypatch.setenv("RAG_TESSERACT", "no-such-tesseract")
    with caplog.at_level(logging.WARNING, logger="rag.documents.pdf"):
        extracted = pdf_text(make_pdf([["Page one."], [], ["Page three."]]), "blank.pdf")
    assert extracted.text == "Page one.\n\n\n\nPage three." and not caplog.records
    with pytest.raises(ValueError, match="no extractable text"):
        pdf_text(make_pdf([[], []]))
