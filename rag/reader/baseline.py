"""A transparent reader: find the sentence that matches the question, then the span of the
kind the question asks for (who: a name, when: a date, how much: an amount).

Sentence score = mean of cosine similarity to the question and the share of the question's
content words it contains. A candidate span's score scales that by how well its entity type
fits the question and how close it sits to the question's words. Every number is in [0, 1].
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rag.index.embedding import Encoder, load_embedder
from rag.reader.answer_types import ALL_ENTITIES, expected_types
from rag.reader.nlp import load_spacy
from rag.types import Answer, Passage

if TYPE_CHECKING:  # spaCy itself is imported by load_spacy, with torch kept out (rag.reader.nlp)
    from spacy.tokens import Doc
    from spacy.tokens import Span as SpacySpan  # a spaCy token range, not rag.types.Span

THRESHOLD = 0.24  # eval/calibrate_threshold.py on held-out training data (qed_dev.json, 300 + 300 pairs)
TOP_SENTENCES = 3
PARSE_CACHE = 4096  # passages whose parse is kept


@dataclass(frozen=True)
class Sentence:
    passage: Passage
    span: SpacySpan
    score: float


def content_lemmas(doc: Doc | SpacySpan) -> set[str]:
    return {t.lemma_.lower() for t in doc if not (t.is_stop or t.is_punct or t.is_space)}


class BaselineReader:
    """Sentence ranking plus answer-type matching; see the module docstring."""

    name = "baseline"

    def __init__(self, embedder: Encoder | None = None) -> None:
        self.embedder = embedder or load_embedder()
        self.nlp = load_spacy()
        self._parsed: dict[str, tuple[Doc, list[SpacySpan], np.ndarray]] = {}
        self._lock = threading.Lock()

    @property
    def threshold(self) -> float:
        """Calibrated with eval/calibrate_threshold.py (``THRESHOLD``); read-only."""
        return THRESHOLD

    def parse(self, text: str) -> tuple[Doc, list[SpacySpan], np.ndarray]:
        """A passage's parse, its sentences and their embeddings; cached, as passages recur."""
        cached = self._parsed.get(text)
        if cached is None:
            doc = self.nlp(text)
            sents = [s for s in doc.sents if s.text.strip()]
            cached = (doc, sents, self.embedder.encode([s.text for s in sents]))
            with self._lock:  # the UI reads from several threads
                if len(self._parsed) >= PARSE_CACHE:
                    self._parsed.pop(next(iter(self._parsed)))
                self._parsed[text] = cached
        return cached

    def rank_sentences(self, question: Doc, passages: Sequence[Passage]) -> list[Sentence]:
        q_vector = self.embedder.encode([question.text])[0]
        wanted = content_lemmas(question)
        ranked = []
        for passage in passages:
            _, sents, vectors = self.parse(passage.text)
            cosine = np.clip(vectors @ q_vector, 0.0, 1.0) if len(sents) else []
            for sent, sim in zip(sents, cosine):
                overlap = len(wanted & content_lemmas(sent)) / len(wanted) if wanted else 0.0
                ranked.append(Sentence(passage, sent, float(0.5 * sim + 0.5 * overlap)))
        return sorted(ranked, key=lambda s: -s.score)

    def candidates(self, question: Doc, sentence: SpacySpan) -> list[tuple[SpacySpan, float]]:
        """Spans of the sentence that could answer, each with how well it fits in [0, 1]."""
        wanted = expected_types(question.text)
        q_words = {t.lower_ for t in question} | content_lemmas(question)
        spans = [e for e in sentence.ents if e.label_ in ALL_ENTITIES]
        if not wanted:
            spans += list(sentence.noun_chunks)
        anchors = [t.i for t in sentence if not t.is_stop and (t.lower_ in q_words or t.lemma_.lower() in q_words)]
        out = []
        for span in spans:
            words = [t for t in span if not (t.is_stop or t.is_punct)]
            if not words or all(t.lower_ in q_words or t.lemma_.lower() in q_words for t in words):
                continue  # the question already says it
            if wanted:
                fit = 1.0 if span.label_ in wanted else 0.4
            else:  # any kind will do: a named entity beats a plain noun chunk
                fit = 0.8 if span.label_ else 0.6
            distance = min((abs(a - span.start) for a in anchors), default=len(sentence))
            nearness = 1.0 / (1.0 + distance / 8.0)
            out.append((span, fit * (0.7 + 0.3 * nearness)))
        return out

    def read(self, question: str, passages: Sequence[Passage]) -> Answer | None:
        q = self.nlp(question)
        best: Answer | None = None
        for sentence in self.rank_sentences(q, passages)[:TOP_SENTENCES]:
            for span, fit in self.candidates(q, sentence.span):
                score = round(sentence.score * fit, 4)
                if best is None or score > best.score:
                    p = sentence.passage
                    start, end = span.start_char, span.end_char
                    best = Answer(p.text[start:end], p.source, p.start + start, p.start + end, score, p)
        return best
