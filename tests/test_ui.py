"""The chat page's logic, without a browser: replies, highlights, safe uploads and the shared lock."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from rag.errors import UsageError
from rag.types import Answer, Passage, Result
from ui.core import (
    MAX_UPLOAD_BYTES,
    NOT_FOUND,
    Assistant,
    UploadRejected,
    check_upload,
    format_reply,
    highlight,
    load_readers,
    md_escape,
    passage_label,
    safe_name,
    save_new,
    sources_heading,
)

from .builders import make_docx, make_pdf

PASSAGE = Passage("deal.txt", 100, 139, "GPUs come from CoreWeave, a cloud firm.", 0.4569)
ANSWER = Answer("CoreWeave", "deal.txt", 115, 124, 0.3246, PASSAGE)


# --- replies and highlights ---------------------------------------------------------------


def test_reply_gives_answer_confidence_and_citation():
    reply = format_reply(Result("who?", ANSWER, (PASSAGE,)))
    assert reply.startswith("**CoreWeave**")
    assert "confidence 0.32" in reply
    assert "deal\\.txt, characters 115–124" in reply


def test_reply_cites_the_page_of_a_pdf():
    answer = replace(ANSWER, source="deal.pdf", page=2)
    assert "deal\\.pdf, page 2, characters 115–124" in format_reply(Result("who?", answer, (PASSAGE,)))


def test_abstention_says_not_found_and_points_to_the_passages():
    assert format_reply(Result("capital?", None, (PASSAGE,))).startswith(NOT_FOUND)
    assert "Sources" in format_reply(Result("capital?", None, (PASSAGE,)))
    assert format_reply(Result("capital?", None, ())) == NOT_FOUND


def test_reply_escapes_document_text():
    evil = Answer("<script>x()</script> *[a](javascript:y)*", "a<b>.txt", 0, 40, 0.9)
    reply = format_reply(Result("q", evil, ()))
    assert "<script>" not in reply and "<b>" not in reply
    assert "&lt;script&gt;" in reply
    assert "\\[a\\]\\(javascript:y\\)" in reply and "\\*" in reply


@pytest.mark.parametrize("text", ["<img src=x onerror=alert(1)>", "a & b", "**bold** _it_ `code` $x$ # h", "1. item"])
def test_md_escape_leaves_no_markup(text):
    escaped = md_escape(text)
    assert "<" not in escaped and ">" not in escaped
    for ch in "*_`$#.":
        assert escaped.count(ch) == escaped.count("\\" + ch)


def test_highlight_marks_the_answer_inside_the_passage():
    segments = highlight(PASSAGE, ANSWER)
    assert segments == [("GPUs come from ", None), ("CoreWeave", "answer"), (", a cloud firm.", None)]
    assert "".join(text for text, _ in segments) == PASSAGE.text


def test_highlight_at_the_edges_has_no_empty_segments():
    at_start = Answer("GPUs", "deal.txt", 100, 104, 0.5)
    at_end = Answer("firm.", "deal.txt", 134, 139, 0.5)
    assert highlight(PASSAGE, at_start) == [("GPUs", "answer"), (PASSAGE.text[4:], None)]
    assert highlight(PASSAGE, at_end) == [(PASSAGE.text[:34], None), ("firm.", "answer")]


@pytest.mark.parametrize(
    "answer",
    [None, Answer("CoreWeave", "other.txt", 115, 124, 0.3), Answer("x", "deal.txt", 10, 20, 0.3)],
    ids=["abstained", "other-file", "outside"],
)
def test_highlight_without_the_answer_is_the_plain_passage(answer):
    assert highlight(PASSAGE, answer) == [(PASSAGE.text, None)]


def test_labels_and_heading_cite_file_range_and_score():
    assert passage_label(1, PASSAGE) == "1. deal.txt · characters 100–139 · score 0.457"
    assert passage_label(2, replace(PASSAGE, source="deal.pdf", page=3)).startswith("2. deal.pdf · page 3 · characters")
    assert "who \\*supplies\\*?" in sources_heading(Result("who *supplies*?", None, (PASSAGE,)))
    assert sources_heading(Result("q", None, ())) == ""


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
    with pytest.raises(UploadRejected, match=r"only \.txt, \.md, \.html, \.htm, \.pdf or \.docx files"):
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
        ("café".encode("latin-1"), "not UTF-8"),
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
        ("a.pdf", b"%PDF-1.7 text", "cannot be read \\(not a readable PDF"),
        ("a.pdf", make_pdf([[]]), "no extractable text"),
        ("a.docx", b"PK not a zip", "not a readable .docx"),
        ("a.html", "<p>café</p>".encode("latin-1"), "not UTF-8"),
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

    def ask(self, question: str, top_k: int | None = None, threshold=None, reader=None) -> Result:
        if not question.strip():
            raise UsageError("the question is empty")
        self._enter("asks")
        used = (reader or self.reader).threshold if threshold is None else threshold
        seen = Answer(question, "x.txt", 0, 1, used)
        return Result(question, seen, (PASSAGE,) * (top_k or 1))

    def refresh(self):
        self.refreshing.set()
        if self.hold_refresh is not None:
            self.hold_refresh.wait(5)
        self._enter("refreshes")
        self.refreshes += 1


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
        ("latin.txt", "é".encode("latin-1")),
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


# --- the real pipeline ---------------------------------------------------------------------


def test_uploaded_document_is_answerable_right_away(docs: Path, tmp_path: Path, embedder):
    from rag.pipeline import Pipeline

    pipe = Pipeline(docs, tmp_path / "index", embedder=embedder)
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

    pipe = Pipeline(docs, tmp_path / "index", embedder=embedder)
    assistant = Assistant(pipe)
    upload = tmp_path / "Harbour Report.pdf"
    upload.write_bytes(make_pdf([["Harbour records."], ["The Port Elira lighthouse was designed by Tomasz Wren."]]))

    assert "Added **Harbour\\-Report\\.pdf**" in assistant.add_document(upload)

    result = assistant.ask("Who designed the Port Elira lighthouse?", top_k=5)
    assert result.answer is not None and result.answer.text == "Tomasz Wren" and result.answer.page == 2
    assert "Harbour\\-Report\\.pdf, page 2, characters" in format_reply(result)
    rank, passage = next((i, p) for i, p in enumerate(result.passages, 1) if p.source == "Harbour-Report.pdf")
    assert passage_label(rank, passage).startswith(f"{rank}. Harbour-Report.pdf · page 2 · characters")
