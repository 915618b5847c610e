"""HTML, PDF and .docx documents: clean extracted text, page citations, exact offsets, incremental updates."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pypdf
import pytest

from rag.commands.ask import format_human
from rag.commands.ask import main as ask_main
from rag.documents.folder import content_spans, file_text
from rag.documents.formats import docx_text, extract, html_text, pdf_text
from rag.documents.parts import PAGE_SEPARATOR
from rag.errors import IndexUnusable
from rag.index.build import update_index
from rag.index.store import Index
from rag.pipeline import Pipeline
from rag.settings import Settings

from .builders import make_docx, make_pdf

PAGE = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Mango   Farms &amp; Co</title>
<style>p { color: red }</style><script>var hidden = "<p>Script text</p>";</script></head>
<body><nav><ul><li><a href="/">Home</a></li><li><a href="/p">Pricing plans</a></li></ul></nav>
<h1>The mango&nbsp;harvest</h1>
<p>The Zanzibar mango   harvest is led by <b>Amina Juma</b> every March.<br>Prices are &lt;&euro;2&gt; a kilo.</p>
<table><tr><th>Farm</th><th>Acres</th></tr><tr><td>Kizimbani</td><td>40</td></tr></table>
<noscript>Enable JavaScript</noscript><template><p>Template text</p></template><svg><text>Logo</text></svg>
<footer><a href="#">Back to top</a></footer></body></html>
"""
PDF_PAGES = [
    ["Harbour records of Port Elira.", "The harbour opened to ships in 1851."],
    ["The Port Elira lighthouse was designed by Tomasz Wren in 1890.", "Its lamp burns whale oil."],
    ["Appendix: tide tables and ferry times."],
]
DOCX_PARAGRAPHS = ["Bridge notes.", "The Kestrel bridge was painted by Ingrid Holm in 1962.", "It is 40 metres long."]


def write_docs(docs: Path) -> None:
    docs.mkdir()
    (docs / "farms.html").write_bytes(PAGE)
    (docs / "harbour.pdf").write_bytes(make_pdf(PDF_PAGES))
    (docs / "bridge.docx").write_bytes(make_docx(DOCX_PARAGRAPHS))
    (docs / "notes.txt").write_text("Kiwis are brown and grow in New Zealand.\n", encoding="utf-8")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage")
    (docs / "latin.html").write_bytes("<p>Beyoncé sang.</p>".encode("latin-1"))  # read: windows-1252


def check_offsets(docs: Path, items) -> None:
    for item in items:
        assert file_text(docs, item.source)[item.start : item.end] == item.text


# --- extraction ----------------------------------------------------------------------------


def test_html_gives_the_visible_text_only_in_readable_lines():
    text = html_text(PAGE)
    assert text.splitlines() == [
        "Mango Farms & Co",
        "",
        "The mango harvest",
        "",
        "The Zanzibar mango harvest is led by Amina Juma every March.",
        "Prices are <€2> a kilo.",
        "",
        "Farm | Acres",
        "Kizimbani | 40",
        "",
        "Back to top",
    ]
    for hidden in ("color", "Script text", "Home", "Pricing", "JavaScript", "Template", "Logo"):
        assert hidden not in text


def test_html_chrome_is_not_content_and_pre_keeps_its_layout():
    text = html_text(PAGE)
    content = "\n".join(text[s.start : s.end] for s in content_spans(text))
    assert "Amina Juma" in content and "Back to top" not in content
    code = html_text(b"<p>Code:</p><pre>x  = 1\n    y = 2</pre><p>After</p>")
    assert code.splitlines() == ["Code:", "", "x  = 1", "    y = 2", "", "After"]


def test_html_encodings():
    assert html_text("\ufeff<p>naïve</p>".encode()) == "naïve"
    assert html_text('<meta charset="windows-1252"><p>café “x”</p>'.encode("cp1252")) == "café “x”"
    assert html_text("<p>café</p>".encode("latin-1")) == "café"  # no charset: the detector (test_encodings.py)
    with pytest.raises(ValueError, match="binary"):
        html_text(b"<p>\x00\x01</p>")
    with pytest.raises(ValueError, match="no visible text"):
        html_text(b"<script>x()</script>")


