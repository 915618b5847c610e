"""The small vocabulary every stage speaks: documents, spans, chunks, passages, answers.

Offsets are Python ``str`` indices into a document's full text, end exclusive, so that
``document.text[span.start:span.end]`` is always the cited text. For .txt and .md that text is
the file as stored; for .html, .pdf and .docx it is the text extracted from the file
(``rag.documents.formats``), which the index keeps.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field


def page_at(pages: Sequence[int], offset: int) -> int | None:
    """The 1-based page holding ``offset``, given each page's start offset; None for unpaged text."""
    if not pages:
        return None
    return max(1, bisect.bisect_right(pages, offset))


@dataclass(frozen=True)
class Span:
    """A half-open character range ``[start, end)`` in one document's text."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"invalid span [{self.start}, {self.end})")

    def __len__(self) -> int:
        return self.end - self.start

    def contains(self, other: Span) -> bool:
        return self.start <= other.start and other.end <= self.end


@dataclass(frozen=True)
class Extracted:
    """A file's text, as decoded or extracted, and where each page starts in it (empty if unpaged)."""

    text: str
    pages: tuple[int, ...] = ()

    def page_of(self, offset: int) -> int | None:
        return page_at(self.pages, offset)


@dataclass(frozen=True)
class Document:
    """One source file's text, as decoded or extracted, and the parts of it that are content.

    ``source`` is the file's path relative to the docs folder, in POSIX form.
    ``content`` lists the spans that hold real text; page chrome and blank lines fall
    between them, so leaving them out never shifts any offset. ``pages`` holds the start
    offset of each page (PDFs only; empty for unpaged formats).
    """

    source: str
    text: str
    content: tuple[Span, ...]
    sha256: str = ""
    pages: tuple[int, ...] = ()

    def page_of(self, offset: int) -> int | None:
        """The 1-based page of ``offset``, or None when the document has no pages."""
        return page_at(self.pages, offset)


@dataclass(frozen=True)
class Chunk:
    """A token-bounded piece of one document's content, as stored in the index."""

    source: str
    start: int
    end: int
    text: str
    n_tokens: int

    @property
    def span(self) -> Span:
        return Span(self.start, self.end)


@dataclass(frozen=True)
class Passage:
    """A chunk returned for a question, with the retriever's score (higher is better).

    ``page`` is the 1-based page where the passage starts (PDFs only; None for unpaged files).
    """

    source: str
    start: int
    end: int
    text: str
    score: float
    page: int | None = None

    @property
    def span(self) -> Span:
        return Span(self.start, self.end)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """An extractive answer: a span copied from ``source`` and the reader's confidence in [0, 1].

    ``passage`` is the passage the span was read from; it contains the span. ``page`` is the
    1-based page where the span starts (PDFs only; None for unpaged files).
    """

    text: str
    source: str
    start: int
    end: int
    score: float
    passage: Passage | None = field(default=None, compare=False)
    page: int | None = None

    @property
    def span(self) -> Span:
        return Span(self.start, self.end)

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "source": self.source,
            "start": self.start,
            "end": self.end,
            "score": self.score,
            "page": self.page,
        }


@dataclass(frozen=True)
class Result:
    """What the pipeline says about one question: an answer or an abstention, and its passages."""

    question: str
    answer: Answer | None
    passages: tuple[Passage, ...]
    seconds: float = field(default=0.0, compare=False)
    candidate: Answer | None = field(default=None, compare=False)  # best span, even when abstained

    @property
    def abstained(self) -> bool:
        return self.answer is None

    def to_dict(self) -> dict:
        """The public ``--json`` shape of ``rag.ask``: extend it, never rename a field."""
        return {
            "question": self.question,
            "answer": None if self.answer is None else self.answer.to_dict(),
            "abstained": self.abstained,
            "passages": [p.to_dict() for p in self.passages],
        }


def where(item: Answer | Passage) -> str:
    """``file`` or ``file, page N`` (PDFs): where a cited span lies, as the CLI and the chat show it."""
    return place(item.source, item.page)


def place(source: str, page: int | None) -> str:
    """``where`` from a file name and page."""
    return source if page is None else f"{source}, page {page}"


def accepted(candidate: Answer | None, threshold: float) -> Answer | None:
    """The abstention rule, the one place it lives: the candidate if it scores at least the threshold."""
    return candidate if candidate is not None and candidate.score >= threshold else None
