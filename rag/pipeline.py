"""One facade over the stages: keep the index fresh, retrieve passages, read an answer.

    pipe = Pipeline(Path("seeds"), Path("index"))
    result = pipe.ask("who supplies GPUs in the deal?")

Models and the index load once per Pipeline; ``ask`` is cheap after that.
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
from rag.config import DEFAULT_DOCS, DEFAULT_INDEX, MAX_QUESTION_CHARS, TOP_K
from rag.errors import UsageError
from rag.index.build import EmbedFiles, UpdateReport, chunking_of, fresh_index
from rag.index.embedding import Encoder, load_embedder
from rag.index.store import Index
from rag.reader import DEFAULT_READER, Reader, load_reader
from rag.retrieval.context import READ_CONTEXT_CHARS, Neighbours, widen
from rag.retrieval.retriever import MODES, Retriever
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
        docs_dir: Path = DEFAULT_DOCS,
        index_dir: Path = DEFAULT_INDEX,
        top_k: int = TOP_K,
        reader: str | Reader = DEFAULT_READER,
        threshold: float | None = None,
        chunking: ChunkConfig | None = None,
        embedder: Encoder | None = None,
        retriever: str = "hybrid",
        log: TextIO | None = None,
        read_context: int = READ_CONTEXT_CHARS,
        embed_files: EmbedFiles | None = None,
    ) -> None:
        """``read_context``: characters of the document the reader sees on each side of a passage.
        ``embed_files``: how an update embeds changed files (default: here; ``rag.cluster.index``: on a cluster)."""
        if top_k < 1:
            raise UsageError(f"the number of passages to retrieve must be at least 1, not {top_k}")
        if read_context < 0:
            raise UsageError(f"the reading context must be 0 or more characters, not {read_context}")
        if retriever not in MODES:
            raise UsageError(f"unknown retriever {retriever!r}; choose one of: {', '.join(MODES)}")
        self.docs_dir, self.index_dir, self.top_k = Path(docs_dir), Path(index_dir), top_k
        self.requested_chunking = chunking  # None: the index keeps its own (rag.index.build.chunking_of)
        self.log = log or sys.stderr
        self.embedder = embedder or load_embedder()
        self.reader = load_reader(reader, threshold) if isinstance(reader, str) else reader
        if threshold is not None:
            self.reader.threshold = threshold
        self.retrieval_mode = retriever
        self.index: Index | None = None
        self.read_context = read_context
        self.embed_files = embed_files
        self._neighbours: tuple[Index, Neighbours] | None = None

    def refresh(self, strict: bool = False) -> UpdateReport | None:
        """Bring the index up to date with the docs folder; returns what changed, None if nothing.

        An update that cannot be written leaves the previous index answering, with a warning; with
        ``strict`` it raises IndexNotUpdated (the previous index still answers), for callers that
        must not report a change the index lacks (``rag.index.build.fresh_index``)."""
        docs, chunking, embed = self.docs_dir, self.requested_chunking, self.embed_files
        self.index, report = fresh_index(
            docs, self.index_dir, self.embedder, chunking, self.index, self.log, embed, strict=strict
        )
        return report

    @property
    def chunking(self) -> ChunkConfig:
        """The chunking in force: the one asked for, else the index's own, else the default."""
        return chunking_of(self.index, self.requested_chunking)

    @property
    def retriever(self) -> Retriever:
        if self.index is None:
            self.refresh()
        assert self.index is not None
        return Retriever(self.index, self.embedder, self.retrieval_mode)

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
        if self.index is None or self.read_context <= 0:
            return list(passages)
        if self._neighbours is None or self._neighbours[0] is not self.index:
            self._neighbours = (self.index, Neighbours.of(self.index.chunks))
        return widen(passages, self._neighbours[1], self.read_context)

    def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        threshold: float | None = None,
        reader: Reader | None = None,
    ) -> Result:
        """Read an answer from given passages; below the threshold (the reader's own by default) it abstains."""
        reader = reader or self.reader
        threshold = reader.threshold if threshold is None else threshold
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
