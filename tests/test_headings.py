"""Web pages, Markdown and Word documents are cited by the nearest heading above the answer
(``section “Heading”``), as .odt files are: each real file built here, indexed, and asked about through
the real pipeline; answers slice the shown text, and the location is in --json, the CLI and the chat."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.commands.ask import format_human
from rag.commands.ask import main as ask_main
from rag.documents import markdown
from rag.documents.folder import file_text
from rag.documents.formats import extract
from rag.documents.markdown import file_places, text_places
from rag.index.store import Index
from rag.pipeline import Pipeline
from rag.settings import Settings
from ui.core import Assistant

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
PARAGRAPH_STYLE = '<w:pPr><w:pStyle w:val="{}"/></w:pPr>'

PAGE = """<!doctype html><html><head><title>Harbour guide</title></head><body>
<nav><h2>Menu</h2><a href="/">Home</a></nav>
<p>Welcome to the harbour.</p>
<h1>  The <em>old</em>
 lighthouse</h1>
<p>The lighthouse keeper in 1890 was Edda Lindqvist.</p>
<h2>Ferries</h2>
<p>The ferry to Vell Island leaves from pier 4.</p>
</body></html>"""

GUIDE = """---
title: Pump guide
---
This guide covers the garden pump.

# Installing the pump #

The pump was installed by Mira Okafor in 2019.

```sh
# not a heading: a shell comment
pump --start
```

Winter care
-----------

Drain the pump before the first frost in November.

    # indented code, not a heading
