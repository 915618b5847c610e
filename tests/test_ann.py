"""rag.index.ann: index type by size, recall against exact search, reconstruction, parameters after a round trip."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from rag.index import ann

DIM = 64


def clustered(n: int, seed: int, clusters: int = 40) -> np.ndarray:
    """L2-normalised points around random centres: a small stand-in for text embeddings."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).standard_normal((clusters, DIM))
    x = centres[rng.integers(clusters, size=n)] + 0.7 * rng.standard_normal((n, DIM))
    x = x.astype(np.float32)
    faiss.normalize_L2(x)
    return x


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One FAISS thread: on a busy 2-core machine OpenMP threads wait on each other (10x slower builds)."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(threads)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return clustered(2000, seed=1), clustered(100, seed=2)


def recall_at_10(index: faiss.Index, base: np.ndarray, queries: np.ndarray) -> float:
    _, exact = faiss.knn(queries, base, 10, metric=faiss.METRIC_INNER_PRODUCT)
    _, found = index.search(queries, 10)
    return float(np.mean([len(set(e) & set(f)) / 10 for e, f in zip(exact, found)]))


def test_kind_by_size(monkeypatch: pytest.MonkeyPatch, data: tuple[np.ndarray, np.ndarray]) -> None:
    base, _ = data
    monkeypatch.setattr(ann, "EXACT_MAX_VECTORS", 1000)
    assert ann.kind_for(1000) == ann.FLAT
    assert ann.kind_for(1001) == ann.APPROXIMATE
    small, info = ann.build(base[:500])
    assert isinstance(small, faiss.IndexFlatIP) and info == {"index_type": ann.FLAT}
    large, info = ann.build(base)
    assert info["index_type"] == ann.APPROXIMATE and large.ntotal == len(base)


def test_empty_index_is_flat() -> None:
    index, info = ann.build(np.zeros((0, DIM), dtype=np.float32), dim=DIM)
    assert index.ntotal == 0 and index.d == DIM and info["index_type"] == ann.FLAT


@pytest.mark.parametrize("kind", [ann.HNSW, ann.HNSW_FP16, ann.IVF])
def test_recall_against_exact(kind: str, data: tuple[np.ndarray, np.ndarray]) -> None:
    base, queries = data
    index, _ = ann.build(base, kind=kind)
    assert recall_at_10(index, base, queries) >= 0.95


@pytest.mark.parametrize("kind", [ann.FLAT, ann.HNSW, ann.IVF])
def test_vectors_are_reconstructible(kind: str, data: tuple[np.ndarray, np.ndarray]) -> None:
    base, _ = data
    index, _ = ann.build(base, kind=kind)
    np.testing.assert_array_equal(index.reconstruct_n(10, 5), base[10:15])
    rows = np.array([7, 1999, 0, 7], dtype=np.int64)
    np.testing.assert_array_equal(index.reconstruct_batch(rows), base[rows])


@pytest.mark.parametrize(
    ("kind", "params"), [(ann.HNSW, {"efSearch": 40}), (ann.HNSW_FP16, {"efSearch": 40}), (ann.IVF, {"nprobe": 9})]
)
def test_search_params_survive_round_trip(
    kind: str, params: dict, data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    base, queries = data
    index, info = ann.build(base, kind=kind, **params)
    assert info.items() >= params.items()
    before = index.search(queries, 10)
    faiss.write_index(index, str(tmp_path / "v.faiss"))
    loaded = faiss.read_index(str(tmp_path / "v.faiss"))
    ann.apply_search_params(loaded, info)
    if kind in (ann.HNSW, ann.HNSW_FP16):
        assert loaded.hnsw.efSearch == 40
    else:
        assert faiss.extract_index_ivf(loaded).nprobe == 9
    after = loaded.search(queries, 10)
    np.testing.assert_array_equal(before[1], after[1])
    stored = index.reconstruct_batch(np.arange(3, dtype=np.int64))
    np.testing.assert_array_equal(loaded.reconstruct_batch(np.arange(3, dtype=np.int64)), stored)


def test_float16_storage_rounds_each_vector_and_is_half_the_size(data: tuple[np.ndarray, np.ndarray]) -> None:
    base, _ = data
    index, _ = ann.build(base, kind=ann.HNSW_FP16)
    rows = np.array([7, 1999, 0], dtype=np.int64)
    # each value rounded to float16 (FAISS breaks a rare tie the other way from numpy: one unit in the last place)
    half = base[rows].astype(np.float16).astype(np.float32)
    np.testing.assert_allclose(index.reconstruct_batch(rows), half, rtol=0, atol=np.abs(half).max() * 2**-10)
    assert faiss.downcast_index(index.storage).code_size == base.shape[1] * 2


def test_mismatched_params_are_rejected(data: tuple[np.ndarray, np.ndarray]) -> None:
    flat, _ = ann.build(data[0][:100], kind=ann.FLAT)
    with pytest.raises(ValueError):
        ann.apply_search_params(flat, {"index_type": ann.HNSW, "efSearch": 64})
    with pytest.raises(ValueError):
        ann.build(data[0][:100], kind="lsh")


@pytest.mark.parametrize("kind", [ann.FLAT, ann.HNSW, ann.HNSW_FP16])
def test_an_index_filled_a_block_at_a_time_into_reserved_room_is_the_same(kind):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3000, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    whole, _ = ann.build(x, kind=kind)
    blocks, _ = ann.new_index(kind, 16)
    ann.reserve(blocks, len(x))
    for i in range(0, len(x), 700):
        blocks.add(x[i : i + 700])
    assert blocks.ntotal == len(x) and np.array_equal(blocks.reconstruct_n(0, len(x)), whole.reconstruct_n(0, len(x)))
    if kind == ann.FLAT:
        assert np.array_equal(blocks.search(x[:5], 3)[1], whole.search(x[:5], 3)[1])
