"""The index on disk: a FAISS index, its chunks and a manifest, replaced atomically.

Layout of an index folder::

    CURRENT                 name of the live build, swapped with os.replace
    build-<id>/manifest.json  model, dimension, chunking, per-file hashes
    build-<id>/chunks.jsonl   one chunk per line, in vector order, grouped by file
    build-<id>/vectors.faiss  the vectors
    build-<id>/bm25/          BM25 over the same chunks (row i is chunk i)

A build is written in full into a fresh folder before CURRENT points at it, so an
interrupted build leaves the previous index in use.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from rag.errors import IndexUnusable
from rag.lexical import KIND as LEXICAL_KIND
from rag.lexical import Bm25, title_of
from rag.types import Chunk

FORMAT = 2
POINTER = "CURRENT"


@dataclass
class Index:
    """Chunks and their vectors (row ``i`` of the FAISS index is ``chunks[i]``), plus the manifest."""

    manifest: dict
    chunks: list[Chunk]
    vectors: faiss.Index
    lexical: Bm25

    @classmethod
    def build(cls, manifest: dict, chunks: list[Chunk], vectors: np.ndarray) -> Index:
        flat = faiss.IndexFlatIP(int(manifest["dim"]))
        if len(vectors):
            flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
        lexical = Bm25.build([lexical_text(c) for c in chunks])
        manifest = {
            **manifest,
            "format": FORMAT,
            "n_chunks": len(chunks),
            "index_type": "flat-ip",
            "lexical": LEXICAL_KIND,
        }
        return cls(manifest, chunks, flat, lexical)

    def vectors_of(self, first: int, count: int) -> np.ndarray:
        """Stored vectors of rows ``first .. first + count - 1`` (reused when a file is unchanged)."""
        if count == 0:
            return np.zeros((0, self.vectors.d), dtype=np.float32)
        return self.vectors.reconstruct_n(first, count)

    def vectors_at(self, rows: np.ndarray) -> np.ndarray:
        """Stored vectors of the given rows, in that order."""
        return self.vectors.reconstruct_batch(np.asarray(rows, dtype=np.int64))

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` nearest chunks to one query vector as (row, inner product), best first."""
        k = min(k, len(self.chunks))
        if k <= 0:
            return []
        scores, rows = self.vectors.search(query.reshape(1, -1).astype(np.float32), k)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def save(self, index_dir: Path) -> Path:
        """Write a new build and atomically make it the live one; old builds are removed after."""
        index_dir.mkdir(parents=True, exist_ok=True)
        tmp = index_dir / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            faiss.write_index(self.vectors, str(tmp / "vectors.faiss"))
            self.lexical.save(tmp / "bm25")
            with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as f:
                for chunk in self.chunks:
                    f.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
            _write_atomic(tmp / "manifest.json", json.dumps(self.manifest, indent=1, ensure_ascii=False))
            for path in tmp.rglob("*"):
                if path.is_file():
                    _fsync(path)
            build = index_dir / f"build-{uuid.uuid4().hex[:12]}"
            os.rename(tmp, build)
            _write_atomic(index_dir / POINTER, build.name + "\n")
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        _remove_stale_builds(index_dir, keep=build.name)
        return build

    @classmethod
    def load(cls, index_dir: Path) -> Index:
        """Load the live build; any missing, corrupt or inconsistent part raises IndexUnusable."""
        pointer = index_dir / POINTER
        if not pointer.is_file():
            raise IndexUnusable(f"no index in {index_dir}")
        build = index_dir / pointer.read_text(encoding="utf-8").strip()
        try:
            manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                found = manifest.get("format") if isinstance(manifest, dict) else None
                raise IndexUnusable(f"index in {index_dir} has format {found!r}, this version reads {FORMAT}")
            with open(build / "chunks.jsonl", encoding="utf-8") as f:
                chunks = [Chunk(**json.loads(line)) for line in f]
            vectors = faiss.read_index(str(build / "vectors.faiss"))
            lexical = Bm25.load(build / "bm25")
        except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
            raise IndexUnusable(f"index in {index_dir} is corrupt ({type(exc).__name__}: {exc})") from None
        sizes_agree = len(chunks) == vectors.ntotal == lexical.size == manifest.get("n_chunks")
        if not sizes_agree or vectors.d != manifest.get("dim"):
            raise IndexUnusable(f"index in {index_dir} is corrupt (its parts disagree)")
        return cls(manifest, chunks, vectors, lexical)


def lexical_text(chunk: Chunk) -> str:
    """What BM25 indexes for a chunk: its document's name as a title field, then its text."""
    return f"{title_of(chunk.source)}\n{chunk.text}"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _remove_stale_builds(index_dir: Path, keep: str) -> None:
    for entry in index_dir.iterdir():
        if entry.is_dir() and entry.name != keep and entry.name.startswith(("build-", ".tmp-")):
            shutil.rmtree(entry, ignore_errors=True)