def test_pdf_pages_are_joined_and_their_starts_kept():
    extracted = pdf_text(make_pdf(PDF_PAGES))
    pages = extracted.text.split(PAGE_SEPARATOR)
    assert pages == ["\n".join(lines) for lines in PDF_PAGES]
    assert extracted.pages == (0, len(pages[0]) + 2, len(pages[0]) + len(pages[1]) + 4)
    where = extracted.text.index("Tomasz Wren")
    assert extracted.page_of(where) == 2 and extracted.page_of(0) == 1 and extracted.page_of(len(extracted.text)) == 3
    assert extract("x.PDF", make_pdf(PDF_PAGES)) == extracted  # deterministic, suffix in any case


def test_bad_pdfs_raise_a_clear_value_error():
    with pytest.raises(ValueError, match="not a readable PDF"):
        pdf_text(b"%PDF-1.7 nothing else")
    with pytest.raises(ValueError, match="no extractable text"):
        pdf_text(make_pdf([[], []]))
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(make_pdf(PDF_PAGES)))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    locked = io.BytesIO()
    writer.write(locked)
    with pytest.raises(ValueError, match="encrypted"):
        pdf_text(locked.getvalue())


@pytest.mark.parametrize("algorithm", ["AES-128", "AES-256"])
def test_an_aes_encrypted_pdf_is_read_when_it_opens_without_a_password_and_refused_as_encrypted_when_not(algorithm):
    for user_password, locked in (("", False), ("secret", True)):
        writer = pypdf.PdfWriter(clone_from=io.BytesIO(make_pdf(PDF_PAGES)))
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm)
        data = io.BytesIO()
        writer.write(data)
        if locked:
            with pytest.raises(ValueError, match=r"^encrypted PDF"):
                pdf_text(data.getvalue())
        else:
            assert pdf_text(data.getvalue()).text.strip()


def test_docx_paragraphs_are_extracted():
    assert docx_text(make_docx(DOCX_PARAGRAPHS)) == "\n\n".join(DOCX_PARAGRAPHS)
    with pytest.raises(ValueError, match="not a readable .docx"):
        docx_text(b"PK\x03\x04 not really a zip")


def test_the_index_skips_unreadable_files_and_keeps_the_rest(tmp_path: Path, embedder, capsys):
    docs = tmp_path / "docs"
    write_docs(docs)
    index, report = update_index(docs, tmp_path / "index", embedder)
    read = {source for source, entry in index.manifest["files"].items() if not entry["skipped"]}
    assert read == {"farms.html", "harbour.pdf", "bridge.docx", "notes.txt", "latin.html"}
    assert set(report.skipped) == {"broken.pdf"}
    err = capsys.readouterr().err
    assert "broken.pdf: not a readable PDF" in err and "latin.html" not in err
    pdf = index.texts["harbour.pdf"]
    assert pdf.pages and pdf.page_of(pdf.text.index("lighthouse")) == 2
    assert all(index.page_of(source, 0) is None for source in read - {"harbour.pdf"})


# --- the pipeline over every format ----------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, embedder):
    """A docs folder of every format (two of them broken) and a pipeline over it, indexed once."""
    root = tmp_path_factory.mktemp("formats")
    docs = root / "docs"
    write_docs(docs)
    pipe = Pipeline(Settings(docs=docs, index=root / "index"), embedder=embedder, log=io.StringIO())
    report = pipe.refresh()
    assert report is not None and set(report.skipped) == {"broken.pdf"}
    return pipe


@pytest.mark.parametrize(
    "question, answer, source, page",
    [
        ("Who leads the Zanzibar mango harvest?", "Amina Juma", "farms.html", None),
        ("Who designed the Port Elira lighthouse?", "Tomasz Wren", "harbour.pdf", 2),
        ("Who painted the Kestrel bridge?", "Ingrid Holm", "bridge.docx", None),
    ],
)
def test_each_format_is_answerable_with_exact_offsets_and_pages(corpus, question, answer, source, page):
    result = corpus.ask(question)
    assert result.answer is not None
    assert (result.answer.text, result.answer.source, result.answer.page) == (answer, source, page)
    check_offsets(corpus.docs_dir, [result.answer, *result.passages])
    assert result.answer.passage is not None and result.answer.passage.page == page
    assert all((p.page is not None) == (p.source == "harbour.pdf") for p in result.passages)
    payload = result.to_dict()
    assert payload["answer"]["page"] == page and all("page" in p for p in payload["passages"])
    if page:
        assert f"{source}, page {page}, characters" in format_human(result)


