"""What the chat page does, without Gradio: the one shared pipeline behind a question lock and a
document lock, so that adding, removing or replacing a document never holds up a question.

The page's parts live beside it, each plain Python so it can be unit-tested (``ui.app`` only lays
them out): ``reply`` (answer, sentence, confidence, sources), ``document_view`` (a document at a
span), ``uploads`` (safe additions, removals and replacements), ``text`` (escaping, plurals, errors).
Text from documents and users is always escaped before it reaches Markdown or HTML.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from rag.documents.folder import doc_paths, file_text, path_of
from rag.documents.formats import extract
from rag.errors import IndexNotUpdated, UsageError
from rag.index.build import UpdateReport
from rag.pipeline import Pipeline
from rag.reader import READERS, Reader, load_reader
from rag.types import Answer, Extracted, Result
from ui.reply import Context, excerpt, format_reply, level_thresholds, sources
from ui.text import DocumentError, UploadRejected, count, md_escape
from ui.uploads import (
    check_size,
    check_upload,
    safe_name,
    save_new,
    set_aside,
    uploaded_file,
    write_new,
)


class ChangeNotLive(DocumentError):
    """The index was updated, but does not show a document action's change (undone on the docs folder)."""


READER_LABELS = {  # short enough for the dropdown; what each one is is said in its info line
    "neural": "Trained reader (best)",
    "baseline": "Rule-based reader (fast)",
}
READER_INFO = {
    "neural": "Trained: a small language model fine-tuned to find answers.",
    "baseline": "Rule-based: ranks sentences, then picks a name, date or amount.",
}


