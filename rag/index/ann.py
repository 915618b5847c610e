"""Choosing, building and configuring the FAISS index for the chunk vectors, by corpus size.

Up to ``EXACT_MAX_VECTORS`` vectors the index is exact (``IndexFlatIP``): a brute-force scan is
only a few milliseconds there and needs no tuning. Above it the index is approximate: HNSW over the
vectors stored as float16 (``IndexHNSWSQ``, inner product), half the memory of float32 at the same
recall (bench/RESULTS.md); HNSW over float32 (``IndexHNSWFlat``) is built on request, and indexes
built with it are still read. ``reconstruct_n`` / ``reconstruct_batch`` give back the stored
vectors (exactly, or rounded to float16) for incremental updates and for re-scoring candidates.
An IVF index (``IndexIVFFlat`` with a direct map) is built on request for comparison (see
bench/RESULTS.md for the measurements behind the choice and the parameters).

FAISS does not store search-time parameters (efSearch, nprobe) in the index file: keep the
parameters returned by :func:`build` (e.g. in the index manifest) and call
:func:`apply_search_params` after ``faiss.read_index``.
"""

from __future__ import annotations

import math
from typing import Any

import faiss
import numpy as np

FLAT = "flat-ip"
HNSW = "hnsw-ip"
HNSW_FP16 = "hnsw-fp16-ip"
IVF = "ivf-flat-ip"

EXACT_MAX_VECTORS = 50_000
APPROXIMATE = HNSW_FP16

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 128
HNSW_EF_SEARCH = 512
IVF_NPROBE = 256
IVF_TRAIN_PER_LIST = 64  # training points per list; FAISS wants at least 39


def kind_for(n: int) -> str:
    """The index type for ``n`` vectors: exact up to ``EXACT_MAX_VECTORS``, approximate above."""
    return FLAT if n <= EXACT_MAX_VECTORS else APPROXIMATE


def ivf_lists(n: int) -> int:
    """Number of IVF lists for ``n`` vectors: about 4 * sqrt(n), a power of two, with enough training points."""
    lists = 2 ** round(math.log2(max(1.0, 4 * math.sqrt(n))))
    return max(1, min(lists, n // 39))


def new_index(kind: str, dim: int, **params: int) -> tuple[faiss.Index, dict[str, Any]]:
    """An empty exact or HNSW index, ready for ``add`` a block at a time, and its parameters."""
    if kind == FLAT:
        return faiss.IndexFlatIP(dim), {"index_type": FLAT}
    if kind in (HNSW, HNSW_FP16):
        info = {
            "index_type": kind,
            "M": params.get("M", HNSW_M),
            "efConstruction": params.get("efConstruction", HNSW_EF_CONSTRUCTION),
            "efSearch": params.get("efSearch", HNSW_EF_SEARCH),
        }
        if kind == HNSW:
            index = faiss.IndexHNSWFlat(dim, info["M"], faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_fp16, info["M"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = info["efConstruction"]
        return index, info
    choices = f"{FLAT}, {HNSW} or {HNSW_FP16}"
    raise ValueError(f"an index of type {kind!r} cannot be built a block at a time; choose {choices}")


def reserve(index: faiss.Index, n: int) -> None:
    """Allocate room for ``n`` vectors (and, for HNSW, their links) before adding them a block at a time.

    FAISS grows its arrays to the exact size on every ``add``, copying them each time, so a build
    added in blocks briefly holds two copies of everything; with the room reserved it holds one.
    (A ``std::vector`` keeps its capacity when resized down, so resizing up then to 0 reserves.)"""
    hnsw = getattr(index, "hnsw", None)
    storage = faiss.downcast_index(index.storage) if hnsw is not None else index
    codes = getattr(storage, "codes", None)
    if codes is not None and codes.size() == 0:
        codes.resize(n * storage.code_size)
        codes.resize(0)
    if hnsw is not None and hnsw.neighbors.size() == 0:
        # links: 2M on the base level, and about M / (M - 1) more over the upper levels, per vector
        hnsw.neighbors.resize(n * (2 * hnsw.nb_neighbors(1) + 2))
        hnsw.neighbors.resize(0)


def build(
    vectors: np.ndarray, dim: int | None = None, kind: str | None = None, **params: int
) -> tuple[faiss.Index, dict[str, Any]]:
    """An index over ``vectors`` (float32, L2-normalised rows; row ``i`` gets id ``i``) and its parameters.

    ``kind`` defaults to :func:`kind_for` the number of rows; ``params`` override the defaults
    (``M``, ``efConstruction``, ``efSearch`` for HNSW; ``nlist``, ``nprobe`` for IVF). The returned
    dict holds ``index_type`` and every parameter needed to rebuild or re-apply the index.
    """
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    d = int(dim if dim is not None else x.shape[1])
    if x.ndim != 2 or x.shape[1] != d:
        raise ValueError(f"vectors must have shape (n, {d}), got {x.shape}")
    kind = kind or kind_for(len(x))
    if kind == IVF:
        info: dict[str, Any] = {
            "index_type": IVF,
            "nlist": params.get("nlist", ivf_lists(len(x))),
            "nprobe": params.get("nprobe", IVF_NPROBE),
        }
        index: faiss.Index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, info["nlist"], faiss.METRIC_INNER_PRODUCT)
        index.train(_sample(x, info["nlist"] * IVF_TRAIN_PER_LIST))
        index.make_direct_map()  # so reconstruct_n / reconstruct_batch work
    elif kind in (FLAT, HNSW, HNSW_FP16):
        index, info = new_index(kind, d, **params)
    else:
        raise ValueError(f"unknown index type {kind!r}; choose one of: {FLAT}, {HNSW}, {HNSW_FP16}, {IVF}")
    if len(x):
        index.add(x)
    apply_search_params(index, info)
    return index, info


def apply_search_params(index: faiss.Index, params: dict[str, Any]) -> None:
    """Set the search-time parameters in ``params`` on ``index`` (needed after ``faiss.read_index``).

    Raises ValueError when ``params["index_type"]`` does not describe ``index``.
    """
    kind = params["index_type"]
    ivf = faiss.try_extract_index_ivf(index)
    if kind == FLAT and isinstance(index, faiss.IndexFlat):
        return
    if kind in (HNSW, HNSW_FP16) and hasattr(index, "hnsw"):
        index.hnsw.efSearch = int(params["efSearch"])
        return
    if kind == IVF and ivf is not None:
        ivf.nprobe = int(params["nprobe"])
        return
    raise ValueError(f"index of type {type(index).__name__} does not match index_type {kind!r}")


def _sample(x: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """At most ``size`` rows of ``x``, chosen at random (in row order)."""
    if len(x) <= size:
        return x
    rows = np.sort(np.random.default_rng(seed).choice(len(x), size=size, replace=False))
    return x[rows]