def test_ask_json_carries_the_page(corpus, capsys):
    argv = ["--docs", str(corpus.docs_dir), "--index", str(corpus.index_dir), "--json"]
    assert ask_main([*argv, "Who designed the Port Elira lighthouse?"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["answer"]["page"] == 2 and payload["answer"]["text"] == "Tomasz Wren"


def test_index_keeps_the_extracted_texts_and_no_chunk_straddles_pages(corpus):
    index = Index.load(corpus.index_dir)
    docs = corpus.docs_dir
    assert set(index.texts) == {"farms.html", "harbour.pdf", "bridge.docx", "latin.html"}
    for source in index.texts:
        assert index.kept_text(source) == file_text(docs, source)
    assert index.kept_text("notes.txt") is None and index.page_of("notes.txt", 0) is None
    for chunk in index.chunks:
        assert file_text(docs, chunk.source)[chunk.start : chunk.end] == chunk.text
        if chunk.source == "harbour.pdf":
            assert index.page_of(chunk.source, chunk.start) == index.page_of(chunk.source, chunk.end - 1)


def test_changing_only_the_pdf_reembeds_only_its_chunks(corpus, tmp_path: Path, embedder):
    docs, index_dir = tmp_path / "docs", tmp_path / "index"
    shutil.copytree(corpus.docs_dir, docs)
    first, _ = update_index(docs, index_dir, embedder, log=io.StringIO())
    kept = {s: t for s, t in first.texts.items() if s != "harbour.pdf"}

    (docs / "harbour.pdf").write_bytes(make_pdf([*PDF_PAGES, ["Page four: the keeper retired in 1920."]]))
    updated, report = update_index(docs, index_dir, embedder, log=io.StringIO())

    assert report.changed == ["harbour.pdf"] and not report.added and not report.removed
    assert report.embedded_chunks == len([c for c in updated.chunks if c.source == "harbour.pdf"]) > 0
    assert [c for c in updated.chunks if c.source != "harbour.pdf"] == [
        c for c in first.chunks if c.source != "harbour.pdf"
    ]
    reloaded = Index.load(index_dir)
    assert {s: t for s, t in reloaded.texts.items() if s != "harbour.pdf"} == kept
    assert reloaded.texts["harbour.pdf"].pages[3] > 0 and "retired" in reloaded.kept_text("harbour.pdf")
    assert first.kept_text("harbour.pdf") != reloaded.kept_text("harbour.pdf")  # the old build kept the old text


def test_missing_texts_make_the_index_corrupt_and_it_is_rebuilt(corpus, tmp_path: Path, embedder):
    docs, index_dir = tmp_path / "docs", tmp_path / "index"
    shutil.copytree(corpus.docs_dir, docs)
    good, _ = update_index(docs, index_dir, embedder, log=io.StringIO())
    build = index_dir / (index_dir / "CURRENT").read_text().split()[0]
    (build / "texts.jsonl").unlink()
    with pytest.raises(IndexUnusable, match="corrupt"):
        Index.load(index_dir)
    log = io.StringIO()
    rebuilt, report = update_index(docs, index_dir, embedder, log=log)
    assert report.rebuilt_because and "rebuilding index" in log.getvalue()
    assert rebuilt.texts == good.texts


@pytest.mark.parametrize(
    "data",
    [
        b"plain ASCII text\n" * 50,
        "é".encode() * 40 + b"\xff" + b"tail",  # invalid byte after a block boundary
        "é".encode() * 40 + "🙂".encode()[:2],  # cut inside a character at the end
        b"\x00\x01binary",
        "\ufeffBOM and text".encode(),
    ],
)
def test_a_file_checked_a_block_at_a_time_agrees_with_decode(tmp_path, data):
    """Streamed exactly when ``decode`` reads it as UTF-8; refused, with ``decode``'s reason, when it is binary."""
    from rag.documents.encoding import decode_text
    from rag.documents.formats import check_utf8_file

    path = tmp_path / "f.txt"
    path.write_bytes(data)
    try:
        encoding = decode_text(data)[1]
    except ValueError as exc:
        with pytest.raises(ValueError) as caught:
            check_utf8_file(path, block=16)
        assert str(caught.value) == str(exc)
    else:
        assert check_utf8_file(path, block=16) is (encoding == "UTF-8")


def test_a_utf16_file_is_left_to_the_whole_file_reader(tmp_path):
    from rag.documents.formats import check_utf8_file

    path = tmp_path / "f.txt"
    path.write_bytes("text".encode("utf-16"))
    assert check_utf8_file(path) is False
