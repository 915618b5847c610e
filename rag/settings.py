"""One frozen ``Settings``: everything that says how documents are indexed and questions answered.

    settings = Settings.load({"top_k": 3})            # defaults < RAG_* environment < these values
    pipe = Pipeline(settings)

Built once, validated once (each bad value gets one message, and every bad value is named in the
one error), and then only read: a command builds it from its flags (``rag.commands``), the chat
keeps it, and the same object goes to a Ray cluster's actors. The defaults are ``rag.config``'s.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from rag.config import (
    CHUNK_OVERLAP,
    CHUNK_TOKENS,
    DEFAULT_DOCS,
    DEFAULT_INDEX,
    DEFAULT_READER,
    DEFAULT_RETRIEVER,
    EMBEDDING_BACKENDS,
    ENVIRONMENT,
    HYBRID_BM25_WEIGHT,
    READ_CONTEXT_CHARS,
    READERS,
    RETRIEVERS,
    THREADS,
    TOP_K,
    chunking_problem,
)
from rag.errors import UsageError


@dataclass(frozen=True)
class Settings:
    """How to index and answer. ``chunk_tokens``/``chunk_overlap`` None keep an index's own chunking;
    ``threshold`` None applies the reader's own calibrated threshold; ``reader_model`` (a QA model
    folder) means the neural reader; ``threads`` 0 is one per core. ``embedding`` None keeps an
    index's own embedder (a new index gets ``DEFAULT_EMBEDDING_BACKEND``); a backend named here
    rebuilds an index that another variant built, saying so (``rag.pipeline.Pipeline``)."""

    docs: Path = DEFAULT_DOCS
    index: Path = DEFAULT_INDEX
    chunk_tokens: int | None = None
    chunk_overlap: int | None = None
    retriever: str = DEFAULT_RETRIEVER
    bm25_weight: float = HYBRID_BM25_WEIGHT
    top_k: int = TOP_K
    reader: str = DEFAULT_READER
    reader_model: Path | None = None
    threshold: float | None = None
    read_context: int = READ_CONTEXT_CHARS
    embedding: str | None = None
    threads: int = THREADS

    def __post_init__(self) -> None:
        object.__setattr__(self, "docs", Path(self.docs))
        object.__setattr__(self, "index", Path(self.index))
        if self.reader_model is not None:
            object.__setattr__(self, "reader_model", Path(self.reader_model))
        found = {name: check(self, name) for name in CHECKS}
        problems = [p for p in found.values() if p]
        if not (found["chunk_tokens"] or found["chunk_overlap"]) and (together := _chunking(self)):
            problems.append(together)
        if self.reader_model is not None and self.reader == "baseline":
            problems.append(f"--reader-model ({self.reader_model}) needs the neural reader, not --reader baseline")
        if problems:
            raise UsageError("; ".join(problems))
        if self.reader_model is not None:  # the one place a model folder implies the neural reader
            object.__setattr__(self, "reader", "neural")

    @classmethod
    def load(cls, given: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
        """Defaults, then the ``RAG_*`` environment (``rag.config.ENVIRONMENT``), then ``given`` (a
        command's flags; a None value is a flag not given)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, variable in ENVIRONMENT.items():
            text = environ.get(variable, "").strip()
            if text:
                values[name] = from_text(name, variable, text)
        unknown = set(given or {}) - set(ENVIRONMENT)
        if unknown:
            raise TypeError(f"not settings: {', '.join(sorted(unknown))}")
        values.update({k: v for k, v in (given or {}).items() if v is not None})
        return cls(**values)

    @property
    def chunking(self) -> tuple[int, int] | None:
        """The (size, overlap) asked for, None to keep the index's own; a given overlap alone keeps the
        default size, a given size alone the default overlap."""
        if self.chunk_tokens is None and self.chunk_overlap is None:
            return None
        size = CHUNK_TOKENS if self.chunk_tokens is None else self.chunk_tokens
        return size, CHUNK_OVERLAP if self.chunk_overlap is None else self.chunk_overlap

    def applied_threshold(self, calibrated: float) -> float:
        """The threshold the settings' reader is held to: ``threshold`` when given, else its ``calibrated`` one."""
        return calibrated if self.threshold is None else self.threshold

    def absolute(self) -> Settings:
        """The same settings with absolute paths, for processes that run elsewhere (cluster actors)."""
        model = None if self.reader_model is None else self.reader_model.absolute()
        return replace(self, docs=self.docs.absolute(), index=self.index.absolute(), reader_model=model)


def _whole(low: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


CHUNK_VARIABLES = f"{ENVIRONMENT['chunk_tokens']}/{ENVIRONMENT['chunk_overlap']}"


def _chunking(s: Settings) -> str | None:
    problem = None if s.chunking is None else chunking_problem(*s.chunking)
    return None if problem is None else f"--chunk-tokens/--chunk-overlap ({CHUNK_VARIABLES}): {problem}"


# Each setting's rule and what it must be: its one message (``check``).
CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "top_k": (_whole(1), "a whole number of at least 1"),
    "read_context": (_whole(0), "0 or more characters"),
    "threads": (_whole(0), "0 (one per core) or more"),
    "retriever": (lambda v: v in RETRIEVERS, f"one of {', '.join(RETRIEVERS)}"),
    "reader": (lambda v: v in READERS, f"one of {', '.join(READERS)}"),
    "embedding": (lambda v: v is None or v in EMBEDDING_BACKENDS, f"one of {', '.join(EMBEDDING_BACKENDS)}"),
    "bm25_weight": (lambda v: _number(v) and 0 <= v <= 1, "between 0 and 1"),
    "threshold": (lambda v: v is None or (_number(v) and math.isfinite(v)), "a number"),
    "chunk_tokens": (lambda v: v is None or _whole(1)(v), "a whole number of tokens"),
    "chunk_overlap": (lambda v: v is None or _whole(0)(v), "a whole number of tokens"),
}


def check(settings: Settings, name: str) -> str | None:
    """The message for ``name``'s value when it breaks its rule (None: it keeps it); it names the flag
    and the environment variable that set it."""
    rule, must_be = CHECKS[name]
    value = getattr(settings, name)
    return None if rule(value) else f"{where_set(name)} must be {must_be}, not {value!r}"


def where_set(name: str) -> str:
    """A setting as a user sets it: "--top-k (RAG_TOP_K)"."""
    return f"--{name.replace('_', '-')} ({ENVIRONMENT[name]})"


TYPES = {f.name: f.type for f in fields(Settings)}


def from_text(name: str, variable: str, text: str) -> Any:
    """An environment variable's text as the setting's type (UsageError that names the variable)."""
    kind = str(TYPES[name])
    try:
        if "Path" in kind:
            return Path(text)
        if "int" in kind:
            return int(text)
        if "float" in kind:
            return float(text)
    except ValueError:
        raise UsageError(f"{variable} must be a number, not {text!r}") from None
    return text
