"""Choosing the answer among the neural reader's candidate spans.

The network scores a span by its margin: how far its start+end logits beat its window's
no-answer slot. Decoding adjusts that margin before the best span is taken; each adjustment is off
(0) unless the model's ``rag_reader.json`` turns it on, and each was measured on held-out training
questions (``eval/tune_decoding.py``, results in ``eval/RESULTS.md``):

- ``type_bonus``: added when the span overlaps an entity of the kind the question asks for
  (``answer_types``: who -> person/organisation/group, when -> date/time, how many -> amount);
- ``length_penalty``: subtracted per word after the first;
- ``retrieval_weight``: times the retrieval score of the passage the span comes from, added for
  ranking only (a span's score stays its own, so the calibrated threshold still holds);
- ``aggregate``: the same answer found in several places adds up (log-sum-exp of their margins);
- ``line_break_penalty``: subtracted per line break inside the span (in manuals and PDFs a span
  that runs into the next line is rarely the answer).

Whatever is chosen, a span never cuts a grapheme cluster (a combining accent, a ZWJ emoji), and
(``boundaries``, on unless turned off) never cuts an e-mail address, URL, path, file name, option
flag or version number, nor runs across a hard line break (``rag.reader.boundaries``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import regex

from rag.reader.answer_types import expected_types
from rag.reader.boundaries import one_line, whole_tokens
from rag.text import normalize_answer
from rag.types import Passage

GRAPHEME = regex.compile(r"\X")
Entities = tuple[tuple[int, int, str], ...]


@dataclass(frozen=True)
class Candidate:
    """A span ``[start, end)`` of passage number ``context`` and its (adjusted) margin."""

    context: int
    start: int
    end: int
    margin: float

    @property
    def score(self) -> float:
        return 1.0 / (1.0 + math.exp(-self.margin)) if self.margin > -700 else 0.0


def grapheme_span(text: str, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` widened to whole grapheme clusters of ``text`` (never shrunk).

    Clusters are found from the span's start back to a point that surely begins one (between two
    ASCII characters other than CR LF), not from a fixed number of characters before it: a cluster
    can be longer than any such window (a letter with many accents, a long ZWJ sequence), and one
    entered in its middle would look like several. The last cluster is followed to its real end."""
    lo = max(0, min(start, end, len(text) - 1))
    while lo > 0 and not (text[lo - 1 : lo + 1].isascii() and text[lo - 1 : lo + 1] != "\r\n"):
        lo -= 1
    for m in GRAPHEME.finditer(text, lo):
        if m.start() >= end:
            break
        if m.start() < start < m.end():
            start = m.start()
        if m.start() < end < m.end():
            end = m.end()
    return start, end


@lru_cache(maxsize=4096)
def entities(text: str) -> Entities:
    """spaCy's named entities of ``text`` as (start, end, label); cached, as passages recur."""
    from rag.reader.nlp import load_spacy

    return tuple((e.start_char, e.end_char, e.label_) for e in load_spacy()(text).ents)


@dataclass(frozen=True)
class Decoding:
    type_bonus: float = 0.0
    length_penalty: float = 0.0
    retrieval_weight: float = 0.0
    aggregate: bool = False
    line_break_penalty: float = 0.0
    boundaries: bool = True

    @classmethod
    def from_settings(cls, settings: dict) -> Decoding:
        given = settings.get("decoding") or {}
        return cls(**{k: type(getattr(cls, k))(v) for k, v in given.items() if k in cls.__dataclass_fields__})

    def adjust(
        self, question: str, passages: Sequence[Passage], c: Candidate, ents: Callable[[str], Entities]
    ) -> float:
        """The margin of ``c`` after the type and length adjustments (the score abstention reads)."""
        text = passages[c.context].text
        span = text[c.start : c.end]
        margin = c.margin - self.length_penalty * max(0, len(span.split()) - 1)
        margin -= self.line_break_penalty * span.count("\n")
        wanted = expected_types(question) if self.type_bonus else frozenset()
        if wanted and any(a < c.end and c.start < b and label in wanted for a, b, label in ents(text)):
            margin += self.type_bonus
        return margin

    def rank(
        self,
        question: str,
        passages: Sequence[Passage],
        spans: Sequence[Candidate],
        ents: Callable[[str], Entities] = entities,
    ) -> list[Candidate]:
        """One candidate per document location (its best margin), adjusted, best first.

        The retrieval score only orders the candidates (``retrieval_weight``): a span's score, which
        the calibrated threshold reads, stays its own, as on held-out contexts with no retrieval."""
        where: dict[tuple[str, int, int], Candidate] = {}
        for c in spans:
            p = passages[c.context]
            start, end = c.start, c.end
            if self.boundaries:
                start, end = one_line(p.text, *whole_tokens(p.text, start, end))
            start, end = grapheme_span(p.text, start, end)
            c = replace(c, start=start, end=end)
            key = (p.source, p.start + start, p.start + end)
            if key not in where or c.margin > where[key].margin:
                where[key] = c
        ranked = [replace(c, margin=self.adjust(question, passages, c, ents)) for c in where.values()]
        if self.aggregate:
            ranked = aggregated(ranked, passages)
        return sorted(ranked, key=lambda c: -(c.margin + self.retrieval_weight * passages[c.context].score))


def aggregated(cands: Sequence[Candidate], passages: Sequence[Passage]) -> list[Candidate]:
    """Each answer string once, at its best place, with the log-sum-exp of its places' margins."""
    groups: dict[str, list[Candidate]] = {}
    for c in cands:
        key = normalize_answer(passages[c.context].text[c.start : c.end]) or f"{c.context}:{c.start}"
        groups.setdefault(key, []).append(c)
    out = []
    for group in groups.values():
        top = max(c.margin for c in group)
        total = top + math.log(sum(math.exp(c.margin - top) for c in group))
        out.append(replace(max(group, key=lambda c: c.margin), margin=total))
    return out
