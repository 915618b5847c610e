"""One Settings object (#25): built from flags, environment and defaults, checked once, the only way to
build a Pipeline; the reader's calibrated threshold is read-only and the applied one a run argument."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from rag.config import CHUNK_OVERLAP, CHUNK_TOKENS, ENVIRONMENT, TOP_K
from rag.errors import UsageError
from rag.pipeline import Pipeline
from rag.settings import Settings

from .conftest import SEEDS


def test_defaults_then_environment_then_flags():
    assert Settings().top_k == TOP_K and Settings.load(environ={}) == Settings()
    env = {"RAG_TOP_K": "7", "RAG_THRESHOLD": "0.2", "RAG_DOCS": "elsewhere", "RAG_RETRIEVER": "bm25"}
    from_env = Settings.load(environ=env)
    assert (from_env.top_k, from_env.threshold, from_env.docs, from_env.retriever) == (
        7,
        0.2,
        Path("elsewhere"),
        "bm25",
    )
    flags = Settings.load({"top_k": 3, "threshold": None, "docs": Path("seeds")}, environ=env)
    assert (flags.top_k, flags.threshold, flags.docs) == (3, 0.2, Path("seeds"))  # None: the flag was not given


def test_every_setting_has_its_environment_variable():
    assert set(ENVIRONMENT) == {f.name for f in dataclasses.fields(Settings)}


def test_every_bad_value_is_named_once_with_its_flag_and_variable():
    with pytest.raises(UsageError) as error:
        Settings(top_k=0, retriever="fuzzy", read_context=-1, bm25_weight=2.0)
    message = str(error.value)
    for flag, variable in [("--top-k", "RAG_TOP_K"), ("--retriever", "RAG_RETRIEVER"),
                           ("--read-context", "RAG_READ_CONTEXT"), ("--bm25-weight", "RAG_BM25_WEIGHT")]:  # fmt: skip
        assert message.count(flag) == 1 and variable in message
    with pytest.raises(UsageError, match="RAG_TOP_K must be a number"):
        Settings.load(environ={"RAG_TOP_K": "many"})
    with pytest.raises(UsageError, match="half the chunk size"):
        Settings(chunk_tokens=100, chunk_overlap=60)
    with pytest.raises(UsageError, match="needs the neural reader"):
        Settings(reader="baseline", reader_model=Path("model"))


def test_settings_are_frozen_and_a_model_folder_means_the_neural_reader():
    settings = Settings(reader_model="some/model")
    assert settings.reader == "neural" and settings.reader_model == Path("some/model")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.top_k = 9  # type: ignore[misc]
    assert Settings(chunk_overlap=10).chunking == (CHUNK_TOKENS, 10) and Settings().chunking is None
    assert Settings(chunk_tokens=64).chunking == (64, CHUNK_OVERLAP)
    assert Settings(docs="d").absolute().docs.is_absolute()


def test_the_pipeline_is_built_from_settings_and_nothing_outside_sets_it(tmp_path: Path, embedder):
    pipe = Pipeline(Settings(docs=SEEDS, index=tmp_path / "ix", reader="baseline", top_k=2), embedder=embedder)
    for name in ("index", "top_k", "docs_dir", "index_dir", "retriever"):
        with pytest.raises(AttributeError):
            setattr(pipe, name, None)
    pipe.refresh()
    first = pipe.retriever
    assert pipe.retriever is first  # built when the index changes, not per access
    assert len(pipe.ask("who supplies GPUs in the deal?").passages) == 2


def test_the_calibrated_threshold_is_read_only_and_the_applied_one_a_run_argument(tmp_path: Path, embedder):
    settings = Settings(docs=SEEDS, index=tmp_path / "ix", reader="baseline", threshold=0.9)
    pipe = Pipeline(settings, embedder=embedder)
    calibrated = pipe.reader.threshold
    with pytest.raises(AttributeError):
        pipe.reader.threshold = 0.5  # type: ignore[misc]
    assert pipe.threshold_for(pipe.reader) == 0.9  # the settings' override, for the pipeline's own reader
    assert pipe.threshold_for(pipe.reader, 0.1) == 0.1  # one call's own
    assert pipe.reader.threshold == calibrated != 0.9
