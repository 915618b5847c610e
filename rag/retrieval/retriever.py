"""Finding the passages most likely to hold the answer to a question.

Hybrid by default: BM25 finds the rare names and numbers a question repeats word for word,
dense embeddings find paraphrases. Candidates from both are scored by the convex combination

    score = alpha * bm25 / bound + (1 - alpha) * cosine

where bound is the best BM25 score the question's words could reach in this corpus (see
``Bm25.scores``), so both terms lie in [0, 1] and a match on a common word alone counts little.
alpha = 0 is dense search alone, alpha = 1 BM25 alone. Both sides see the chunk with its
document's title in front (``rag.index.store.indexed_text``). alpha (``rag.config.HYBRID_BM25_WEIGHT``, the
setting ``bm25_weight``) was tuned with eval/tune_retrieval.py
on training files only, never on the benchmark: recall@1 + recall@5 summed over 2,000 questions of
QED (Wikipedia, Natural Questions; best at 0.2-0.4), 2,000 of SQuADShifts amazon and 1,500 of
reddit (same crowdsourcing protocol as SQuAD; best at 0.6-0.7) peaks at 0.5.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from rag.config import HYBRID_BM25_WEIGHT, RETRIEVERS
from rag.errors import UsageError
from rag.index.embedding import Encoder
from rag.index.store import Index
from rag.types import Passage

FIXED_WEIGHTS = {"dense": 0.0, "bm25": 1.0}  # the BM25 weight of the single-sided modes; hybrid's is a setting
MIN_CANDIDATES = 50  # from each side, before fusion


class Retriever:
    """Ranks the index's chunks for a question; see the module docstring for the score."""

    def __init__(
        self, index: Index, embedder: Encoder, mode: str = "hybrid", bm25_weight: float = HYBRID_BM25_WEIGHT
    ) -> None:
        """``bm25_weight``: alpha of the hybrid mode (the module docstring's score)."""
        if mode not in RETRIEVERS:
            raise UsageError(f"unknown retriever {mode!r}; choose one of: {', '.join(RETRIEVERS)}")
        self.index, self.embedder, self.mode = index, embedder, mode
        self.alpha = FIXED_WEIGHTS.get(mode, bm25_weight)

    def search(self, question: str, k: int, sources: Collection[str] | None = None) -> list[Passage]:
        """The ``k`` best passages for ``question``; given ``sources``, only passages of those files
        (every chunk of them is scored, so a file the question matches weakly still gets its best)."""
        n = len(self.index.chunks)
        if n == 0 or k <= 0:
            return []
        if sources is not None:
            rows, scores = self._within(question, set(sources))
        else:
            rows, scores = self._fused(question, min(n, max(MIN_CANDIDATES, 4 * k)))
        order = np.argsort(-scores, kind="stable")[:k]
        chunks = self.index.chunks
        return [
            Passage(chunks[r].source, chunks[r].start, chunks[r].end, chunks[r].text, round(float(s), 4))
            for r, s in zip(rows[order], scores[order])
        ]

    def _within(self, question: str, sources: set[str]) -> tuple[np.ndarray, np.ndarray]:
        """Every chunk of ``sources`` and its fused score: a chosen file is searched whole, not only
        where it made the corpus-wide candidate list."""
        rows = np.array([r for r, c in enumerate(self.index.chunks) if c.source in sources], dtype=np.int64)
        fused = np.zeros(len(rows), dtype=np.float32)
        if len(rows) == 0:
            return rows, fused
        if self.alpha < 1.0:
            query = self.embedder.encode([question])[0]
            fused += (1.0 - self.alpha) * (self.index.vectors_at(rows) @ query)
        if self.alpha > 0.0:
            fused += self.alpha * self.index.lexical.scores(question)[rows]
        return rows, fused

    def _fused(self, question: str, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """Candidate rows and their fused scores."""
        parts = []
        if self.alpha < 1.0:
            query = self.embedder.encode([question])[0]
            dense_hits = self.index.search(query, depth)
            parts.append(np.array([r for r, _ in dense_hits], dtype=np.int64))
        if self.alpha > 0.0:
            lexical = self.index.lexical.scores(question)
            parts.append(
                np.argpartition(-lexical, depth - 1)[:depth] if depth < len(lexical) else np.arange(len(lexical))
            )
        rows = np.unique(np.concatenate(parts))
        fused = np.zeros(len(rows), dtype=np.float32)
        if self.alpha < 1.0:
            fused += (1.0 - self.alpha) * (self.index.vectors_at(rows) @ query)
        if self.alpha > 0.0:
            fused += self.alpha * lexical[rows]
        return rows, fused
