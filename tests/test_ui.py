"""The chat page's logic, without a browser: replies with their sources, confidence labels, the
document view, safe uploads, removals and replacements, and the shared locks."""

from __future__ import annotations

import hashlib
import html
import os
import re
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from rag.errors import UsageError
from rag.settings import Settings
from rag.types import Answer, Extracted, Passage, Result, Span
from ui.core import Assistant, load_readers
from ui.document_view import document_body, document_page, document_span
from ui.reply import (
    LABEL_MEANING,
    LEVELS,
    NOT_FOUND,
    RECOMMENDED,
    SURE,
    Context,
    changed_on,
    confidence,
    document_href,
    excerpt,
    format_reply,
    level_thresholds,
    log_odds,
    on_slider,
    ranked_sentences,
    sentence_around,
    sources,
)
from ui.text import DocumentError, UploadRejected, count
from ui.uploads import MAX_UPLOAD_BYTES, check_upload, safe_name, save_new, too_large

from .builders import make_docx, make_pdf

DOC = (
    "Deal notes.\n"
    "The firms signed in May. GPUs come from CoreWeave, a cloud firm. It resells capacity, e.g. to labs.\n"
    "\n"
    "Pricing\n"
    "The price was not disclosed by either side.\n"
)
CW = DOC.index("CoreWeave")
PASSAGE = Passage(
    "deal.txt", DOC.index("GPUs"), DOC.index("Pricing") - 2, DOC[DOC.index("GPUs") : DOC.index("Pricing") - 2], 0.4569
)
ANSWER = Answer("CoreWeave", "deal.txt", CW, CW + 9, 0.6246, PASSAGE)
PRICE = Passage("deal.txt", DOC.index("Pricing"), len(DOC) - 1, DOC[DOC.index("Pricing") : -1], -0.0051)


def texts(**docs: str):
    """``text_of`` over a dict of document texts, and a ``page_of`` that knows no pages."""
    return (lambda source: docs.get(source.replace(".", "_"))), (lambda source, offset: None)


TEXT_OF, PAGE_OF = texts(deal_txt=DOC)


