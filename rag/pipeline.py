"""One facade over the stages: keep the index fresh, retrieve passages, read an answer.

    pipe = Pipeline(Settings(docs=Path("seeds"), index=Path("index")))
    result = pipe.ask("who supplies GPUs in the deal?")

A Pipeline is built from one ``Settings`` (the only way) and the collaborators a caller may already
hold (an embedder, a reader, a loaded index, a way to embed on a cluster). Models and the index load
once per Pipeline; ``ask`` is cheap after that. Nothing outside sets its attributes: the index it
answers from changes only by ``refresh``, and its retriever is rebuilt only then.
"""

from __future__ import annotations

import sys
import time
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO, TypeVar

from rag.chunking.chunker import ChunkConfig
from rag.config import MAX_QUESTION_CHARS
from rag.errors import UsageError
from rag.index.build import EmbedFiles, UpdateReport, chunking_of, embedder_for, fresh_index
from rag.index.embedding import Encoder
from rag.index.store import Index
from rag.reader import Reader, load_reader
from rag.retrieval.context import Neighbours, widen
from rag.retrieval.retriever import Retriever
from rag.settings import Settings
from rag.types import Answer, Passage, Result, accepted

Cited = TypeVar("Cited", Passage, Answer)
VISIBLE = "LNPS"  # Unicode categories that show: letters, numbers, punctuation, symbols


def validate_question(question: str) -> str:
    """The question, stripped; empty or overlong questions are a usage error.

    Empty means nothing visible: only spaces, combining marks, format characters (zero-width joiner
    or space) or controls; a NUL, which no text holds (and C code may cut at), is refused too."""
    question = question.strip()
    if not any(unicodedata.category(ch)[0] in VISIBLE for ch in question):
        raise UsageError("the question is empty")
    if "\0" in question:
        raise UsageError("the question contains a NUL character")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes (argv, stdin) arrive as lone surrogates
        raise UsageError("the question is not valid UTF-8 text") from None
    if len(question) > MAX_QUESTION_CHARS:
        raise UsageError(f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}")
    return question


