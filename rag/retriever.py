"""Finding the passages most likely to hold the answer to a question."""

from __future__ import annotations

from rag.embedding import Embedder
from rag.store import Index
from rag.types import Passage


class DenseRetriever:
    """Cosine similarity between the question and every chunk, exact search with FAISS."""

    def __init__(self, index: Index, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder

    def search(self, question: str, k: int) -> list[Passage]:
        query = self.embedder.encode([question])[0]
        return [
            Passage(c.source, c.start, c.end, c.text, round(score, 4))
            for row, score in self.index.search(query, k)
            for c in (self.index.chunks[row],)
        ]
