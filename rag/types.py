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


def location_at(pages: Sequence[int], places: Sequence[tuple[int, str]], offset: int) -> str | None:
    """Where ``offset`` lies, as a person looks it up: ``page 2`` for a paged text, else the label of the
    last place starting at or before it (``slide 3``, ``sheet Staff, row 4``, ``section “Setup”``...);
    None when neither says (a .txt file, text before a document's first heading, a place labelled "":
    past the headings a file may keep)."""
    page = page_at(pages, offset)
    if page is not None:
        return f"page {page}"
    i = bisect.bisect_right(places, offset, key=lambda place: place[0])
    return (places[i - 1][1] or None) if i else None


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
    """A file's text, as decoded or extracted, and where each page starts in it (empty if unpaged).

    ``places`` are the labelled parts of an unpaged format, as (start offset, label) in text order: each
    slide, sheet row, chapter or heading, so an offset can be cited the way a person finds it again.
    """

    text: str
    pages: tuple[int, ...] = ()
    places: tuple[tuple[int, str], ...] = ()
    encoding: str = ""  # what the bytes were decoded as (``windows-1252``), for text and HTML; "" for other kinds
    ocr: tuple[int, ...] = ()  # 1-based pages read by OCR (a PDF's scanned pages): their text may have misreadings

    def page_of(self, offset: int) -> int | None:
        return page_at(self.pages, offset)

    def location_of(self, offset: int) -> str | None:
        return location_at(self.pages, self.places, offset)

    @classmethod
    def from_row(cls, row: dict) -> Extracted:
        """The Extracted that ``asdict`` wrote as JSON (an index kept before places, encodings or OCR has none)."""
        places = tuple((start, label) for start, label in row.get("places", ()))
        return cls(row["text"], tuple(row["pages"]), places, row.get("encoding", ""), tuple(row.get("ocr", ())))


@dataclass(frozen=True)
class Document:
    """One source file's text, as decoded or extracted: what the chunker cuts (``rag.chunking``).

    ``source`` is the file's path relative to the docs folder, in POSIX form. Its pages and places
    stay with the ``Extracted`` text the index keeps, which is where citations look them up.
    """

    source: str
    text: str


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

    ``page`` is the 1-based page where the passage starts (PDFs only; None for unpaged files);
    ``location`` says where it starts for every kind that has parts (``Extracted.location_of``).
    """

    source: str
    start: int
    end: int
    text: str
    score: float
    page: int | None = None
    location: str | None = None

    @property
    def span(self) -> Span:
        return Span(self.start, self.end)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """An extractive answer: a span copied from ``source`` and the reader's confidence in [0, 1].

    ``passage`` is the passage the span was read from; it contains the span. ``page`` is the
    1-based page where the span starts (PDFs only; None for unpaged files); ``location`` is where it
    starts as a person finds it (``page 2``, ``slide 3``, ``sheet Staff, row 4``...), None for plain text.
    """

    text: str
    source: str
    start: int
    end: int
    score: float
    passage: Passage | None = field(default=None, compare=False)
    page: int | None = None
    location: str | None = None

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
            "location": self.location,
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


NOT_FOUND = "Not found in the documents."  # what an abstention says, in the CLI and the chat alike


def citation_of(item: Answer | Passage) -> str:
    """``file`` or ``file, page N`` (``file, slide 3``...): where a cited span lies, as the CLI and the chat show it."""
    return citation(item.source, located(item))


def located(item: Answer | Passage) -> str | None:
    """``item``'s location, else its page (an item made by hand, or before locations, has only that)."""
    return item.location or (None if item.page is None else f"page {item.page}")


def citation(source: str, location: str | None) -> str:
    """``citation_of`` from a file name and a location (``page 2``, ``slide 3``...). "Citation" is the one word
    for it: a document's ``places`` are its labelled parts (``Extracted.places``), not this."""
    return source if location is None else f"{source}, {location}"


def accepted(candidate: Answer | None, threshold: float) -> Answer | None:
    """The abstention rule, the one place it lives: the candidate if it scores at least the threshold."""
    return candidate if candidate is not None and candidate.score >= threshold else None
