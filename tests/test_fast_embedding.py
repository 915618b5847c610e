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

    files = list(fast.cache_dir.glob("*.onnx"))
    assert len(files) == 1
    assert export_onnx(model_dir(), fast.cache_dir) == files[0]


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