class Pipeline:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Encoder | None = None,
        reader: Reader | None = None,
        index: Index | None = None,
        embed_files: EmbedFiles | None = None,
        log: TextIO | None = None,
    ) -> None:
        """``settings``: how to index and answer (None: the defaults, ``Settings.load()`` for the environment).
        ``embedder``/``reader``: already loaded ones to use (default: the settings' own, loaded now).
        ``index``: an index already loaded from ``settings.index``, answered as it is (a cluster actor,
        which never updates it). ``embed_files``: how an update embeds changed files (default: here;
        ``rag.cluster.index``: on a cluster). ``log``: where updates are reported (default: stderr)."""
        self.settings = settings or Settings()
        s = self.settings
        self.embedder = embedder or embedder_for(s.index, s.embedding, s.threads, index and index.manifest)
        self.reader = reader or load_reader(s.reader, model_dir=s.reader_model, threads=s.threads)
        self.embed_files = embed_files
        self.log = log or sys.stderr
        self._live: tuple[Index, Retriever] | None = None  # swapped whole: a question never sees half a switch
        self._neighbours: tuple[Index, Neighbours] | None = None
        if index is not None:
            self._switch_to(index)

    @property
    def docs_dir(self) -> Path:
        return self.settings.docs

    @property
    def index_dir(self) -> Path:
        return self.settings.index

    @property
    def top_k(self) -> int:
        return self.settings.top_k

    @property
    def index(self) -> Index | None:
        """The index questions are answered from (None until the first ``refresh``)."""
        return None if self._live is None else self._live[0]

    @property
    def requested_chunking(self) -> ChunkConfig | None:
        """The chunking the settings ask for; None keeps the index's own (``rag.index.build.chunking_of``)."""
        wanted = self.settings.chunking
        return None if wanted is None else ChunkConfig(*wanted)

    def _switch_to(self, index: Index | None) -> None:
        """Answer from ``index`` from now on; what is derived from it is rebuilt once, here."""
        if index is None or index is self.index:
            return
        self._live = (index, Retriever(index, self.embedder, self.settings.retriever, self.settings.bm25_weight))

    def refresh(self, strict: bool = False) -> UpdateReport | None:
        """Bring the index up to date with the docs folder; returns what changed, None if nothing.

        An update that cannot be written leaves the previous index answering, with a warning; with
        ``strict`` it raises IndexNotUpdated (the previous index still answers), for callers that
        must not report a change the index lacks (``rag.index.build.fresh_index``)."""
        docs, chunking, embed = self.docs_dir, self.requested_chunking, self.embed_files
        index, report = fresh_index(
            docs, self.index_dir, self.embedder, chunking, self.index, self.log, embed, strict=strict
        )
        self._switch_to(index)
        return report

    @property
    def chunking(self) -> ChunkConfig:
        """The chunking in force: the one asked for, else the index's own, else the default."""
        return chunking_of(self.index, self.requested_chunking)

    @property
    def retriever(self) -> Retriever:
        """The retriever over the current index (the index is brought up to date first if none is loaded)."""
        if self._live is None:
            self.refresh()
        assert self._live is not None
        return self._live[1]

    def threshold_for(self, reader: Reader, threshold: float | None = None) -> float:
        """The threshold applied to ``reader``'s answers: ``threshold`` if given (one call's), else the
        settings' for the pipeline's own reader, else the reader's calibrated one."""
        if threshold is not None:
            return threshold
        return self.settings.applied_threshold(reader.threshold) if reader is self.reader else reader.threshold

    def retrieve(self, question: str, k: int | None = None, sources: Collection[str] | None = None) -> list[Passage]:
        """The best passages for ``question``; ``sources``: only from these files (None: all)."""
        return [self.with_page(p) for p in self.retriever.search(question, k or self.top_k, sources)]

    def with_page(self, item: Cited) -> Cited:
        """``item`` with the page (PDFs) and the location (``page 2``, ``slide 3``, ``section “Setup”``...) it
        starts at, from the index; unchanged for a .txt, which has neither."""
        if self.index is None:
            return item
        page, location = self.index.page_of(item.source, item.start), self.index.location_of(item.source, item.start)
        return item if (page, location) == (item.page, item.location) else replace(item, page=page, location=location)

    def reading(self, passages: Sequence[Passage]) -> list[Passage]:
        """The text the reader reads for ``passages``: widened into neighbouring chunks (``rag.retrieval.context``)."""
        index = self.index
        if index is None or self.settings.read_context <= 0:
            return list(passages)
        if self._neighbours is None or self._neighbours[0] is not index:
            self._neighbours = (index, Neighbours.of(index.chunks))
        return widen(passages, self._neighbours[1], self.settings.read_context)

    def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        threshold: float | None = None,
        reader: Reader | None = None,
    ) -> Result:
        """Read an answer from given passages; below the threshold (``threshold_for``) it abstains."""
        reader = reader or self.reader
        threshold = self.threshold_for(reader, threshold)
        started = time.perf_counter()
        candidate = reader.read(question, self.reading(passages)) if passages else None
        candidate = None if candidate is None else self.with_page(candidate)
        answer = accepted(candidate, threshold)
        return Result(question, answer, tuple(passages), time.perf_counter() - started, candidate)

    def ask(
        self,
        question: str,
        top_k: int | None = None,
        threshold: float | None = None,
        reader: Reader | None = None,
        sources: Collection[str] | None = None,
        search: str | None = None,
    ) -> Result:
        """Answer one question from the documents, or abstain. Settings given here apply to this call only.

        ``sources``: search only these files (None: all). ``search``: what retrieval looks for, when it
        must differ from the question the reader reads (a follow-up with its conversation's subject)."""
        question = validate_question(question)
        started = time.perf_counter()
        found = self.retrieve(question if search is None else search, top_k, sources)
        result = self.answer(question, found, threshold, reader)
        return replace(result, seconds=time.perf_counter() - started)
