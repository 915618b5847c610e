"""What a cluster actor answers with: the driver's own ``Settings`` (frozen, plain values, cheap to ship;
paths made absolute by the driver, as actors run elsewhere), one thread per actor."""

from __future__ import annotations

from dataclasses import replace

from rag.index.store import Index
from rag.pipeline import Pipeline
from rag.reader import Reader, load_reader
from rag.settings import Settings

ACTOR_THREADS = 1  # an actor holds one CPU


def actor_reader(settings: Settings) -> Reader:
    """The settings' reader, computing in one thread."""
    return load_reader(settings.reader, model_dir=settings.reader_model, threads=ACTOR_THREADS)


def actor_pipeline(settings: Settings) -> Pipeline:
    """The driver's Pipeline, its index loaded as the driver left it: an actor never updates the index."""
    settings = replace(settings, threads=ACTOR_THREADS)
    return Pipeline(settings, index=Index.load(settings.index))
