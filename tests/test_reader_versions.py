"""A file is read again when the reader of its kind changes, even though the file did not: an upgraded
reader reaches every index, and a PDF indexed without Tesseract has its scanned pages read once
Tesseract is installed (the files themselves untouched)."""

from __future__ import annotations

import io
import os
from pathlib import Path

from rag.documents import formats
from rag.documents.folder import file_text
from rag.documents.formats import DOC_SUFFIXES, READER_VERSIONS, reader_version
from rag.index.build import fresh_index
from rag.index.store import Index
from rag.pipeline import Pipeline
from rag.settings import Settings

from .test_pdf_text import LEASE, mixed_pdf, scanned_pdf, with_tesseract  # noqa: F401 - a fixture


def test_every_kind_has_a_reader_version(monkeypatch):
    assert set(READER_VERSIONS) == set(DOC_SUFFIXES)
    monkeypatch.setenv("RAG_TESSERACT", "no-such-tesseract")
    without = reader_version("scan.PDF")
    monkeypatch.setenv("RAG_TESSERACT", "sh")  # any command found on PATH stands for an installed one
    monkeypatch.setenv("RAG_OCR_LANG", "deu+eng")
    assert without.endswith("-ocr") and reader_version("scan.pdf").endswith("+ocr:deu+eng")
    assert reader_version("a.md") == f".md:{READER_VERSIONS['.md']}"


def test_a_reader_change_rereads_the_files_of_its_kind_only(tmp_path: Path, embedder, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.md").write_text("# Boats\n\nThe red boat belongs to Aino Virtanen.\n", encoding="utf-8")
    (docs / "plain.txt").write_text("The blue boat belongs to Piet Jansen.\n", encoding="utf-8")
    (docs / "page.html").write_text("<h1>Sails</h1><p>Sails are mended by Rosa Ortiz.</p>", encoding="utf-8")
    index_dir, log = tmp_path / "index", io.StringIO()
    fresh_index(docs, index_dir, embedder, log=log)
    before = Index.load(index_dir).manifest["files"]
    assert before["notes.md"]["reader"] == reader_version("notes.md")

    monkeypatch.setitem(formats.READER_VERSIONS, ".md", READER_VERSIONS[".md"] + 1)  # an upgraded .md reader
    index, report = fresh_index(docs, index_dir, embedder, log=log)
    assert report is not None and report.reread == ["notes.md"] and not (report.added or report.changed)
    assert sorted(report.unchanged) == ["page.html", "plain.txt"] and report.embedded_chunks > 0
    assert "1 re-read (their reader changed)" in report.summary()
    files = index.manifest["files"]
    assert files["notes.md"]["reader"] == reader_version("notes.md") != before["notes.md"]["reader"]
    assert files["notes.md"]["places"] == [[0, "section “Boats”"]]
    assert fresh_index(docs, index_dir, embedder, current=index, log=log)[1] is None  # read once, not every time


def test_installing_tesseract_reads_the_scanned_pages_of_an_indexed_pdf(
    with_tesseract,  # noqa: F811 - the fixture
    tmp_path: Path,
    embedder,
    monkeypatch,
):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "mixed.pdf").write_bytes(mixed_pdf())  # page 1 typeset, page 2 (the deposit) scanned
    (docs / "scan.pdf").write_bytes(scanned_pdf(LEASE[:1]))  # scanned only (the tenant)
    stats = {p.name: os.stat(p).st_mtime_ns for p in docs.iterdir()}
    pipe = Pipeline(Settings(docs=docs, index=tmp_path / "index"), embedder=embedder, log=io.StringIO())

    monkeypatch.setenv("RAG_TESSERACT", str(tmp_path / "no-such-tesseract"))  # as on a machine without it
    report = pipe.refresh()
    assert report is not None and list(report.skipped) == ["scan.pdf"]
    assert "Kellerman" not in (pipe.index.kept_text("mixed.pdf") or "")
    assert pipe.refresh() is None  # still no Tesseract: nothing to read again

    monkeypatch.delenv("RAG_TESSERACT")  # Tesseract installed
    report = pipe.refresh()
    assert report is not None and sorted(report.reread) == ["mixed.pdf", "scan.pdf"] and not report.skipped
    assert {p.name: os.stat(p).st_mtime_ns for p in docs.iterdir()} == stats  # the files were not touched
    for question, answer, source, page in [
        ("Who holds the deposit?", "Kellerman", "mixed.pdf", 2),
        ("Who is the tenant of the Alder Street flat?", "Marguerite Okonkwo", "scan.pdf", 1),
    ]:
        got = pipe.ask(question).answer
        assert got is not None and answer in got.text and (got.source, got.page) == (source, page)
        assert file_text(docs, source)[got.start : got.end] == got.text and got.location == f"page {page}"
    assert pipe.refresh() is None
