"""What the chat page does, without Gradio: replies, highlighted passages, safe uploads, one lock.

Everything here is plain Python so it can be unit-tested; ``ui.app`` only lays it out.
Text from documents and users is always escaped before it reaches Markdown.
"""

from __future__ import annotations

import html
import re
import threading
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from rag.config import DOC_SUFFIXES
from rag.documents.folder import doc_paths
from rag.documents.formats import extract, is_plain
from rag.errors import RagError, UsageError
from rag.pipeline import Pipeline
from rag.reader import READERS, Reader, load_reader
from rag.types import Answer, Passage, Result, where

NOT_FOUND = "Not found in the documents."
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_STEM_CHARS = 100
ANSWER_LABEL = "answer"

Segments = list[tuple[str, str | None]]

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")


class UploadRejected(RagError):
    """An uploaded file that cannot be added; the message says why, and nothing was written."""


def md_escape(text: str) -> str:
    """``text`` as Markdown that displays literally: no HTML, no formatting, no links."""
    return html.escape(_MARKDOWN_SPECIAL.sub(r"\\\1", text), quote=False)


def one_line(text: str) -> str:
    return " ".join(text.split())


def citation(answer: Answer) -> str:
    return f"{where(answer)}, characters {answer.start}–{answer.end}"


def format_reply(result: Result) -> str:
    """The chat reply (Markdown): the short answer, its confidence and citation; or a plain abstention."""
    answer = result.answer
    if answer is None:
        more = " The closest passages are shown under *Sources*." if result.passages else ""
        return NOT_FOUND + more
    return f"**{md_escape(one_line(answer.text))}**\n\nconfidence {answer.score:.2f} · {md_escape(citation(answer))}"


def highlight(passage: Passage, answer: Answer | None) -> Segments:
    """``passage.text`` as HighlightedText segments, the answer span labelled when the passage holds it."""
    if answer is None or answer.source != passage.source or not passage.span.contains(answer.span):
        return [(passage.text, None)]
    a, b = answer.start - passage.start, answer.end - passage.start
    parts = [(passage.text[:a], None), (passage.text[a:b], ANSWER_LABEL), (passage.text[b:], None)]
    return [(text, label) for text, label in parts if text]


def passage_label(rank: int, passage: Passage) -> str:
    page = "" if passage.page is None else f" · page {passage.page}"
    return f"{rank}. {passage.source}{page} · characters {passage.start}–{passage.end} · score {passage.score:.3f}"


def sources_heading(result: Result) -> str:
    """The Markdown heading over the passages, naming the question they were retrieved for."""
    if not result.passages:
        return ""
    return f"### Sources\nThe passages retrieved for *{md_escape(one_line(result.question))}*, best first."


def safe_name(name: str) -> str:
    """A plain file name for an upload: no folders, no hidden name, only word characters, '-' and '.'.

    Raises UploadRejected unless the name ends in a supported suffix (DOC_SUFFIXES).
    """
    base = unicodedata.normalize("NFKC", re.split(r"[\\/]", name)[-1]).strip()
    stem, dot, suffix = base.rpartition(".")
    suffix = f".{suffix.lower()}"
    if not dot or suffix not in DOC_SUFFIXES:
        raise UploadRejected(f"only {', '.join(DOC_SUFFIXES[:-1])} or {DOC_SUFFIXES[-1]} files can be added")
    stem = re.sub(r"[^\w.-]+", "-", stem)
    stem = re.sub(r"([.-])[.-]+", r"\1", stem).strip("._-")[:MAX_STEM_CHARS].rstrip("._-")
    return (stem or "document") + suffix


def check_size(size: int) -> None:
    if size > MAX_UPLOAD_BYTES:
        raise UploadRejected(f"the file is {size / 2**20:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB")


def check_upload(data: bytes, name: str) -> str:
    """The upload's text, read as the indexer will read it (by ``name``'s suffix).

    Raises UploadRejected for files that are too large, unreadable (binary or not UTF-8 text,
    a damaged or encrypted PDF...) or without text.
    """
    check_size(len(data))
    try:
        text = extract(name, data).text
    except ValueError as exc:
        if is_plain(name):
            raise UploadRejected(f"the file cannot be read as text ({exc}); save it as UTF-8 plain text") from None
        raise UploadRejected(f"the file cannot be read ({exc})") from None
    if not text.strip():
        raise UploadRejected("the file has no text")
    return text


