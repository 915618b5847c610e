"""Shared fixtures: the real models load once per test session, on CPU, offline."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.config import set_offline_env

set_offline_env()

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILE = "openai-google-cloud-partnership.txt"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def embedder():
    from rag.index.embedding import load_embedder

    return load_embedder()


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A private copy of seeds/ that a test may change."""
    target = tmp_path / "docs"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture(scope="session")
def seed_pipeline(tmp_path_factory, embedder):
    """A pipeline over seeds/, its index built once for the session in a temp folder."""
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    pipe = Pipeline(Settings(docs=SEEDS, index=tmp_path_factory.mktemp("index")), embedder=embedder)
    pipe.refresh()
    return pipe