class TextOnly(HTMLParser):
    """The text content of an HTML fragment (what a browser's textContent gives), and its marks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text, self.marks, self.pages, self._in_mark = "", [], [], False

    def handle_starttag(self, tag, attrs):
        if tag == "mark":
            self._in_mark = True
            self.marks.append("")
        if tag == "span" and ("class", "page") in attrs:
            self.pages.append((len(self.text), dict(attrs)["data-page"]))

    def handle_endtag(self, tag):
        if tag == "mark":
            self._in_mark = False

    def handle_data(self, data):
        self.text += data
        if self._in_mark:
            self.marks[-1] += data


def parsed(fragment: str) -> TextOnly:
    parser = TextOnly()
    parser.feed(fragment)
    parser.close()
    return parser


# --- confidence, plurals, the threshold slider -----------------------------------------------


@pytest.mark.parametrize(
    "score, threshold, label",
    [
        (0.06, 0.0459, "low"),
        (0.17, 0.0459, "low"),
        (0.60, 0.0459, "medium"),
        (0.94, 0.0459, "medium"),
        (0.97, 0.0459, "high"),
        (0.30, 0.24, "low"),
        (0.90, 0.24, "medium"),
        (0.999, 0.24, "high"),
        (0.01, 0.0459, "low"),  # under the reader's threshold: a user lowered the slider
    ],
)
def test_confidence_labels_are_relative_to_the_readers_threshold(score, threshold, label):
    assert confidence(score, threshold) == label


def test_confidence_steps_are_log_odds_above_the_threshold():
    t = 0.2
    just = [1 / (1 + pow(2.718281828459045, -(log_odds(t) + m))) for m in (2.999, 3.001, 5.999, 6.001)]
    assert [confidence(p, t) for p in just] == ["low", "medium", "medium", "high"]
    scores = [i / 100 for i in range(1, 100)]
    order = {"low": 0, "medium": 1, "high": 2}
    assert [order[confidence(s, t)] for s in scores] == sorted(order[confidence(s, t)] for s in scores)


def test_slider_values_are_rounded_to_its_step():
    assert on_slider(0.0459) == 0.05
    assert on_slider(0.7905) == 0.79
    assert on_slider(0.24) == 0.24


def test_counts_agree_with_their_number():
    assert [count(n, "passage") for n in (0, 1, 2)] == ["0 passages", "1 passage", "2 passages"]


# --- sentences around a span -------------------------------------------------------------------


def cut_text(text: str, start: int, end: int) -> str:
    cut = sentence_around(text, start, end)
    return text[cut.start : cut.end]


def test_the_sentence_around_an_answer_is_whole():
    assert cut_text(DOC, CW, CW + 9) == "GPUs come from CoreWeave, a cloud firm."
    first = DOC.index("firms")
    assert cut_text(DOC, first, first + 5) == "The firms signed in May."


def test_abbreviations_and_wrapped_lines_do_not_end_a_sentence():
    at = DOC.index("labs")
    assert cut_text(DOC, at, at + 4) == "It resells capacity, e.g. to labs."
    pdf = "Defaults\nThe default is 50, and the maxi-\nmum is 100. Next sentence."
    at = pdf.index("50")
    assert cut_text(pdf, at, at + 2) == "The default is 50, and the maxi-\nmum is 100."


def test_headings_and_blank_lines_end_a_sentence():
    at = DOC.index("price")
    assert cut_text(DOC, at, at + 5) == "The price was not disclosed by either side."
    assert cut_text("A list\n\nitem one has no stop\n\nnext", 8, 12) == "item one has no stop"


def test_a_long_sentence_is_cut_at_a_word_and_says_so():
    text = "start " + "word " * 200 + "ANSWER " + "word " * 200 + "end."
    at = text.index("ANSWER")
    cut = sentence_around(text, at, at + 6, reach=50)
    assert cut.cut_before and cut.cut_after
    assert cut.start <= at and at + 6 <= cut.end and cut.end - cut.start < 120
    assert text[cut.start - 1].isspace() and text[cut.end].isspace()


def test_a_passage_without_the_answer_shows_its_sentence_closest_to_the_question():
    a, b = ranked_sentences(DOC, PASSAGE.start, PASSAGE.end, "Who supplies the GPUs?")[0]
    assert DOC[a:b] == "GPUs come from CoreWeave, a cloud firm."


# --- excerpts and sources ----------------------------------------------------------------------


def test_the_answers_excerpt_is_cut_by_offsets_and_marks_the_answer():
    ex = excerpt(ANSWER, TEXT_OF, PAGE_OF, mark=ANSWER)
    assert ex.text == DOC[ex.start : ex.end] == "GPUs come from CoreWeave, a cloud firm."
    assert ex.mark == ANSWER.span and ex.text[ex.mark.start - ex.start : ex.mark.end - ex.start] == "CoreWeave"
    assert not ex.cut_before and not ex.cut_after


def test_an_excerpt_reaches_outside_the_passage_to_finish_its_sentence():
    mid = Passage("deal.txt", CW - 5, CW + 20, DOC[CW - 5 : CW + 20], 0.3)  # starts mid-sentence
    ex = excerpt(mid, TEXT_OF, PAGE_OF, "who?", mark=replace(ANSWER, passage=mid))
    assert ex.text == "GPUs come from CoreWeave, a cloud firm." and not ex.cut_before


def test_without_the_document_text_the_passage_is_used_and_marked_as_cut():
    moved, _ = texts(deal_txt="The file was edited since.")
    mid = Passage("deal.txt", CW - 5, CW + 20, DOC[CW - 5 : CW + 20], 0.3)
    ex = excerpt(mid, moved, PAGE_OF, "who?", mark=ANSWER)
    assert ex.text == DOC[ex.start : ex.end] and ex.start >= mid.start and ex.cut_before
    assert ex.text[ex.mark.start - ex.start : ex.mark.end - ex.start] == "CoreWeave"


def test_sources_belong_to_their_result_and_never_repeat_a_sentence():
    overlap = replace(PASSAGE, start=PASSAGE.start, score=0.3)
    shown = sources(Result("Who supplies the GPUs?", ANSWER, (PASSAGE, overlap, PRICE)), TEXT_OF, PAGE_OF)
    assert [s.mark is not None for s in shown] == [True, False, False]
    assert len({(s.start, s.end) for s in shown}) == len(shown)
    assert shown[0].text == "GPUs come from CoreWeave, a cloud firm."
    for s in shown:
        assert DOC[s.start : s.end] == s.text


# --- the reply ---------------------------------------------------------------------------------


def reply_for(result: Result, calibrated: float = 0.05, used: float = 0.05, seconds: float = 0.42) -> str:
    shown = sources(result, TEXT_OF, PAGE_OF)
    found = None if result.answer is None else excerpt(result.answer, TEXT_OF, PAGE_OF, mark=result.answer)
    return format_reply(result, shown, found, calibrated, used, seconds)


def test_reply_gives_answer_sentence_label_link_and_time():
    reply = reply_for(Result("Who supplies the GPUs?", ANSWER, (PASSAGE, PRICE)))
    text = parsed(reply).text
    assert "<strong>CoreWeave</strong>" in reply
    assert "GPUs come from CoreWeave, a cloud firm." in text and "<mark>CoreWeave</mark>" in reply
    assert "medium confidence" in text and html.escape(LABEL_MEANING["medium"]) in reply
    assert "0.62" not in reply and "probability" not in reply  # plain words, no raw numbers
    assert html.escape(document_href("deal.txt", CW, CW + 9, "CoreWeave")) in reply
    assert "0.4 s" in text
    assert "characters" not in text and "score" not in text and "\n" not in reply


def test_reply_cites_the_page_of_a_pdf():
    pdf = replace(ANSWER, source="deal.pdf", page=2, passage=replace(PASSAGE, source="deal.pdf", page=2))
    result = Result("who?", pdf, (replace(PASSAGE, source="deal.pdf", page=2),))
    reply = format_reply(result, sources(result, *texts(deal_pdf=DOC)), None, 0.05, 0.05, 0.1)
    assert ">deal.pdf, page 2</a>" in reply


def test_each_reply_carries_its_own_collapsed_sources():
    reply = reply_for(Result("Who supplies the GPUs?", ANSWER, (PASSAGE, PRICE)))
    assert re.search(r'<details class="sources"><summary>Sources \(2\)</summary>', reply)
    assert '<details class="sources" open' not in reply
    assert len(parsed(reply).marks) == 2  # the quote under the answer and the first source


def test_abstention_says_not_found_lists_the_closest_passages_and_no_score():
    reply = reply_for(Result("What is the capital of France?", None, (PRICE, PASSAGE)))
    text = parsed(reply).text
    assert text.startswith(NOT_FOUND) and "Closest passages (2)" in text
    assert not re.search(r"-\d", text) and "score" not in text and "0.0051" not in reply
    assert "<mark>" not in reply


def test_reply_escapes_document_text():
    evil = "Note <script>x()</script> *[a](javascript:y)* `z` $x$ done."
    answer = Answer("<script>x()</script>", "e.md", 5, 25, 0.9)
    result = Result("q", answer, (Passage("e.md", 0, len(evil), evil, 0.5),))
    shown = sources(result, *texts(e_md=evil))
    reply = format_reply(result, shown, excerpt(answer, *texts(e_md=evil), mark=answer), 0.05, 0.05, 0.1)
    assert "<script>" not in reply and "&lt;script&gt;" in reply
    assert "*[a](javascript:y)*" in html.unescape(parsed(reply).text)


# --- the document view ------------------------------------------------------------------------


def test_document_body_is_the_text_exactly_with_the_span_marked():
    text = "Line one <b>&amp;</b>\r\nLine two holds the ANSWER here.\n"
    at = text.index("ANSWER")
    body = parsed(document_body(text, (), Span(at, at + 6)))
    assert body.text == text and body.marks == ["ANSWER"]
    assert "<b>" not in document_body(text, (), None)


def test_document_body_marks_pages_outside_the_span():
    text = "Page one text.\n\nPage two text.\n\nPage three."
    pages = (0, text.index("Page two"), text.index("Page three"))
    span = Span(text.index("text.\n\nPage two"), text.index("two text") + 3)  # crosses page 2's start
    body = parsed(document_body(text, pages, span))
    assert body.text == text and body.marks == [text[span.start : span.end]]
    assert body.pages == [(0, "1"), (pages[2], "3")]


def test_document_span_is_only_one_that_still_holds_the_cited_text():
    doc = Extracted("abc CoreWeave def")
    href = document_href("d.txt", 4, 13, "CoreWeave")
    check = re.search(r"check=(\w+)", href).group(1)
    assert document_span(doc, 4, 13, check) == Span(4, 13)
    assert document_span(doc, 4, 13, "0" * 12) is None
    assert document_span(doc, 13, 4, None) is None and document_span(doc, 4, 99, None) is None
    page = document_page("d<x>.txt", doc, None, asked=True)
    assert "d&lt;x&gt;.txt" in page and "has changed" in page


# --- upload names and contents -------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("notes.txt", "notes.txt"),
        ("Notes.MD", "Notes.md"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\x.md", "x.md"),
        ("/abs/path/y.txt", "y.txt"),
        (".hidden.txt", "hidden.txt"),
        ("...txt", "document.txt"),
        ("a b<c>|d?.txt", "a-b-c-d.txt"),
        ("Zürich notes.txt", "Zürich-notes.txt"),
        ("x\x00y\n.txt", "x-y.txt"),
        ("a..b.txt", "a.b.txt"),
        ("x" * 300 + ".txt", "x" * 100 + ".txt"),
        ("Annual Report.PDF", "Annual-Report.pdf"),
        ("page.htm", "page.htm"),
        ("letter.docx", "letter.docx"),
    ],
)
def test_safe_name(name, expected):
    assert safe_name(name) == expected


@pytest.mark.parametrize("name", ["x.doc", "x.txt.exe", "README", "", "..", "dir/", "x.txt/"])
def test_safe_name_refuses_other_kinds(name):
    kinds = r"\.txt, \.md, \.html, \.htm, \.pdf, \.docx, \.odt, \.pptx, \.xlsx, \.csv, \.epub or \.eml"
    with pytest.raises(UploadRejected, match=rf"only {kinds} files"):
        safe_name(name)


def test_check_upload_accepts_utf8_text_and_extracts_other_formats():
    assert check_upload("héllo\n".encode(), "a.txt") == "héllo\n"
    assert check_upload(b"<p>Hello <b>there</b></p>", "a.html") == "Hello there"
    assert check_upload(make_pdf([["Page one."], ["Page two."]]), "a.pdf") == "Page one.\n\nPage two."
    assert check_upload(make_docx(["One para.", "Two para."]), "a.docx") == "One para.\n\nTwo para."


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
        (bytes(range(0x80, 0x100)) * 3, "nor any other text encoding"),
        (b"  \n\t", "no text"),
        (b"", "no text"),
        (b"a" * (MAX_UPLOAD_BYTES + 1), "limit is 5 MB"),
    ],
)
def test_check_upload_refuses_bad_files(data, message):
    with pytest.raises(UploadRejected, match=message):
        check_upload(data, "a.txt")


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("a.pdf", b"%PDF-1.7 text", "^this PDF is damaged: stream has ended unexpectedly$"),
        ("a.pdf", make_pdf([[]]), "no extractable text"),
        ("a.docx", b"PK not a zip", "^this .docx file is damaged: file is not a zip file$"),
        ("a.html", b"<p>\x00\x01</p>", "binary"),
        ("a.html", b"<script>x()</script>", "no visible text"),
    ],
)
def test_check_upload_refuses_broken_documents_of_other_formats(name, data, message):
    with pytest.raises(UploadRejected, match=message):
        check_upload(data, name)


def test_save_new_never_overwrites(tmp_path: Path):
    (tmp_path / "a.txt").write_text("old")
    first = save_new(tmp_path, "a.txt", b"new 1")
    second = save_new(tmp_path, "a.txt", b"new 2")
    assert (first.name, second.name) == ("a-1.txt", "a-2.txt")
    assert (tmp_path / "a.txt").read_text() == "old"
    assert second.read_bytes() == b"new 2"


# --- the shared pipeline, with fakes -----------------------------------------------------


@dataclass
class FakeReader:
    name: str = "baseline"
    threshold: float = 0.3


class FakePipeline:
    """Records how many calls are inside it at once; each answer's score is the threshold its ask used."""

    def __init__(self, docs_dir: Path) -> None:
        self.docs_dir, self.reader = docs_dir, FakeReader()
        self.inside = {"asks": 0, "refreshes": 0}
        self.most_inside_asks = self.most_inside_refreshes = self.refreshes = 0
        self.count_lock = threading.Lock()
        self.refreshing = threading.Event()
        self.hold_refresh: threading.Event | None = None

    def _enter(self, kind: str) -> None:
        with self.count_lock:
            self.inside[kind] += 1
            if kind == "asks":
                self.most_inside_asks = max(self.most_inside_asks, self.inside[kind])
            else:
                self.most_inside_refreshes = max(self.most_inside_refreshes, self.inside[kind])
        time.sleep(0.01)
        with self.count_lock:
            self.inside[kind] -= 1

    def ask(self, question: str, top_k: int | None = None, threshold=None, reader=None, **given) -> Result:
        if not question.strip():
            raise UsageError("the question is empty")
        self.given = given  # sources, search: what the chat passed on
        self._enter("asks")
        used = (reader or self.reader).threshold if threshold is None else threshold
        seen = Answer(question, "x.txt", 0, 1, used)
        return Result(question, seen, (PASSAGE,) * (top_k or 1))

    def threshold_for(self, reader, threshold=None) -> float:
        return reader.threshold if threshold is None else threshold

    def refresh(self, strict: bool = False):
        self.refreshing.set()
        if self.hold_refresh is not None:
            self.hold_refresh.wait(5)
        self._enter("refreshes")
        self.refreshes += 1
        self.index = FakeIndex.of(self.docs_dir)