def uploaded_file(path: Path, uploads_dir: Path) -> Path:
    """``path`` if it is a plain file inside ``uploads_dir`` (where Gradio keeps what browsers
    uploaded), else UploadRejected: an API client must not name a server file to be copied in."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise UploadRejected("the uploaded file is gone; upload it again") from None
    if path.is_symlink() or not real.is_file() or not real.is_relative_to(uploads_dir.resolve()):
        raise UploadRejected("only files uploaded from the browser can be added")
    return real


def save_new(docs_dir: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``docs_dir/name``, or ``name-1``, ``name-2``... so no existing file is overwritten."""
    stem, suffix = name.rsplit(".", 1)
    for n in range(10_000):
        path = docs_dir / (name if n == 0 else f"{stem}-{n}.{suffix}")
        try:
            with open(path, "xb") as f:  # "x": fails rather than overwrite, even in a race
                f.write(data)
            return path
        except FileExistsError:
            continue
    raise UploadRejected(f"too many files named like {name}")


def load_readers(pipe: Pipeline, names: Sequence[str] = READERS) -> tuple[dict[str, Reader], dict[str, str]]:
    """Every reader that loads, by name (the pipeline's own first), and why the others did not."""
    readers: dict[str, Reader] = {pipe.reader.name: pipe.reader}
    unavailable: dict[str, str] = {}
    for name in names:
        if name in readers:
            continue
        try:
            readers[name] = load_reader(name)
        except Exception as exc:  # a missing or broken model must not stop the page
            unavailable[name] = str(exc)
    return readers, unavailable


class Assistant:
    """The one shared Pipeline: questions one at a time, uploads one at a time, and an upload's
    indexing never holds up a question (it is answered from the current index until the new one is in).

    The reader and threshold are chosen per question (each browser session has its own settings),
    from readers loaded once, up front.
    """

    def __init__(
        self, pipe: Pipeline, readers: dict[str, Reader] | None = None, uploads_dir: Path | None = None
    ) -> None:
        """``uploads_dir``: where uploads must come from (the server's upload folder); None for library use."""
        self.pipe = pipe
        self.lock = threading.Lock()  # one question at a time through the shared models
        self.index_lock = threading.Lock()  # one upload at a time; the new index is switched in when built
        self.readers = readers or {pipe.reader.name: pipe.reader}
        self.uploads_dir = uploads_dir

    @property
    def docs_dir(self) -> Path:
        return self.pipe.docs_dir

    def ask(self, question: str, top_k: int, threshold: float | None = None, reader: str | None = None) -> Result:
        """``Pipeline.ask`` with this session's reader and threshold; raises UsageError for a bad question."""
        name = reader or self.pipe.reader.name
        if name not in self.readers:
            raise UsageError(f"the {name} reader is not available; choose one of: {', '.join(self.readers)}")
        with self.lock:
            return self.pipe.ask(question, top_k=top_k, threshold=threshold, reader=self.readers[name])

    def add_document(self, upload: Path, name: str | None = None) -> str:
        """Save an uploaded file under the docs folder and index it; returns what happened (Markdown).

        Raises UploadRejected, leaving the disk untouched, when the file cannot be added.
        """
        if self.uploads_dir is not None:
            upload = uploaded_file(upload, self.uploads_dir)
        target = safe_name(name or upload.name)
        check_size(upload.stat().st_size)  # before reading a huge file into memory
        data = upload.read_bytes()
        check_upload(data, target)
        with self.index_lock:  # not the ask lock: questions go on, from the current index, meanwhile
            path = save_new(self.docs_dir, target, data)
            try:
                report = self.pipe.refresh()
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        saved = path.name
        message = f"Added **{md_escape(saved)}**"
        if report is not None:
            n = report.embedded_chunks
            message += f" ({n} passage{'' if n == 1 else 's'} indexed)"
        message += ". You can ask about it now."
        if saved != target:
            message += (
                f"\n\nA file named {md_escape(target)} already exists, so this one was saved as {md_escape(saved)}."
            )
        return message

    def documents(self) -> list[str]:
        """The documents in the docs folder, as the index names them."""
        return [source for source, _ in doc_paths(self.docs_dir)]
