"""What a cluster actor needs to build the driver's Pipeline again: plain values, cheap to ship."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from rag.index.embedding import load_embedder
from rag.index.store import Index
from rag.pipeline import Pipeline
from rag.reader import Reader, load_reader

ACTOR_THREADS = 1  # an actor holds one CPU


@dataclass(frozen=True)
class PipelineSpec:
    """The answering settings of a command (paths absolute: actors run elsewhere)."""

    docs: Path
    index: Path
    top_k: int
    reader: str
    reader_model: Path | None
    threshold: float | None
    retriever: str
    read_context: int

    @classmethod
    def from_args(cls, args: argparse.Namespace, docs: Path, index: Path) -> PipelineSpec:
        """The spec of a command's answering flags (``rag.cli.add_answering_args``) over ``docs`` and ``index``."""
        model = None if args.reader_model is None else Path(args.reader_model).absolute()
        reader = "neural" if model is not None else args.reader
        return cls(docs.absolute(), index.absolute(), args.top_k, reader, model, args.threshold, args.retriever,
                   args.read_context)  # fmt: skip

    def load_reader(self) -> Reader:
        return load_reader(self.reader, self.threshold, model_dir=self.reader_model, threads=ACTOR_THREADS)

    def load(self) -> Pipeline:
        """The Pipeline, its index loaded as the driver left it: an actor never updates the index."""
        pipe = Pipeline(
            self.docs, self.index, top_k=self.top_k, reader=self.load_reader(), retriever=self.retriever,
            embedder=load_embedder(threads=ACTOR_THREADS), read_context=self.read_context,
        )  # fmt: skip
        pipe.index = Index.load(self.index)
        return pipe