@dataclass
class FakeIndex:
    """What an index's manifest says of each file: its SHA-256, as a real build records it."""

    manifest: dict

    @classmethod
    def of(cls, docs_dir: Path) -> FakeIndex:
        from rag.documents.folder import doc_paths

        files = {
            source: {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()} for source, path in doc_paths(docs_dir)
        }
        return cls({"files": files})


def test_asks_never_overlap_and_keep_their_own_settings(tmp_path: Path):
    pipe = FakePipeline(tmp_path)
    assistant = Assistant(pipe)  # type: ignore[arg-type]
    upload = tmp_path / "in" / "new.txt"
    upload.parent.mkdir()
    upload.write_text("some text")
    errors: list[str] = []

    def ask(i: int) -> None:
        result = assistant.ask(f"q{i}", top_k=1 + i % 3, threshold=i / 100)
        if (result.answer.text, result.answer.score, len(result.passages)) != (f"q{i}", i / 100, 1 + i % 3):
            errors.append(f"q{i} got {result}")

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(12)]
    threads += [threading.Thread(target=assistant.add_document, args=(upload,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert pipe.most_inside_asks == 1 and pipe.most_inside_refreshes == 1
    assert pipe.refreshes == 3
    assert sorted(p.name for p in tmp_path.glob("*.txt")) == ["new-1.txt", "new-2.txt", "new.txt"]
    assert pipe.reader.threshold == 0.3  # per-ask settings never change the shared default


def test_questions_are_answered_while_an_upload_is_being_indexed(tmp_path: Path):
    pipe = FakePipeline(tmp_path)
    pipe.hold_refresh = threading.Event()
    assistant = Assistant(pipe)  # type: ignore[arg-type]
    upload = tmp_path / "new.txt"
    upload.write_text("some text")
    adding = threading.Thread(target=assistant.add_document, args=(upload,))
    adding.start()
    assert pipe.refreshing.wait(5)
    assert assistant.ask("q", top_k=1).answer.text == "q"  # not blocked by the indexing
    assert adding.is_alive()
    pipe.hold_refresh.set()
    adding.join(5)
    assert pipe.refreshes == 1


def test_each_ask_uses_its_own_reader_and_threshold(tmp_path: Path):
    pipe = FakePipeline(tmp_path)
    other = FakeReader("neural", 0.5)
    assistant = Assistant(pipe, {"baseline": pipe.reader, "neural": other})  # type: ignore[arg-type, dict-item]
    assert assistant.ask("q", top_k=1, reader="neural").answer.score == 0.5
    assert assistant.ask("q", top_k=1, threshold=0.7, reader="neural").answer.score == 0.7
    assert assistant.ask("q", top_k=1).answer.score == 0.3
    assert pipe.reader.name == "baseline" and other.threshold == 0.5
    with pytest.raises(UsageError, match="not available"):
        assistant.ask("q", top_k=1, reader="missing")


def test_readers_that_fail_to_load_are_left_out(tmp_path: Path, monkeypatch):
    def load(name: str):
        if name == "broken":
            raise RuntimeError("no trained reader")
        return FakeReader(name)

    monkeypatch.setattr("ui.core.load_reader", load)
    pipe = FakePipeline(tmp_path)
    readers, unavailable = load_readers(pipe, ["baseline", "broken", "other"])  # type: ignore[arg-type]
    assert list(readers) == ["baseline", "other"] and readers["baseline"] is pipe.reader
    assert unavailable == {"broken": "no trained reader"}


def test_bad_question_raises_usage_error(tmp_path: Path):
    with pytest.raises(UsageError, match="empty"):
        Assistant(FakePipeline(tmp_path)).ask("   ", top_k=5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name, data",
    [
        ("x.pdf", b"text"),
        ("x.docx", b"PK"),
        ("bin.txt", b"\x00\x01\x02"),
        ("garbled.txt", bytes(range(0x80, 0x100)) * 3),
        ("empty.md", b""),
    ],
)
def test_rejected_upload_changes_nothing(tmp_path: Path, name: str, data: bytes):
    docs = tmp_path / "docs"
    docs.mkdir()
    pipe = FakePipeline(docs)
    upload = tmp_path / name
    upload.write_bytes(data)
    with pytest.raises(UploadRejected):
        Assistant(pipe).add_document(upload)  # type: ignore[arg-type]
    assert list(docs.iterdir()) == [] and pipe.refreshes == 0


def test_too_large_upload_is_refused_before_reading(tmp_path: Path):
    upload = tmp_path / "big.txt"
    with open(upload, "wb") as f:
        f.truncate(MAX_UPLOAD_BYTES + 1)  # sparse: size without writing 5 MB
    with pytest.raises(UploadRejected, match="limit is 5 MB"):
        Assistant(FakePipeline(tmp_path / "docs")).add_document(upload)  # type: ignore[arg-type]


@pytest.mark.parametrize("where", ["outside", "link-in-uploads", "missing"])
def test_only_files_in_the_upload_folder_can_be_added(tmp_path: Path, where: str):
    """The API names a path; a server file outside the upload folder, or a link from it, is refused."""
    docs, uploads = tmp_path / "docs", tmp_path / "uploads"
    docs.mkdir()
    uploads.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("The vault code is 4711.\n", encoding="utf-8")
    path = {"outside": secret, "link-in-uploads": uploads / "x.txt", "missing": uploads / "gone.txt"}[where]
    if where == "link-in-uploads":
        path.symlink_to(secret)
    pipe = FakePipeline(docs)
    with pytest.raises(UploadRejected, match="uploaded from the browser|is gone"):
        Assistant(pipe, uploads_dir=uploads).add_document(path)  # type: ignore[arg-type]
    assert list(docs.iterdir()) == [] and pipe.refreshes == 0 and secret.is_file()


def test_a_file_in_the_upload_folder_is_added(tmp_path: Path):
    docs, uploads = tmp_path / "docs", tmp_path / "uploads"
    docs.mkdir()
    (uploads / "abc").mkdir(parents=True)
    (uploads / "abc" / "notes.txt").write_text("Notes.\n", encoding="utf-8")
    Assistant(FakePipeline(docs), uploads_dir=uploads).add_document(uploads / "abc" / "notes.txt")  # type: ignore[arg-type]
    assert (docs / "notes.txt").read_text(encoding="utf-8") == "Notes.\n"


def docs_with(tmp_path: Path, **files: str) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    for name, text in files.items():
        (docs / name.replace("_", ".")).write_text(text, encoding="utf-8")
    return docs


class FailingRefresh(FakePipeline):
    def refresh(self, strict: bool = False):
        self.refreshes += 1
        raise OSError("No space left on device")


def test_remove_takes_a_document_out_and_reindexes(tmp_path: Path):
    docs = docs_with(tmp_path, a_txt="A.", b_txt="B.")
    pipe = FakePipeline(docs)
    message = Assistant(pipe).remove_document("a.txt")  # type: ignore[arg-type]
    assert "Removed **a\\.txt**" in message
    assert sorted(p.name for p in docs.iterdir()) == ["b.txt"] and pipe.refreshes == 1


def test_a_failed_removal_puts_the_file_back(tmp_path: Path):
    docs = docs_with(tmp_path, a_txt="A.", b_txt="B.")
    with pytest.raises(OSError, match="No space"):
        Assistant(FailingRefresh(docs)).remove_document("a.txt")  # type: ignore[arg-type]
    assert sorted(p.name for p in docs.iterdir()) == ["a.txt", "b.txt"]
    assert (docs / "a.txt").read_text() == "A."


@pytest.mark.parametrize("source", ["../secret.txt", "/etc/passwd", "missing.txt", ".hidden.txt", "a.txt/.."])
def test_only_the_documents_can_be_removed_viewed_or_replaced(tmp_path: Path, source: str):
    docs = docs_with(tmp_path, a_txt="A.", b_txt="B.", _hidden_txt="H.")
    (tmp_path / "secret.txt").write_text("The vault code is 4711.")
    upload = tmp_path / "new.txt"
    upload.write_text("New.")
    assistant = Assistant(FakePipeline(docs))  # type: ignore[arg-type]
    for action in (assistant.remove_document, assistant.document, lambda s: assistant.replace_document(s, upload)):
        with pytest.raises(DocumentError):
            action(source)
    assert sorted(p.name for p in docs.iterdir()) == [".hidden.txt", "a.txt", "b.txt"]
    assert (tmp_path / "secret.txt").is_file()


def test_the_last_document_is_not_removed(tmp_path: Path):
    docs = docs_with(tmp_path, a_txt="A.")
    pipe = FakePipeline(docs)
    with pytest.raises(DocumentError, match="only document"):
        Assistant(pipe).remove_document("a.txt")  # type: ignore[arg-type]
    assert (docs / "a.txt").is_file() and pipe.refreshes == 0


def test_replace_swaps_the_content_and_reindexes(tmp_path: Path):
    docs = docs_with(tmp_path, a_txt="Old text.", b_txt="B.")
    upload = tmp_path / "a-v2.txt"
    upload.write_text("New text.")
    pipe = FakePipeline(docs)
    message = Assistant(pipe).replace_document("a.txt", upload)  # type: ignore[arg-type]
    assert "Replaced **a\\.txt**" in message
    assert (docs / "a.txt").read_text() == "New text." and pipe.refreshes == 1
    assert sorted(p.name for p in docs.iterdir()) == ["a.txt", "b.txt"]  # nothing left aside


@pytest.mark.parametrize(
    "name, data, why",
    [
        ("a.md", b"Other kind.", "only be replaced by a .txt"),
        ("a.txt", b"\x00\x01", "binary"),
        ("a.txt", b" ", "no text"),
    ],
)
def test_a_refused_replacement_changes_nothing(tmp_path: Path, name: str, data: bytes, why: str):
    docs = docs_with(tmp_path, a_txt="Old text.")
    upload = tmp_path / "in" / name
    upload.parent.mkdir()
    upload.write_bytes(data)
    pipe = FakePipeline(docs)
    with pytest.raises(UploadRejected, match=why):
        Assistant(pipe).replace_document("a.txt", upload)  # type: ignore[arg-type]
    assert (docs / "a.txt").read_text() == "Old text." and pipe.refreshes == 0


def test_a_failed_replacement_puts_the_old_file_back(tmp_path: Path):
    docs = docs_with(tmp_path, a_txt="Old text.")
    upload = tmp_path / "new.txt"
    upload.write_text("New text.")
    with pytest.raises(OSError):
        Assistant(FailingRefresh(docs)).replace_document("a.txt", upload)  # type: ignore[arg-type]
    assert [p.name for p in docs.iterdir()] == ["a.txt"] and (docs / "a.txt").read_text() == "Old text."


def test_questions_are_answered_while_a_removal_is_being_indexed(tmp_path: Path):
    pipe = FakePipeline(docs_with(tmp_path, a_txt="A.", b_txt="B."))
    pipe.hold_refresh = threading.Event()
    assistant = Assistant(pipe)  # type: ignore[arg-type]
    removing = threading.Thread(target=assistant.remove_document, args=("a.txt",))
    removing.start()
    assert pipe.refreshing.wait(5)
    assert assistant.ask("q", top_k=1).answer.text == "q"  # not blocked by the indexing
    assert removing.is_alive()
    pipe.hold_refresh.set()
    removing.join(5)
    assert pipe.refreshes == 1 and assistant.documents() == ["b.txt"]


def test_one_size_message_for_every_path(tmp_path: Path):
    assert too_large(MAX_UPLOAD_BYTES + 1) == "the file is 5.1 MB; the limit is 5 MB"
    with pytest.raises(UploadRejected) as refused:
        check_upload(b"a" * (MAX_UPLOAD_BYTES + 1), "a.txt")
    assert str(refused.value) == too_large(MAX_UPLOAD_BYTES + 1)


# --- the real pipeline ---------------------------------------------------------------------


def test_uploaded_document_is_answerable_right_away(docs: Path, tmp_path: Path, embedder):
    from rag.pipeline import Pipeline

    pipe = Pipeline(Settings(docs=docs, index=tmp_path / "index"), embedder=embedder)
    pipe.refresh()
    default_threshold = pipe.reader.threshold
    assistant = Assistant(pipe)
    upload = tmp_path / "mango notes.txt"
    upload.write_text("Farm diary.\n\nThe Zanzibar mango harvest is led by Amina Juma every March.\n")

    message = assistant.add_document(upload)

    assert "Added **mango\\-notes\\.txt**" in message and "can ask" in message
    assert (docs / "mango-notes.txt").read_bytes() == upload.read_bytes()
    result = assistant.ask("Who leads the Zanzibar mango harvest?", top_k=5)
    assert result.answer is not None and result.answer.text == "Amina Juma"
    assert result.answer.source == "mango-notes.txt"
    assert "mango-notes.txt" in assistant.documents()

    again = assistant.add_document(upload)
    assert "saved as mango\\-notes\\-1\\.txt" in again
    assert assistant.ask("who supplies GPUs in the deal?", top_k=5, threshold=0.99).abstained
    assert pipe.reader.threshold == default_threshold  # a per-ask threshold leaves the shared one alone


def test_uploaded_pdf_is_answerable_and_cited_with_its_page(docs: Path, tmp_path: Path, embedder):
    from rag.pipeline import Pipeline

    pipe = Pipeline(Settings(docs=docs, index=tmp_path / "index"), embedder=embedder)
    assistant = Assistant(pipe)
    upload = tmp_path / "Harbour Report.pdf"
    upload.write_bytes(make_pdf([["Harbour records."], ["The Port Elira lighthouse was designed by Tomasz Wren."]]))

    assert "Added **Harbour\\-Report\\.pdf**" in assistant.add_document(upload)

    result = assistant.ask("Who designed the Port Elira lighthouse?", top_k=5)
    assert result.answer is not None and result.answer.text == "Tomasz Wren" and result.answer.page == 2
    reply = assistant.reply(result, seconds=0.3)
    assert ">Harbour-Report.pdf, page 2</a>" in reply
    assert "The Port Elira lighthouse was designed by <mark>Tomasz Wren</mark>." in reply
    doc = assistant.document("Harbour-Report.pdf")
    a = result.answer
    assert doc.text[a.start : a.end] == "Tomasz Wren" and doc.page_of(a.start) == 2
    view = parsed(document_page("Harbour-Report.pdf", doc, Span(a.start, a.end)))
    assert view.marks == ["Tomasz Wren"] and [n for _, n in view.pages] == ["1", "2"]


def test_a_real_reply_marks_the_answer_in_its_sentence(seed_pipeline):
    assistant = Assistant(seed_pipeline)
    result = assistant.ask("who supplies GPUs in the deal?", top_k=5)
    reply = parsed(assistant.reply(result, seconds=0.5))
    answer = result.answer
    assert answer is not None and reply.marks[0] == answer.text
    assert "A significant aspect of this collaboration involves CoreWeave" in reply.text  # the sentence it comes from
    assert "score" not in reply.text and "characters" not in reply.text


# --- sources people can read (#24 item 4) ---------------------------------------------------------

OTHER = "Club notes.\nThe garden club meets on Mondays.\nGPUs come from Nvidia, says the club.\n"
OTHER_PASSAGE = Passage("club.txt", 0, len(OTHER) - 1, OTHER[:-1], 0.2)


def test_sources_name_each_file_once_with_the_place_of_each_passage():
    text_of, location_of = texts(deal_txt=DOC, club_txt=OTHER)
    result = Result("Who supplies the GPUs?", ANSWER, (PASSAGE, OTHER_PASSAGE, PRICE))
    reply = format_reply(result, sources(result, text_of, location_of), None, 0.05, 0.05, 0.1)
    assert reply.count('<span class="file-name">deal.txt</span>') == 1
    assert reply.count('<span class="file-name">club.txt</span>') == 1
    places = re.findall(r'<a class="cite"[^>]*>([^<]*)</a>', reply)
    assert places[1:] == ["line 2", "line 5", "line 3"]  # grouped: deal.txt's two passages, then club.txt's
    assert "Sources (3 in 2 files)" in parsed(reply).text


def test_the_answer_names_its_file_and_line_and_the_label_is_explained_in_words():
    reply = reply_for(Result("Who supplies the GPUs?", ANSWER, (PASSAGE,)))
    assert re.search(r'from <a class="cite"[^>]*>deal\.txt, line 2</a>', reply)
    for label in ("high", "medium", "low"):
        assert not re.search(r"\d\.\d", LABEL_MEANING[label])
    abstained = reply_for(Result("q", None, (PRICE,)))
    assert "probability" not in abstained and "sure enough" in abstained


def test_a_located_answer_keeps_its_location_over_a_line():
    slide = replace(ANSWER, location="slide 3")
    reply = reply_for(Result("who?", slide, (PASSAGE,)))
    assert ">deal.txt, slide 3</a>" in reply


# --- the conversation: follow-ups, a change of file, two versions of a fact (#24 items 1-3) -----


def test_a_follow_up_carries_the_conversations_subject():
    from ui.followup import read, subject_after

    subject = subject_after(read("How much is Stargate worth?"))
    assert subject == ("Stargate",)
    follow = read("and who is in it?", subject)
    assert follow.search == "and who is in it? Stargate" and follow.shown == "Who is in Stargate?"
    assert read("when was that?", subject_after(follow)).subject == ("Stargate",)
    assert read("What is the capital of France?", subject).search == "What is the capital of France?"
    assert read("and is Stargate big?", subject).shown is None  # it names the subject itself
    assert read("and who is in it?").shown is None  # nothing to lean on
    assert subject_after(read("When did OpenAI sign with Google's cloud?")) == ("OpenAI", "Google")


def test_a_reply_says_how_it_read_a_follow_up_a_change_of_file_and_a_disagreement():
    porto = Answer("Nvidia", "club.txt", OTHER.index("Nvidia"), OTHER.index("Nvidia") + 6, 0.9)
    context = Context(read_as="and who? (about GPUs)", previous_source="club.txt", other=porto)
    result = Result("Who supplies the GPUs?", ANSWER, (PASSAGE,))
    text = parsed(format_reply(result, [], None, 0.05, 0.05, 0.1, None, context)).text
    assert "Read as: and who? (about GPUs)" in text
    assert "From a different file than the previous answer: deal.txt (before: club.txt)." in text
    assert "Another file says otherwise: Nvidia (club.txt). This answer is from deal.txt. Check which one" in text
    same = Context(previous_source="deal.txt", other=replace(porto, text="coreweave."))
    quiet = parsed(format_reply(result, [], None, 0.05, 0.05, 0.1, None, same)).text
    assert "different file" not in quiet and "otherwise" not in quiet


def test_two_files_that_disagree_are_each_shown_with_their_date():
    """The dates are what tell an old copy from the current one: each file with its day, in words."""
    porto = Answer("Nvidia", "club.txt", OTHER.index("Nvidia"), OTHER.index("Nvidia") + 6, 0.9)
    changed = {"club.txt": datetime(2024, 3, 4, 12).timestamp(), "deal.txt": datetime(2025, 11, 30, 23, 59).timestamp()}
    context = Context(other=porto, changed=changed)
    result = Result("Who supplies the GPUs?", ANSWER, (PASSAGE,))
    text = parsed(format_reply(result, [], None, 0.05, 0.05, 0.1, None, context)).text
    assert (
        "Another file says otherwise: Nvidia (club.txt, changed 4 March 2024). "
        "This answer is from deal.txt, changed 30 November 2025. Check which one is current." in text
    )
    assert changed_on(datetime(2023, 1, 9, 0, 1).timestamp()) == "changed 9 January 2023"


def test_a_real_disagreement_names_both_files_and_the_dates_they_were_changed(docs: Path, tmp_path: Path, embedder):
    """Through the real pipeline and reader: an old and a new handbook disagree; the reply gives both
    answers, each with its file and the file's modification date."""
    from rag.pipeline import Pipeline

    (docs / "handbook-2019.txt").write_text("Office handbook (2019).\n\nOur head office is in Lisbon.\n")
    (docs / "handbook-2024.txt").write_text("Office handbook (2024).\n\nOur head office is in Porto.\n")
    os.utime(docs / "handbook-2019.txt", (time.time(), datetime(2019, 6, 1, 9).timestamp()))
    os.utime(docs / "handbook-2024.txt", (time.time(), datetime(2024, 3, 4, 9).timestamp()))
    pipe = Pipeline(Settings(docs=docs, index=tmp_path / "index"), embedder=embedder)
    pipe.refresh()
    assistant = Assistant(pipe)
    result = assistant.ask("Where is the head office?", 5)
    other = assistant.other_answer(result)
    assert result.answer is not None and other is not None
    assert {result.answer.text, other.text} == {"Lisbon", "Porto"}
    note = parsed(assistant.reply(result, context=Context(other=other))).text
    dates = {"handbook-2019.txt": "changed 1 June 2019", "handbook-2024.txt": "changed 4 March 2024"}
    said = f"Another file says otherwise: {other.text} ({other.source}, line 3, {dates[other.source]})."
    assert said in note
    assert f"This answer is from {result.answer.source}, {dates[result.answer.source]}." in note
    assert assistant.changed(["../outside.txt", "gone.txt"]) == {}  # nothing outside the documents, nothing gone


def test_the_chat_passes_the_chosen_files_and_the_follow_up_search_on(tmp_path: Path):
    pipe = FakePipeline(tmp_path)
    assistant = Assistant(pipe)  # type: ignore[arg-type]
    assistant.ask("and who is in it?", 3, sources=["a.txt"], search="and who is in it? Stargate")
    assert pipe.given == {"sources": ["a.txt"], "search": "and who is in it? Stargate"}
    assistant.ask("q", 3)
    assert pipe.given == {}


# --- settings in words (#24 item 7) ----------------------------------------------------------


def test_threshold_levels_are_named_ordered_and_start_at_the_readers_own():
    for calibrated, cutoffs in ((0.0459, None), (0.24, None), (0.05, {"medium": 0.5, "high": 0.95})):
        levels = level_thresholds(calibrated, cutoffs)
        assert list(levels) == list(LEVELS) and levels[RECOMMENDED] == calibrated
        assert [levels[n] for n in LEVELS] == sorted(levels[n] for n in LEVELS)
    assert level_thresholds(0.05, {"medium": 0.5, "high": 0.95})[SURE] == 0.95
    assert confidence(level_thresholds(0.2)[SURE], 0.2) == "high"


# --- documents panel (#24 item 8) ----------------------------------------------------------------


def test_replacing_a_document_with_the_same_file_says_unchanged(tmp_path: Path):
    docs = docs_with(tmp_path, a_txt="Old text.", b_txt="B.")
    upload = tmp_path / "in" / "a.txt"
    upload.parent.mkdir()
    upload.write_text("Old text.")
    pipe = FakePipeline(docs)
    message = Assistant(pipe).replace_document("a.txt", upload)  # type: ignore[arg-type]
    assert message == "**a\\.txt** is unchanged: the file chosen is the same as the one in use."
    assert pipe.refreshes == 0


def test_sizes_are_in_one_unit_mb_of_a_million_bytes():
    assert MAX_UPLOAD_BYTES == 5_000_000
    assert too_large(6_000_000) == "the file is 6.0 MB; the limit is 5 MB"
    assert too_large(5_000_001) == "the file is 5.1 MB; the limit is 5 MB"  # never rounded down to the limit


def test_a_damaged_file_is_refused_in_plain_words():
    from ui.uploads import plain_reason

    assert plain_reason("not a readable PDF (PdfStreamError: Stream has ended unexpectedly)") == (
        "this PDF is damaged: stream has ended unexpectedly"
    )
    assert (
        plain_reason("encrypted PDF (it needs a password)")
        == "the file cannot be read (encrypted PDF (it needs a password))"
    )
    assert "Error" not in plain_reason("not a valid .pptx (BadZipFile: KeyError: x)")


# --- choose your documents, on the real pipeline (#24 item 2) ----------------------------------


def test_a_question_can_be_restricted_to_chosen_files(docs: Path, tmp_path: Path, embedder):
    from rag.pipeline import Pipeline

    pipe = Pipeline(Settings(docs=docs, index=tmp_path / "index"), embedder=embedder)
    (docs / "mango.txt").write_text("Farm diary.\n\nThe Zanzibar mango harvest is led by Amina Juma every March.\n")
    pipe.refresh()
    seed = "openai-google-cloud-partnership.txt"
    everywhere = pipe.retrieve("Who leads the Zanzibar mango harvest?", 5)
    assert everywhere[0].source == "mango.txt"
    only = pipe.retrieve("Who leads the Zanzibar mango harvest?", 5, sources=[seed])
    assert only and {p.source for p in only} == {seed}
    assert pipe.retrieve("Who leads the Zanzibar mango harvest?", 5, sources=[]) == []
    result = pipe.ask("and who leads it?", 5, search="and who leads it? Zanzibar mango harvest")
    assert result.question == "and who leads it?" and result.passages[0].source == "mango.txt"


# --- history and Copy (#24 item 11) -------------------------------------------------------------------


def test_copy_holds_the_answer_its_sentence_and_its_citation_as_plain_text():
    reply = reply_for(Result("Who supplies the GPUs?", ANSWER, (PASSAGE, PRICE)))
    hidden = re.search(r'<span class="copy-text">(.*?)</span><button class="copy-answer"', reply)
    assert hidden is not None and "\n" not in reply  # line breaks as &#10;: a reply holds none
    assert html.unescape(hidden.group(1)) == "CoreWeave\n“GPUs come from CoreWeave, a cloud firm.”\n— deal.txt, line 2"
    assert "copy-answer" not in reply_for(Result("Who?", None, (PASSAGE,)))  # nothing to copy: no button


def test_a_kept_chat_message_is_read_back_as_text_or_left_out():
    from ui.chat import message_text

    assert message_text({"role": "user", "content": "hi"}) == "hi"
    assert message_text({"role": "assistant", "content": [{"type": "text", "text": "<div>x</div>"}]}) == "<div>x</div>"
    assert message_text({"role": "user", "content": [{"type": "file", "path": "/etc/passwd"}]}) is None
    assert message_text({"role": "user", "content": 3}) is None


def test_questions_share_one_pool_of_the_chosen_size(tmp_path: Path):
    """Every way of asking (Enter, Ask, an example) answers in one pool of ``--concurrency`` questions at
    once (bench/chat_load.py measures what it does); the models' work still takes turns (Assistant.lock)."""
    from ui.app import build

    demo = build(Assistant(FakePipeline(docs_with(tmp_path, a_txt="A.")), concurrency=3))  # type: ignore[arg-type]
    responds = [f for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "respond"]
    assert len(responds) >= 3
    assert {(f.concurrency_limit, f.concurrency_id) for f in responds} == {(3, "respond")}
