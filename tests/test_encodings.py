"""Text in the encodings people's files are really in: HTML sniffed as browsers do (BOM, <meta charset>,
a detector, windows-1252), plain text as UTF-8 or what the detector finds; offsets index the decoded
text, the encoding is kept in the index and shown in the document view."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rag.documents.encoding import MAX_DETECTED_BYTES, decode_html, decode_text
from rag.documents.folder import file_text
from rag.documents.formats import check_utf8_file, decode, extract, html_text
from rag.index.store import Index
from rag.pipeline import Pipeline
from rag.settings import Settings
from ui.core import Assistant
from ui.document_view import document_page

# The kind of page Debian's documentation holds: windows-1252 bytes and no declared charset.
DEBIAN_PAGE = (
    "<html><head><title>Café menu</title></head><body><h1>Le café</h1>"
    "<p>The café on Rue Dorée serves crème brûlée “fait maison”.</p></body></html>"
).encode("cp1252")
LATIN_NOTE = "The station café in Dijon is run by Renée Lefèvre, who has served crêpes and thé there since 1998."
UTF16_NOTE = "The night ferry to Åland is run by Birgitta Sjöberg, who also keeps its logbook."
RUSSIAN = "Привет, как дела? Это тест кодировки."


# --- HTML: the HTML standard's order -----------------------------------------------------------


def test_a_page_without_a_declared_charset_is_read_by_the_detector():
    markup, encoding = decode_html(DEBIAN_PAGE)
    assert encoding == "windows-1252" and "crème brûlée “fait maison”" in markup
    extracted = extract("menu.html", DEBIAN_PAGE)
    assert extracted.encoding == "windows-1252"
    assert extracted.text.startswith("Café menu\n\nLe café\n\nThe café on Rue Dorée")


@pytest.mark.parametrize(
    "data, text, encoding",
    [
        ("\ufeff<p>naïve</p>".encode(), "naïve", "UTF-8"),  # a BOM first, whatever <meta> says
        (b"\xef\xbb\xbf<meta charset='windows-1252'><p>\xc3\xa9</p>", "é", "UTF-8"),
        ("<p>naïve</p>".encode("utf-16"), "naïve", "UTF-16LE"),
        ('<meta charset="windows-1252"><p>café “x”</p>'.encode("cp1252"), "café “x”", "windows-1252"),
        # iso-8859-1 is read as windows-1252 by browsers: 0x93/0x94 are quotes, 0x81 (undefined) a C1 control
        (
            b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1"><p>\x93q\x94\x81</p>',
            "“q”",
            "windows-1252",
        ),
        ('<meta charset="shift_jis"><p>日本語</p>'.encode("shift_jis"), "日本語", "Shift_JIS"),
        ('<meta charset="koi8-r"><p>мир</p>'.encode("koi8_r"), "мир", "KOI8-R"),
        # a page that says UTF-8 but was saved in windows-1252: the declaration is wrong, the detector reads it
        (
            '<meta charset="utf-8"><p>Café crème, crêpe et thé.</p>'.encode("cp1252"),
            "Café crème, crêpe et thé.",
            "windows-1252",
        ),
        (f"<p>{RUSSIAN}</p>".encode("cp1251"), RUSSIAN, "windows-1251"),  # no declaration: the detector
        ('<meta charset="utf-16"><p>café</p>'.encode(), "café", "UTF-8"),  # UTF-16 declared in ASCII: UTF-8
    ],
)
def test_html_sniffing_order(data: bytes, text: str, encoding: str):
    extracted = extract("page.html", data)
    assert extracted.text.rstrip("\x81") == text and extracted.encoding == encoding
    assert html_text(data) == extracted.text


def test_html_decoding_never_fails_and_binary_is_still_refused():
    markup, encoding = decode_html(bytes(range(0x80, 0x100)))  # no text encoding fits: windows-1252 all the same
    assert (markup[:2], encoding) == ("€\x81", "windows-1252")
    with pytest.raises(ValueError, match="binary"):
        html_text(b"<p>\x00\x01</p>")


# --- plain text: UTF-8, else the detector -------------------------------------------------------


@pytest.mark.parametrize(
    "data, text, encoding",
    [
        ("naïve café".encode(), "naïve café", "UTF-8"),
        ("\ufeffBOM kept".encode(), "\ufeffBOM kept", "UTF-8"),  # kept: offsets index the file as stored
        (LATIN_NOTE.encode("latin-1"), LATIN_NOTE, "windows-1252"),
        ("café crème".encode("latin-1"), "café crème", "windows-1252"),  # short: windows-1252 wins ties
        ("“Smart quotes” – café".encode("cp1252"), "“Smart quotes” – café", "windows-1252"),
        (UTF16_NOTE.encode("utf-16-le"), UTF16_NOTE, "UTF-16LE"),  # no byte-order mark
        (UTF16_NOTE.encode("utf-16-be"), UTF16_NOTE, "UTF-16BE"),
        (UTF16_NOTE.encode("utf-16"), UTF16_NOTE, "UTF-16LE"),
        (RUSSIAN.encode("cp1251"), RUSSIAN, "windows-1251"),
        (RUSSIAN.encode("koi8_r"), RUSSIAN, "KOI8-R"),
        ("これは日本語の文章です。".encode("shift_jis"), "これは日本語の文章です。", "Shift_JIS"),
    ],
)
def test_plain_text_is_utf8_else_what_the_detector_finds(data: bytes, text: str, encoding: str):
    assert decode_text(data) == (text, encoding)
    assert extract("note.txt", data).encoding == encoding and decode(data) == text


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"\xff\xfe\x00\x00garbage", "not valid UTF-32LE"),
        (bytes(range(0x80, 0x100)) * 3, "nor any other text encoding"),
    ],
)
def test_binary_and_undecodable_text_is_refused_with_a_reason(data: bytes, message: str):
    with pytest.raises(ValueError, match=message):
        decode_text(data)


@pytest.mark.parametrize(
    "data, streamed",
    [
        (b"plain ASCII text\n" * 50, True),
        ("é".encode() * 40 + "\ufeffBOM".encode(), True),
        ("\ufeffBOM and text".encode(), True),
        (LATIN_NOTE.encode("latin-1"), False),  # read whole, by the detector
        ("text".encode("utf-16"), False),
        (UTF16_NOTE.encode("utf-16-le"), False),
    ],
)
def test_only_utf8_is_streamed_and_the_rest_is_left_to_the_whole_file_reader(tmp_path: Path, data, streamed):
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    assert check_utf8_file(path, block=16) is streamed
    assert decode(data)  # and the whole-file reader reads it


def test_a_huge_file_that_is_not_utf8_is_refused_before_it_is_read_whole(tmp_path: Path):
    path = tmp_path / "huge.txt"
    path.write_bytes("café\n".encode("latin-1") * (MAX_DETECTED_BYTES // 5 + 1))
    with pytest.raises(ValueError, match="too large to guess its encoding"):
        check_utf8_file(path)
    path.unlink()


# --- the pipeline: answers from decoded text, the encoding kept and shown -----------------------


@pytest.fixture(scope="module")
def encoded(tmp_path_factory, embedder) -> Pipeline:
    root = tmp_path_factory.mktemp("encodings")
    docs = root / "docs"
    docs.mkdir()
    (docs / "gare.txt").write_bytes(LATIN_NOTE.encode("latin-1"))
    (docs / "ferry.txt").write_bytes(UTF16_NOTE.encode("utf-16-le"))
    (docs / "menu.html").write_bytes(DEBIAN_PAGE)
    (docs / "plain.md").write_text("The harbour bell was cast by Tomas Ekdahl in 1911.\n", encoding="utf-8")
    pipe = Pipeline(Settings(docs=docs, index=root / "index"), embedder=embedder, log=io.StringIO())
    report = pipe.refresh()
    assert report is not None and not report.skipped
    return pipe


@pytest.mark.parametrize(
    "question, answer, source, encoding",
    [
        ("Who runs the station café in Dijon?", "Renée Lefèvre", "gare.txt", "windows-1252"),
        ("Who runs the night ferry to Åland?", "Birgitta Sjöberg", "ferry.txt", "UTF-16LE"),
        ("What does the café on Rue Dorée serve?", "crème brûlée", "menu.html", "windows-1252"),
    ],
)
def test_answers_from_decoded_text_keep_exact_offsets(encoded: Pipeline, question, answer, source, encoding):
    result = encoded.ask(question)
    assert result.answer is not None and result.answer.source == source
    assert answer in result.answer.text
    docs = encoded.docs_dir
    for item in (result.answer, *result.passages):
        assert file_text(docs, item.source)[item.start : item.end] == item.text
    index = Index.load(encoded.index_dir)
    assert index.texts[source].encoding == encoding  # recorded in the index
    assert index.kept_text(source) == file_text(docs, source)
    doc = Assistant(encoded).document(source)
    assert doc.encoding == encoding
    page = document_page(source, doc, result.answer.span)
    assert f"Read as {encoding}." in page


def test_utf8_text_is_not_kept_twice(encoded: Pipeline):
    index = Index.load(encoded.index_dir)
    assert "plain.md" not in index.texts  # its text is the file as stored
    assert "Read as" not in document_page("plain.md", Assistant(encoded).document("plain.md"), None)
