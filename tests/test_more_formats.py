"""Slides, spreadsheets, e-books, OpenDocument and e-mail: each real file built here, read, indexed and
asked about through the real pipeline; answers slice the shown text and say where they are."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.commands.ask import format_human
from rag.commands.ask import main as ask_main
from rag.documents import archive, opendocument, parts, sheets
from rag.documents.folder import file_text
from rag.documents.formats import DOC_SUFFIXES, FORMAT_MODULES, extract
from rag.index.build import update_index
from rag.pipeline import Pipeline
from rag.settings import Settings
from ui.core import Assistant
from ui.text import UploadRejected
from ui.uploads import check_upload, safe_name

from .format_builders import make_eml, make_epub, make_odt, make_pptx, make_xlsx, odt_content

DECK = [
    ("Harbour history", ["Port Elira opened to ships in 1851."], None),
    ("", [], None),  # a blank slide keeps its number
    (
        "The lighthouse",
        ["The Kestrel lighthouse was designed by Tomasz Wren.", "Its lamp burns oil."],
        "Remind the audience that the first keeper was Olga Brandt.",
    ),
]
SHEETS = {
    "Staff": [
        ["Name", "Role", "City"],
        ["Ada Lovelace", "engineer", "London"],
        ["Grace Hopper", "admiral", "Arlington"],
    ],
    "Budget": [["Item", "Cost"], ["Paper", 12.5], ["Ink", 3]],
}
CSV = 'Ship;Captain;Port\r\nSea Swallow;Ines Moreau;Brest\r\n\r\nNorth Wind;"Pavel Dvorak, senior";Gdansk\r\n'
BOOK = [
    ("The Harbour", ["The harbour was dredged in 1851."]),
    ("The Storm", ["The great storm of 1903 was named Hilda by the fishermen.", "Boats were lost."]),
]
ODT = [
    ("p", "This manual covers the garden pump."),
    ("h", "Installing the pump"),
    ("p", "The pump was installed by  Mira Okafor in 2019."),
    ("h", "Care"),
    ("p", "Oil the pump every spring."),
]
MAIL = {
    "From": "Ada <ada@example.org>",
    "To": "bob@example.org",
    "Subject": "Bridge inspection — Friday",
    "Date": "Tue, 3 Jun 2025 10:00:00 +0000",
}
MAIL_TEXT = "Hi Bob,\n\nThe Kestrel bridge will be inspected by Jonas Berg on Friday.\n"


def files() -> dict[str, bytes]:
    return {
        "deck.pptx": make_pptx(DECK),
        "staff.xlsx": make_xlsx(SHEETS),
        "ships.csv": CSV.encode("utf-8-sig"),
        "book.epub": make_epub(BOOK),
        "manual.odt": make_odt(ODT),
        "note.eml": make_eml(MAIL, MAIL_TEXT, "<p>Hi Bob,</p><p>The bridge <b>check</b> is on Friday.</p>"),
    }


def where_is(extracted, needle: str) -> str | None:
    return extracted.location_of(extracted.text.index(needle))


# --- reading ---------------------------------------------------------------------------------


def test_every_new_format_is_read_and_registered():
    assert set(FORMAT_MODULES) <= set(DOC_SUFFIXES) and {".pptx", ".xlsx", ".csv", ".epub", ".odt", ".eml"} <= set(
        FORMAT_MODULES
    )
    for name, data in files().items():
        extracted = extract(name, data)
        assert extracted.text.strip() and extracted.places, name
        assert [start for start, _ in extracted.places] == sorted(start for start, _ in extracted.places)


def test_slides_and_notes_are_cited_by_slide():
    deck = extract("d.pptx", make_pptx(DECK))
    assert deck.text.split("\n\n") == [
        "Harbour history\nPort Elira opened to ships in 1851.",
        "The lighthouse\nThe Kestrel lighthouse was designed by Tomasz Wren.\nIts lamp burns oil.",
        "Remind the audience that the first keeper was Olga Brandt.",
    ]
    assert where_is(deck, "1851") == "slide 1"
    assert where_is(deck, "Tomasz") == "slide 3"
    assert where_is(deck, "Olga") == "slide 3, notes"


def test_sheet_rows_are_lines_with_their_column_names():
    book = extract("s.xlsx", make_xlsx(SHEETS))
    assert book.text.split("\n\n") == [  # a row a paragraph: retrieval finds it, the reader reads it
        "Staff\nName; Role; City",
        "Name: Ada Lovelace; Role: engineer; City: London",
        "Name: Grace Hopper; Role: admiral; City: Arlington",
        "Budget\nItem; Cost",
        "Item: Paper; Cost: 12.5",
        "Item: Ink; Cost: 3",
    ]
    assert where_is(book, "Grace") == "sheet Staff, row 3"
    assert where_is(book, "Ink") == "sheet Budget, row 3"
    assert where_is(book, "Budget") == "sheet Budget"


def test_csv_rows_keep_quoted_delimiters_and_their_row_numbers():
    table = extract("t.csv", CSV.encode("utf-8-sig"))
    assert table.text == (
        "Ship; Captain; Port\n\nShip: Sea Swallow; Captain: Ines Moreau; Port: Brest\n\n"
        "Ship: North Wind; Captain: Pavel Dvorak, senior; Port: Gdansk"
    )
    assert where_is(table, "Ines") == "row 2" and where_is(table, "Pavel") == "row 4"  # row 3 is blank
    commas = extract("t.csv", b"a,b\n1,2\n")
    assert commas.text == "a; b\n\na: 1; b: 2"


def test_epub_chapters_follow_the_spine_and_are_titled_by_the_contents():
    book = extract("b.epub", make_epub(BOOK, title="Sea Tales"))
    assert book.text == (
        "The Harbour\n\nThe harbour was dredged in 1851.\n\nThe Storm\n\n"
        "The great storm of 1903 was named Hilda by the fishermen.\n\nBoats were lost."
    )
    assert "Sea Tales" not in book.text  # each page's <title> is the book's, not content
    assert where_is(book, "dredged") == "chapter 1 (The Harbour)"
    assert where_is(book, "Hilda") == "chapter 2 (The Storm)"


def test_odt_paragraphs_are_cited_by_the_heading_above_them():
    manual = extract("m.odt", make_odt(ODT))
    assert manual.text.split("\n\n") == [text for _, text in ODT]  # spans and <text:s/> read as written
    assert where_is(manual, "garden") is None  # before the first heading
    assert where_is(manual, "Mira") == "section “Installing the pump”"
    assert where_is(manual, "spring") == "section “Care”"


def test_eml_headers_then_the_plain_body_and_html_when_there_is_no_plain():
    mail = extract("m.eml", make_eml(MAIL, MAIL_TEXT, "<p>HTML version</p>"))
    assert mail.text == (
        "From: Ada <ada@example.org>\nTo: bob@example.org\nDate: Tue, 03 Jun 2025 10:00:00 +0000\n"
        "Subject: Bridge inspection — Friday\n\n"
        "Hi Bob,\n\nThe Kestrel bridge will be inspected by Jonas Berg on Friday."
    )
    assert where_is(mail, "Subject") == "headers" and where_is(mail, "Jonas") == "body"
    html_only = extract("h.eml", make_eml({"Subject": "=?utf-8?q?Caf=C3=A9?="}, None, "<p>Only <i>HTML</i> here</p>"))
    assert html_only.text == "Subject: Café\n\nOnly HTML here"


# --- refusals and bounds ---------------------------------------------------------------------

ZIP_OF_NOTHING = io.BytesIO()
with zipfile.ZipFile(ZIP_OF_NOTHING, "w") as _z:
    _z.writestr("readme.txt", "not an office file")


@pytest.mark.parametrize("suffix", [".pptx", ".xlsx", ".epub", ".odt"])
@pytest.mark.parametrize("data", [b"PK\x03\x04 garbage", b"", ZIP_OF_NOTHING.getvalue()])
def test_damaged_zip_formats_are_refused_in_one_line(suffix, data):
    with pytest.raises(ValueError, match=rf"^not a valid \{suffix}: ") as caught:
        extract(f"x{suffix}", data)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("x.csv", b"\x00\x01binary", "binary file"),
        ("x.csv", b'a,b\n"' + b"y" * 200_000 + b'"\n', r"not a valid \.csv: field larger"),
        ("x.csv", b" \n\n", "no text"),
        ("x.eml", b"just some words", r"not a valid \.eml: it has none of the headers"),
        ("x.odt", make_odt([], content="<office:document-content>"), r"not a valid \.odt: "),
        ("x.pptx", make_pptx([("", [], None)]), "the presentation has no text"),
    ],
)
def test_other_bad_files_are_refused_with_their_reason(name, data, message):
    with pytest.raises(ValueError, match=message):
        extract(name, data)


def test_a_zip_bomb_is_refused_counting_what_it_inflates_to(monkeypatch):
    monkeypatch.setattr(archive, "MAX_UNZIPPED_BYTES", 2 * 2**20)
    bomb = make_pptx(DECK, extra={"ppt/media/big.bin": bytes(3 * 2**20)})  # 3 MB of zeros: a few KB zipped
    assert len(bomb) < 100_000
    with pytest.raises(ValueError, match=r"\.pptx is over 2 MB uncompressed"):
        extract("x.pptx", bomb)


def test_too_many_xml_elements_are_refused_before_a_library_builds_trees(monkeypatch):
    monkeypatch.setattr(archive, "MAX_ELEMENTS", 5_000)
    crowd = make_pptx(DECK, extra={"customXml/item9.xml": b"<r>" + b"<a/>" * 6_000 + b"</r>"})
    with pytest.raises(ValueError, match=r"\.pptx has over 5,000 XML elements"):
        extract("x.pptx", crowd)
    monkeypatch.setattr(opendocument, "MAX_XML_ELEMENTS", 5_000)
    with pytest.raises(ValueError, match="content.xml has over 5,000 elements"):
        extract("x.odt", make_odt([("p", "word")] * 3_000))


def test_sheet_rows_cells_and_text_are_bounded_as_they_are_read(monkeypatch):
    big = make_xlsx({"S": [["k", "v"]] + [[f"key{i}", "x" * 50] for i in range(300)]})
    monkeypatch.setattr(parts, "MAX_TEXT_CHARS", 5_000)
    with pytest.raises(ValueError, match="the workbook holds over"):
        extract("x.xlsx", big)
    monkeypatch.setattr(parts, "MAX_TEXT_CHARS", 10**9)
    monkeypatch.setattr(sheets, "MAX_CELLS", 200)
    with pytest.raises(ValueError, match="over 5,000,000 rows or 200 cells"):
        extract("x.xlsx", big)


FILES = files()


def damaged_copy(data: bytes, part: int, edits: list[tuple[int, bytes, int]]) -> bytes:
    """``data`` with each edit (position, bytes put in, bytes taken out) made inside one of its zip parts,
    rewritten with valid checksums so the readers and libraries see the damage, not the zip; a .csv or
    .eml is edited as it is."""

    def edit(content: bytes) -> bytes:
        for at, put, cut in edits:
            at %= len(content) + 1
            content = content[:at] + put + content[at + cut :]
        return content

    if not data.startswith(b"PK"):
        return edit(data)
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for i, info in enumerate(source.infolist()):
            content = source.read(info)
            target.writestr(info.filename, edit(content) if i == part % len(source.infolist()) else content)
    return out.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(FILES)),
    part=st.integers(0, 50),
    edits=st.lists(
        st.tuples(
            st.integers(0, 10**5),
            st.sampled_from([b"", b"<", b"</p>", b"&", b'"', b"\xff", b"=?x?q?", b"\x00"]),
            st.integers(0, 40),
        ),
        min_size=1,
        max_size=5,
    ),
)
def test_a_damaged_file_is_read_or_refused_in_one_line(name, part, edits):
    try:
        extracted = extract(name, damaged_copy(FILES[name], part, edits))
    except ValueError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert all(0 <= start <= len(extracted.text) for start, _ in extracted.places)


# --- the chat's upload -----------------------------------------------------------------------


@pytest.mark.parametrize("suffix", DOC_SUFFIXES)
def test_the_upload_accepts_every_kind_the_indexer_reads(suffix):
    assert safe_name(f"My file{suffix.upper()}") == f"My-file{suffix}"


def test_uploads_are_read_as_the_indexer_reads_them():
    for name, data in files().items():
        assert check_upload(data, name) == extract(name, data).text
    with pytest.raises(UploadRejected, match=r"cannot be read \(not a valid \.xlsx: "):
        check_upload(b"PK\x03\x04 garbage", "a.xlsx")


# --- through the real pipeline ---------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, embedder):
    """A docs folder of every new format (and one damaged file of each zip kind), indexed once."""
    root = tmp_path_factory.mktemp("more-formats")
    docs = root / "docs"
    docs.mkdir()
    for name, data in files().items():
        (docs / name).write_bytes(data)
    for suffix in (".pptx", ".xlsx", ".epub", ".odt"):
        (docs / f"broken{suffix}").write_bytes(b"PK\x03\x04 garbage")
    pipe = Pipeline(Settings(docs=docs, index=root / "index"), embedder=embedder, log=io.StringIO())
    report = pipe.refresh()
    assert report is not None and set(report.skipped) == {"broken.pptx", "broken.xlsx", "broken.epub", "broken.odt"}
    return pipe


QUESTIONS = [
    ("Who designed the Kestrel lighthouse?", "Tomasz Wren", "deck.pptx", "slide 3"),
    ("Who was the first keeper of the lighthouse?", "Olga Brandt", "deck.pptx", "slide 3, notes"),
    ("What is Grace Hopper's role?", "admiral", "staff.xlsx", "sheet Staff, row 3"),
    ("Which port is the North Wind from?", "Gdansk", "ships.csv", "row 4"),  # row 3 is blank
    ("What did the fishermen name the great storm of 1903?", "Hilda", "book.epub", "chapter 2 (The Storm)"),
    ("Who installed the garden pump?", "Mira Okafor", "manual.odt", "section “Installing the pump”"),
    ("Who will inspect the Kestrel bridge?", "Jonas Berg", "note.eml", "body"),
]


@pytest.mark.parametrize("question, answer, source, location", QUESTIONS)
def test_each_new_format_is_answerable_with_exact_offsets_and_its_location(corpus, question, answer, source, location):
    result = corpus.ask(question)
    assert result.answer is not None
    got = result.answer
    assert (got.text, got.source, got.location, got.page) == (answer, source, location, None)
    for item in (got, *result.passages):  # offsets slice the text the document view shows
        assert file_text(corpus.docs_dir, item.source)[item.start : item.end] == item.text
        assert corpus.index.kept_text(item.source) == file_text(corpus.docs_dir, item.source)
    assert got.passage is not None and got.passage.location is not None
    assert result.to_dict()["answer"]["location"] == location
    assert f"{source}, {location}, characters" in format_human(result)


def test_ask_json_and_the_chat_cite_the_location(corpus, capsys):
    argv = ["--docs", str(corpus.docs_dir), "--index", str(corpus.index_dir), "--json"]
    assert ask_main([*argv, "What is Grace Hopper's role?"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["answer"]["location"] == "sheet Staff, row 3" and payload["answer"]["page"] is None
    assert all("location" in p for p in payload["passages"])
    assistant = Assistant(corpus)
    result = assistant.ask("Who was the first keeper of the lighthouse?", top_k=5)
    reply = assistant.reply(result)
    assert ">deck.pptx, slide 3, notes</a>" in reply
    assert assistant.document("deck.pptx").location_of(result.answer.start) == "slide 3, notes"


def test_the_index_skips_damaged_files_with_one_line_each(corpus, tmp_path, embedder, capsys):
    index, _ = update_index(corpus.docs_dir, tmp_path / "index", embedder)
    assert {source for source, entry in index.manifest["files"].items() if not entry["skipped"]} == set(files())
    err = capsys.readouterr().err.splitlines()
    assert len([line for line in err if line.startswith("warning: skipped broken.")]) == 4
    assert "warning: skipped broken.pptx: not a valid .pptx: File is not a zip file" in err


def test_an_uploaded_sheet_is_answerable_and_cited_by_its_row(docs, tmp_path, embedder):
    pipe = Pipeline(Settings(docs=docs, index=tmp_path / "index"), embedder=embedder, log=io.StringIO())
    assistant = Assistant(pipe)
    upload = tmp_path / "Crew List.xlsx"
    upload.write_bytes(make_xlsx({"Crew": [["Name", "Job"], ["Lena Fischer", "navigator"]]}))
    assert "Added **Crew\\-List\\.xlsx**" in assistant.add_document(upload)
    result = assistant.ask("What is the job of Lena Fischer?", top_k=5)
    assert result.answer is not None and result.answer.text == "navigator"
    assert result.answer.location == "sheet Crew, row 2"


def test_odt_white_space_follows_the_odf_rule():
    content = odt_content([("p", "a  b")]).replace("<text:p>", "<text:p>\n   <text:tab/>")
    assert extract("w.odt", make_odt([], content=content)).text == "\ta  b"