"""

LATIN = "Préface\n=======\n\nCe livre a été écrit à Lyon par Hélène Garnier.\n"


def word_document(paragraphs: list[tuple[str | None, str]], styles: str | None) -> bytes:
    """A .docx whose paragraphs have the given style ids (None: body text), and ``styles`` as styles.xml."""
    body = "".join(
        f"<w:p>{PARAGRAPH_STYLE.format(style) if style else ''}"
        f"<w:r><w:t xml:space='preserve'>{escape(text)}</w:t></w:r></w:p>"
        for style, text in paragraphs
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("word/document.xml", f'<w:document xmlns:w="{W}"><w:body>{body}</w:body></w:document>')
        if styles is not None:
            archive.writestr("word/styles.xml", f'<w:styles xmlns:w="{W}">{styles}</w:styles>')
    return out.getvalue()


# A German Word's style ids, named in English as Word does; a custom style based on a heading.
STYLES = (
    '<w:style w:type="paragraph" w:styleId="Titel"><w:name w:val="Title"/></w:style>'
    '<w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="heading 1"/></w:style>'
    '<w:style w:type="paragraph" w:styleId="Kapitel"><w:name w:val="Kapitel"/>'
    '<w:basedOn w:val="berschrift1"/></w:style>'
    '<w:style w:type="paragraph" w:styleId="Gliederung"><w:name w:val="Gliederung"/>'
    '<w:pPr><w:outlineLvl w:val="1"/></w:pPr></w:style>'
    '<w:style w:type="paragraph" w:styleId="Standard"><w:name w:val="Normal"/></w:style>'
)
REPORT = [
    ("Titel", "Annual report"),
    (None, "This report covers the year."),
    ("berschrift1", "Finances"),
    (None, "The treasurer, Jonas Berg, closed the year with a surplus."),
    ("Kapitel", "Members"),
    (None, "The club has 212 members."),
    ("Gliederung", "Outlook"),
    ("Standard", "Next year the boathouse will be repainted by Ilse Moor."),
]


def where_is(extracted, needle: str) -> str | None:
    return extracted.location_of(extracted.text.index(needle))


# --- reading ---------------------------------------------------------------------------------


def test_html_headings_are_places_and_the_text_is_unchanged():
    page = extract("guide.html", PAGE.encode())
    assert page.text == (
        "Harbour guide\n\nWelcome to the harbour.\n\nThe old lighthouse\n\n"
        "The lighthouse keeper in 1890 was Edda Lindqvist.\n\nFerries\n\nThe ferry to Vell Island leaves from pier 4."
    )
    assert page.places == (
        (page.text.index("The old"), "section “The old lighthouse”"),
        (page.text.index("Ferries\n"), "section “Ferries”"),
    )
    assert where_is(page, "Welcome") is None  # before the first heading (the menu's heading is not shown)
    assert where_is(page, "Edda") == "section “The old lighthouse”" and where_is(page, "pier 4") == "section “Ferries”"
    odd = extract("x.html", "<h2>\ufdd0Kept</h2><p>a\x01b</p><h3>  </h3><p>c</p>".encode())
    assert odd.text == "Kept\n\nab\n\nc" and odd.places == ((0, "section “Kept”"),)


def test_markdown_atx_and_setext_headings_but_not_code_or_front_matter():
    guide = extract("guide.md", GUIDE.encode())
    assert guide.text == GUIDE  # a .md file's text is the file itself
    assert [label for _, label in guide.places] == ["section “Installing the pump”", "section “Winter care”"]
    assert guide.text[guide.places[0][0] :].startswith("# Installing the pump #")
    assert guide.text[guide.places[1][0] :].startswith("Winter care\n---")
    assert where_is(guide, "This guide") is None and where_is(guide, "title:") is None
    assert where_is(guide, "Mira Okafor") == where_is(guide, "pump --start") == "section “Installing the pump”"
    assert where_is(guide, "November") == where_is(guide, "indented code") == "section “Winter care”"
    lines = "# C#\n#5 bolt\n- item\n---\nPara\n==\n\n***\n"
    assert [label for _, label in text_places(lines)] == ["section “C#”", "section “Para”"]


def test_streamed_markdown_gives_the_places_of_the_whole_text(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(markdown, "BLOCK_CHARS", 7)  # lines and line ends split across reads
    monkeypatch.setattr(markdown, "LINE_PREFIX", 12)  # long lines seen only in part
    text = "\ufeff# Héllo\r\n\r\n" + "x" * 40 + "\r\n===\r\n\r\nPara\r\n" + "=" * 30 + "\n## Last\n"
    path = tmp_path / "a.md"
    path.write_bytes(text.encode("utf-8"))
    places = file_places(str(path))
    assert places == text_places(text) and [start for start, _ in places] == [1, 12, 98]
    assert [label for _, label in places] == ["section “Héllo”", f"section “{'x' * 12}”", "section “Last”"]
    monkeypatch.setattr(markdown, "MAX_PLACES", 1)
    assert text_places("# A\n# B\n# C\n") == ((0, "section “A”"), (4, ""))


def test_docx_heading_styles_by_name_outline_and_basis():
    report = extract("report.docx", word_document(REPORT, STYLES))
    labels = ["section “Annual report”", "section “Finances”", "section “Members”", "section “Outlook”"]
    assert [label for _, label in report.places] == labels
    assert where_is(report, "Jonas Berg") == "section “Finances”" and where_is(report, "212") == "section “Members”"
    assert where_is(report, "Ilse Moor") == "section “Outlook”"
    english = extract("e.docx", word_document([("Heading2", "Scope"), (None, "Text."), ("Normal", "More.")], None))
    assert english.places == ((0, "section “Scope”"),)  # no styles.xml: English Word's ids


# --- asking ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, embedder) -> Pipeline:
    root = tmp_path_factory.mktemp("headings")
    docs = root / "docs"
    docs.mkdir()
    (docs / "guide.html").write_text(PAGE, encoding="utf-8")
    (docs / "pump.md").write_text(GUIDE, encoding="utf-8")
    (docs / "livre.md").write_bytes(LATIN.encode("latin-1"))  # not UTF-8: decoded whole, its text kept
    (docs / "report.docx").write_bytes(word_document(REPORT, STYLES))
    pipe = Pipeline(Settings(docs=docs, index=root / "index"), embedder=embedder, log=io.StringIO())
    report = pipe.refresh()
    assert report is not None and not report.skipped
    return pipe


QUESTIONS = [
    ("Who was the lighthouse keeper in 1890?", "Edda Lindqvist", "guide.html", "section “The old lighthouse”"),
    ("Who installed the garden pump?", "Mira Okafor", "pump.md", "section “Installing the pump”"),
    ("Who wrote the book in Lyon?", "Hélène Garnier", "livre.md", "section “Préface”"),
    ("Who is the treasurer?", "Jonas Berg", "report.docx", "section “Finances”"),
]


@pytest.mark.parametrize("question, answer, source, location", QUESTIONS)
def test_answers_are_cited_by_the_heading_above_them(corpus, question, answer, source, location):
    result = corpus.ask(question)
    got = result.answer
    assert got is not None and (got.text, got.source, got.location, got.page) == (answer, source, location, None)
    shown = Assistant(corpus).document(source)
    for item in (got, *result.passages):  # offsets slice the text the document view shows, placed alike
        assert file_text(corpus.docs_dir, item.source)[item.start : item.end] == item.text
        assert item.location == corpus.index.location_of(item.source, item.start)
    assert shown.text[got.start : got.end] == answer and shown.location_of(got.start) == location
    assert result.to_dict()["answer"]["location"] == location
    assert f"{source}, {location}, characters" in format_human(result)


def test_a_streamed_markdown_file_keeps_only_its_heading_places(corpus):
    index = Index.load(corpus.index_dir)
    assert "pump.md" not in index.texts and "livre.md" in index.texts  # UTF-8 streamed; Latin-1 kept
    entry = index.manifest["files"]["pump.md"]
    assert [label for _, label in entry["places"]] == ["section “Installing the pump”", "section “Winter care”"]
    assert "places" not in index.manifest["files"]["guide.html"]  # kept text holds its places


def test_ask_json_and_the_chat_cite_the_heading(corpus, capsys):
    argv = ["--docs", str(corpus.docs_dir), "--index", str(corpus.index_dir), "--json"]
    assert ask_main([*argv, "Who installed the garden pump?"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["answer"]["location"] == "section “Installing the pump”"
    assistant = Assistant(corpus)
    result = assistant.ask("Who was the lighthouse keeper in 1890?", top_k=5)
    assert ">guide.html, section “The old lighthouse”</a>" in assistant.reply(result)


# --- properties ------------------------------------------------------------------------------

TEXTS = st.text(st.sampled_from("ab #=-`~\t\r\n\x01\ufdd0é>*_1."), max_size=60)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blocks=st.lists(st.tuples(st.sampled_from(["h1", "h3", "p", "pre"]), TEXTS), min_size=1, max_size=6))
def test_marking_headings_never_changes_an_html_pages_text(blocks):
    page = "".join(f"<{tag}>{escape(text)}</{tag}>" for tag, text in blocks).encode()
    plain = page.replace(b"<h1>", b"<p>").replace(b"</h1>", b"</p>").replace(b"<h3>", b"<p>").replace(b"</h3>", b"</p>")
    try:
        marked = extract("a.html", page)
    except ValueError:
        with pytest.raises(ValueError):
            extract("a.html", plain)
        return
    assert marked.text == extract("a.html", plain).text and "\ufdd0" not in marked.text
    for start, label in marked.places:  # each place starts a paragraph, at its first character
        before = marked.text[:start].rstrip(" \t")  # spaces a removed control character kept from the strip
        assert not before or before.endswith("\n\n")
        assert label == f"section “{' '.join(marked.text[start:].split(chr(10) * 2)[0].split())}”"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXTS.map(lambda t: t * 3), block=st.integers(1, 9))
def test_markdown_places_are_the_same_read_in_any_blocks(text, block, monkeypatch):
    whole = text_places(text)
    monkeypatch.setattr(markdown, "BLOCK_CHARS", block)  # lines and "\r\n" split across reads
    assert text_places(text) == whole
    assert all(start == 0 or text[start - 1] == "\n" or text[:start] == "\ufeff" for start, _ in whole)


@settings(max_examples=100, deadline=None)
@given(paragraphs=st.lists(st.tuples(st.sampled_from([None, "Heading1", "Title"]), TEXTS), min_size=1, max_size=6))
def test_marking_headings_never_changes_a_word_documents_text(paragraphs):
    cleaned = [(style, "".join(c for c in text if c >= " " or c in "\t\n")) for style, text in paragraphs]  # XML 1.0
    try:
        marked = extract("a.docx", word_document(cleaned, None))
    except ValueError:
        return
    plain = extract("a.docx", word_document([(None, text) for _, text in cleaned], None))
    assert marked.text == plain.text and not plain.places and "\ufdd0" not in marked.text
    assert len(marked.places) <= sum(style is not None for style, _ in cleaned)