def reader_label(name: str) -> str:
    """What a reader is, in words, for the reader choice."""
    return READER_LABELS.get(name, name)


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
    """The one shared Pipeline: questions one at a time, document changes (add, remove, replace) one
    at a time, and a change's indexing never holds up a question (it is answered from the current
    index until the new one is switched in).

    The reader and threshold are chosen per question (each browser session has its own settings),
    from readers loaded once, up front.
    """

    def __init__(
        self,
        pipe: Pipeline,
        readers: dict[str, Reader] | None = None,
        uploads_dir: Path | None = None,
        concurrency: int = 1,
    ) -> None:
        """``uploads_dir``: where uploads must come from (the server's upload folder); None for library use.
        ``concurrency``: questions the page handles at once (their models' work still takes turns)."""
        self.pipe = pipe
        self.lock = threading.Lock()  # one question at a time through the shared models
        self.index_lock = threading.Lock()  # one document change at a time; the new index is switched in when built
        self.readers = readers or {pipe.reader.name: pipe.reader}
        self.uploads_dir = uploads_dir
        self.concurrency = concurrency

    @property
    def docs_dir(self) -> Path:
        return self.pipe.docs_dir

    def ask(
        self,
        question: str,
        top_k: int,
        threshold: float | None = None,
        reader: str | None = None,
        sources: Collection[str] | None = None,
        search: str | None = None,
    ) -> Result:
        """``Pipeline.ask`` with this session's reader and threshold, in the files it chose (``sources``,
        None: all), retrieving with ``search`` (a follow-up with its subject); UsageError for a bad question."""
        chosen = self.reader_named(reader)
        extra = {k: v for k, v in (("sources", sources), ("search", search)) if v is not None}
        with self.lock:
            return self.pipe.ask(question, top_k=top_k, threshold=threshold, reader=chosen, **extra)

    def reader_named(self, name: str | None) -> Reader:
        """The loaded reader ``name`` (None: the pipeline's own); UsageError when it is not loaded."""
        name = name or self.pipe.reader.name
        if name not in self.readers:
            raise UsageError(f"the {name} reader is not available; choose one of: {', '.join(self.readers)}")
        return self.readers[name]

    def levels(self, reader: str | None = None) -> dict[str, float]:
        """The threshold of each named level for ``reader`` (``ui.reply.level_thresholds``)."""
        chosen = self.reader_named(reader)
        return level_thresholds(chosen.threshold, getattr(chosen, "confidence_cutoffs", None))

    def other_answer(self, result: Result, threshold: float | None = None, reader: str | None = None) -> Answer | None:
        """What the retrieved passages of the *other* files answer, if the reader is sure enough of it:
        so that a reply can say when two files disagree (an old copy of a handbook and a new one)."""
        answer = result.answer
        if answer is None:
            return None
        others = [p for p in result.passages if p.source != answer.source]
        if not others:
            return None
        with self.lock:
            return self.pipe.answer(result.question, others, threshold, self.reader_named(reader)).answer

    def cited_text(self, source: str) -> str | None:
        """The text the offsets of ``source`` index: the index's extracted text (html, pdf, docx), else the file."""
        index = self.pipe.index
        kept = None if index is None else index.kept_text(source)
        if kept is not None:
            return kept
        try:
            return file_text(self.docs_dir, source)
        except (OSError, ValueError):
            return None

    def location_of(self, source: str, offset: int) -> str | None:
        """Where ``offset`` lies in ``source`` (``page 2``, ``slide 3``...), from the index's kept text."""
        index = self.pipe.index
        return None if index is None else index.location_of(source, offset)

    def reply(
        self,
        result: Result,
        reader: str | None = None,
        threshold: float | None = None,
        seconds: float = 0.0,
        context: Context | None = None,
    ) -> str:
        """The chat reply for ``result``, with its own sources: ``reader``/``threshold`` as it was asked,
        ``context`` its place in the conversation."""
        chosen = self.readers[reader or self.pipe.reader.name]
        calibrated = chosen.threshold
        cited_text = functools.cache(self.cited_text)  # each document read once per reply
        shown = sources(result, cited_text, self.location_of)
        answer = result.answer
        found = None if answer is None else excerpt(answer, cited_text, self.location_of, mark=answer)
        used = self.pipe.threshold_for(chosen, threshold)  # what this answer was held to; labels use ``calibrated``
        if context is not None and context.other is not None:
            other = context.other
            dates = self.changed([other.source] + ([] if answer is None else [answer.source]))
            context = replace(
                context, other_found=excerpt(other, cited_text, self.location_of, mark=other), changed=dates
            )
        return format_reply(
            result, shown, found, calibrated, used, seconds, getattr(chosen, "confidence_cutoffs", None), context
        )

    def changed(self, sources: Iterable[str]) -> dict[str, float]:
        """When each of ``sources`` was last changed (its file's modification time), for a reply whose
        files disagree: the dates help tell the current version from an old copy. A file that is gone
        or outside the docs folder is left out."""
        dates = {}
        for source in sources:
            with contextlib.suppress(OSError, ValueError):
                dates[source] = path_of(self.docs_dir, source).stat().st_mtime
        return dates

    def document(self, source: str) -> Extracted:
        """The text of one of the documents (extracted for html, pdf and docx) and its page starts.

        Raises DocumentError for anything that is not one of them, so no other file can be read.
        """
        path = self._path_of(source)
        try:
            return extract(source, path.read_bytes())
        except (OSError, ValueError) as exc:
            raise DocumentError(f"{source} cannot be read ({exc})") from None

    def _path_of(self, source: str) -> Path:
        if source not in self.documents():
            raise DocumentError(f"{source} is not one of the documents")
        return path_of(self.docs_dir, source)

    def remove_document(self, source: str) -> str:
        """Take one document out of the docs folder and the index; returns what happened (Markdown).

        A transaction: questions are answered from the current index until the new one is switched
        in, and "Removed" is said only once it is; if the index cannot be updated the file is put
        back and DocumentError says why. A kill meanwhile is undone at the next start (``recover``).
        """
        with self.index_lock:
            self._path_of(source)
            if len(self.documents()) == 1:
                raise DocumentError(f"{source} is the only document; add another before removing it")
            with self._in_step(), set_aside(self.docs_dir, source):
                self._reindex(source, None)
        return f"Removed **{md_escape(source)}**. It is no longer searched."

    def replace_document(self, source: str, upload: Path) -> str:
        """Replace one document with an uploaded file of the same kind, and index it; returns what
        happened (Markdown). A transaction like a removal: on any failure the old file is back and
        the old version answers. Raises DocumentError."""
        if self.uploads_dir is not None:
            upload = uploaded_file(upload, self.uploads_dir)
        suffix = Path(source).suffix.lower()
        if upload.suffix.lower() != suffix:
            raise UploadRejected(f"{source} can only be replaced by a {suffix} file")
        check_size(upload.stat().st_size)
        data = upload.read_bytes()
        check_upload(data, source)
        with self.index_lock:
            path = self._path_of(source)
            if path.read_bytes() == data:  # a browser sends the same file again: nothing to index
                return f"**{md_escape(source)}** is unchanged: the file chosen is the same as the one in use."
            with self._in_step(), set_aside(self.docs_dir, source):
                write_new(path, self.docs_dir, data)
                report = self._reindex(source, data)
        indexed = "" if report is None else f" ({count(report.embedded_chunks, 'passage')} indexed)"
        return f"Replaced **{md_escape(source)}**{indexed}. Questions now read the new version."

    def add_document(self, upload: Path, name: str | None = None) -> str:
        """Save an uploaded file under the docs folder and index it; returns what happened (Markdown).

        Raises UploadRejected, leaving the disk untouched, when the file cannot be added, and
        DocumentError, with the file deleted again, when the index cannot be updated.
        """
        if self.uploads_dir is not None:
            upload = uploaded_file(upload, self.uploads_dir)
        target = safe_name(name or upload.name)
        check_size(upload.stat().st_size)  # before reading a huge file into memory
        data = upload.read_bytes()
        check_upload(data, target)
        with self.index_lock, self._in_step():  # not the ask lock: questions go on from the current index
            path = save_new(self.docs_dir, target, data)
            try:
                report = self._reindex(path.name, data)
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        saved = path.name
        message = f"Added **{md_escape(saved)}**"
        if report is not None:
            message += f" ({count(report.embedded_chunks, 'passage')} indexed)"
        message += ". You can ask about it now."
        if saved != target:
            message += (
                f"\n\nA file named {md_escape(target)} already exists, so this one was saved as {md_escape(saved)}."
            )
        return message

    def _reindex(self, source: str, data: bytes | None) -> UpdateReport | None:
        """Update the index after a change to ``source`` (now ``data``; None: removed) and check that the
        live index has it. Raises DocumentError when the index cannot be written or lacks the change,
        so that the caller undoes its change to the docs folder rather than report it done."""
        try:
            report = self.pipe.refresh(strict=True)
        except IndexNotUpdated as exc:
            raise DocumentError(str(exc)) from None
        index = self.pipe.index
        entry = None if index is None else index.manifest.get("files", {}).get(source)
        if data is None:
            live = index is not None and entry is None
        else:
            digest = hashlib.sha256(data).hexdigest()
            live = entry is not None and not entry.get("skipped") and entry.get("sha256") == digest
        if not live:
            raise ChangeNotLive(f"the new index does not show the change to {source}")
        return report

    @contextlib.contextmanager
    def _in_step(self) -> Iterator[None]:
        """After a change whose new index was live but wrong (``ChangeNotLive``) was undone, bring the index
        back in step with the docs folder (on failure it warns, and the next update catches up)."""
        try:
            yield
        except ChangeNotLive:
            self.pipe.refresh()
            raise

    def documents(self) -> list[str]:
        """The documents in the docs folder, as the index names them."""
        return [source for source, _ in doc_paths(self.docs_dir)]
