"""rag.index.onnx_embedding gives the reference embedder's vectors (ONNX Runtime instead of sentence-transformers)."""

from __future__ import annotations

import numpy as np
import onnx  # noqa: F401  pinned dependencies: a broken install must fail here, not be skipped
import onnxruntime  # noqa: F401
import pytest

TEXTS = [
    "Who supplies GPUs in the deal?",
    "CoreWeave, a specialized cloud provider known for its GPU-based services, supplies the compute. " * 3,
    "",
    "a",
    "naïve café — 東京 🙂",
    "word " * 400,  # longer than the 256 word-piece window: truncated like the reference
]


@pytest.fixture(scope="module")
def reference():
    """sentence-transformers on torch, the vectors every backend must reproduce."""
    from rag.index.embedding import load_embedder

    return load_embedder(backend="torch")


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    from rag.index.onnx_embedding import FastEmbedder

    return FastEmbedder(cache_dir=tmp_path_factory.mktemp("onnx"))


def test_matches_reference(fast, reference) -> None:
    embedder, reference = reference, reference.encode(TEXTS)
    batched = fast.encode(TEXTS, batch_size=4)
    single = np.vstack([fast.encode([t]) for t in TEXTS])
    assert batched.shape == (len(TEXTS), embedder.dim) and batched.dtype == np.float32
    assert fast.name == embedder.name and fast.dim == embedder.dim
    for vectors in (batched, single):
        assert np.sum(vectors * reference, axis=1).min() >= 0.999  # fp32 throughout: equal up to rounding
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_input(fast) -> None:
    assert fast.encode([]).shape == (0, fast.dim)


def test_export_is_cached(fast) -> None:
    from rag.index.onnx_embedding import export_onnx, model_dir

    files = sorted(fast.cache_dir.glob("*.onnx"))
    assert len(files) == 2  # the export and its fused graph, which the embedder runs
    assert export_onnx(model_dir(), fast.cache_dir) in files and any(f.stem.endswith("-fused") for f in files)


def test_default_backend_is_onnx(embedder) -> None:
    from rag.index.onnx_embedding import FastEmbedder

    assert isinstance(embedder, FastEmbedder)


def test_falls_back_to_torch_when_onnx_fails(monkeypatch, reference) -> None:
    import rag.index.onnx_embedding
    from rag.errors import RagError
    from rag.index.embedding import Embedder, load_embedder

    def broken(*args, **kwargs):
        raise PermissionError("read-only cache")

    monkeypatch.setattr(rag.index.onnx_embedding, "FastEmbedder", broken)
    assert isinstance(load_embedder.__wrapped__(backend="auto"), Embedder)
    with pytest.raises(RagError, match="ONNX Runtime embedder is unavailable: read-only cache"):
        load_embedder.__wrapped__(backend="onnx")
    with pytest.raises(RagError, match="unknown embedding backend"):
        load_embedder.__wrapped__(backend="tensorflow")
    with pytest.raises(RagError, match="unknown embedding model"):
        load_embedder.__wrapped__("bert-base", backend="torch")


@pytest.mark.parametrize("backend", ["onnx-int8", "torch-bf16"])
def test_faster_variants_are_close_and_named(backend, reference) -> None:
    """int8 and bf16 vectors are near fp32's (int8: cosine 0.86-0.96 on these texts, yet the same SQuAD dev
    recall, bench/RESULTS.md) but not equal: their own name keeps an index from mixing them."""
    from rag.config import EMBEDDING_MODEL, backend_of
    from rag.index.embedding import load_embedder

    variant = load_embedder(backend=backend)
    assert variant.name != reference.name and variant.name.startswith(EMBEDDING_MODEL + "@")
    assert backend_of(variant.name) == backend and backend_of(reference.name) == "auto"
    vectors = variant.encode(TEXTS)
    assert vectors.dtype == np.float32 and np.sum(vectors * reference.encode(TEXTS), axis=1).min() >= 0.8
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_an_index_keeps_the_embedder_that_built_it(tmp_path, docs) -> None:
    """Built with int8, an index's questions are encoded with int8 by a pipeline whose settings leave the
    embedding to the index, whatever the default; a pipeline that names another backend rebuilds it and says so."""
    import io

    from rag.config import EMBEDDING_MODEL
    from rag.pipeline import Pipeline
    from rag.reader import load_reader
    from rag.settings import Settings

    reader = load_reader("neural")
    index = tmp_path / "index"
    built = Pipeline(Settings(docs=docs, index=index, embedding="onnx-int8"), reader=reader, log=io.StringIO())
    built.refresh()
    assert built.index is not None and built.index.manifest["model"] == EMBEDDING_MODEL + "@int8"
    question = "who supplies GPUs in the deal?"
    expected = built.retrieve(question)

    log = io.StringIO()
    kept = Pipeline(Settings(docs=docs, index=index), reader=reader, log=log)
    assert kept.embedder is built.embedder  # the index's variant, not the default one
    assert kept.refresh() is None and "rebuild" not in log.getvalue()
    assert kept.retriever.embedder is built.embedder
    assert [(p.source, p.start) for p in kept.retrieve(question)] == [(p.source, p.start) for p in expected]

    log = io.StringIO()
    other = Pipeline(Settings(docs=docs, index=index, embedding="onnx"), reader=reader, log=log)
    report = other.refresh()
    assert report is not None and "model" in report.rebuilt_because
    assert f"rebuilding index: index was built with model='{EMBEDDING_MODEL}@int8'" in log.getvalue()
    assert other.index is not None and other.index.manifest["model"] == EMBEDDING_MODEL
