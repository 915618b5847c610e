"""Readers pick the answer span; they are chosen by name with ``load_reader``."""

from __future__ import annotations

from rag.errors import UsageError
from rag.reader.base import Reader

READERS = ("baseline", "neural")
DEFAULT_READER = "baseline"


def load_reader(name: str = DEFAULT_READER, threshold: float | None = None) -> Reader:
    if name == "baseline":
        from rag.reader.baseline import BaselineReader

        reader: Reader = BaselineReader()
    elif name == "neural":
        from rag.reader.neural import NeuralReader

        reader = NeuralReader()
    else:
        raise UsageError(f"unknown reader {name!r}; choose one of: {', '.join(READERS)}")
    if threshold is not None:
        reader.threshold = threshold
    return reader


__all__ = ["READERS", "DEFAULT_READER", "Reader", "load_reader"]
