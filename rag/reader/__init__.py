"""Readers pick the answer span; they are chosen by name with ``load_reader``."""

from __future__ import annotations

from pathlib import Path

from rag.errors import UsageError
from rag.reader.base import Reader

READERS = ("baseline", "neural")
DEFAULT_READER = "neural"


def load_reader(
    name: str = DEFAULT_READER, threshold: float | None = None, model_dir: Path | None = None, threads: int = 0
) -> Reader:
    """The reader called ``name``; ``model_dir`` is the QA model folder the neural reader reads with, in
    ``threads`` threads (0: one per core)."""
    if model_dir is not None and name != "neural":
        raise UsageError(f"a reader model folder ({model_dir}) needs the neural reader, not {name!r}")
    if name == "baseline":
        from rag.reader.baseline import BaselineReader

        reader: Reader = BaselineReader()
    elif name == "neural":
        from rag.reader.neural import MODEL_DIR, NeuralReader

        reader = NeuralReader(MODEL_DIR if model_dir is None else Path(model_dir), threads=threads)
    else:
        raise UsageError(f"unknown reader {name!r}; choose one of: {', '.join(READERS)}")
    if threshold is not None:
        reader.threshold = threshold
    return reader


__all__ = ["READERS", "DEFAULT_READER", "Reader", "load_reader"]
