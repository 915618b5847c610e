"""Readers pick the answer span; they are chosen by name with ``load_reader``."""

from __future__ import annotations

from pathlib import Path

from rag.config import DEFAULT_READER, READERS
from rag.errors import UsageError
from rag.reader.base import Reader


def load_reader(name: str = DEFAULT_READER, model_dir: Path | None = None, threads: int = 0) -> Reader:
    """The reader called ``name``; ``model_dir`` is the QA model folder the neural reader reads with, in
    ``threads`` threads (0: one per core). Its threshold is its own calibrated one, read-only: a run
    applies another through ``Settings.threshold`` or per call."""
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
    return reader


__all__ = ["READERS", "DEFAULT_READER", "Reader", "load_reader"]
