"""The index on disk: a FAISS index, its chunks and a manifest, replaced atomically.

Layout of an index folder::

    CURRENT                 name of the live build and its manifest's SHA-256, swapped with os.replace
    build-<id>/manifest.json  model, dimension, chunking, per-file hashes, checksums of the build's files
    build-<id>/chunks.jsonl   one chunk per line, in vector order, grouped by file
    build-<id>/texts.jsonl    extracted text and page starts of each .html/.pdf/.docx file
    build-<id>/vectors.faiss  the vectors
    build-<id>/bm25/          BM25 over the same chunks (row i is chunk i)

A build is written in full into a fresh folder before CURRENT points at it, so an
interrupted build leaves the previous index in use.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

import faiss
import numpy as np

from rag.documents.formats import is_plain
from rag.errors import IndexUnusable
from rag.index import ann
from rag.index.lexical import KIND as LEXICAL_KIND
from rag.index.lexical import Bm25, Bm25Builder, title_of
from rag.types import Chunk, Extracted, location_at

FORMAT = 3  # 3: checksums of every file in the manifest, the manifest's in CURRENT
BUILD_NAME = re.compile(r"build-[0-9a-f]{12}")
POINTER = "CURRENT"
LOCK = ".lock"
VECTORS_SCRATCH = "vectors.f32"  # raw rows while a build is written; not part of the build
BM25_SCRATCH = "bm25-triples.i32"  # BM25 word counts while a build is written; not part of the build


@dataclass
class Index:
    """Chunks and their vectors (row ``i`` of the FAISS index is ``chunks[i]``), plus the manifest.

    ``texts`` keeps the extracted text of each non-plain file (.html, .pdf, .docx...), and the decoded
    text of a .txt/.md that is not UTF-8: the text its offsets refer to, with its page starts, places,
    encoding and OCR-read pages, so citations can be shown even after the file changed.
    """

    manifest: dict
    chunks: list[Chunk]
    vectors: faiss.Index
    lexical: Bm25
    texts: dict[str, Extracted] = field(default_factory=dict)

    def kept_text(self, source: str) -> str | None:
        """The text of ``source`` the index read and kept; None for a UTF-8 .txt/.md, whose text is the file
        itself (``rag.documents.folder.file_text``)."""
        kept = self.texts.get(source)
        return None if kept is None else kept.text

    def page_of(self, source: str, offset: int) -> int | None:
        """The 1-based page of ``offset`` in ``source``; None for unpaged files."""
        kept = self.texts.get(source)
        return None if kept is None else kept.page_of(offset)

    def location_of(self, source: str, offset: int) -> str | None:
        """Where ``offset`` lies in ``source`` (``page 2``, ``slide 3``, ``section “Setup”``...), from its kept
        text, else (a streamed .md) the heading places its manifest entry holds; None for a .txt."""
        kept = self.texts.get(source)
        if kept is not None:
            return kept.location_of(offset)
        entry = self.manifest.get("files", {}).get(source)
        places = entry.get("places") if isinstance(entry, dict) else None
        return location_at((), places, offset) if places else None

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

    @classmethod
    def load(cls, index_dir: Path) -> Index:
        """Load the live build; a missing, corrupt, altered or inconsistent part raises IndexUnusable.

        ``CURRENT`` names the build and the SHA-256 of its manifest; the manifest holds the SHA-256
        of every other file, so a garbled byte or an edited chunk anywhere is caught here."""
        pointer = index_dir / POINTER
        if not pointer.is_file():
            raise IndexUnusable(f"no index in {index_dir}")
        try:
            return cls._load(index_dir, pointer)
        except IndexUnusable:
            raise
        except Exception as exc:  # whatever a damaged file makes a parser raise
            raise IndexUnusable(f"index in {index_dir} is corrupt ({type(exc).__name__}: {exc})") from None

    @classmethod
    def _load(cls, index_dir: Path, pointer: Path) -> Index:
        name, digest = read_pointer(pointer)
        if not BUILD_NAME.fullmatch(name):
            raise IndexUnusable(f"index in {index_dir} is corrupt (CURRENT names no build)")
        build = index_dir / name
        manifest_bytes = (build / "manifest.json").read_bytes()
        manifest = json.loads(manifest_bytes)
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:  # older: rebuilt, with this reason
            found = manifest.get("format") if isinstance(manifest, dict) else None
            raise IndexUnusable(f"index in {index_dir} has format {found!r}, this version reads {FORMAT}")
        if hashlib.sha256(manifest_bytes).hexdigest() != digest or checksums(build) != manifest.get("checksums"):
            raise IndexUnusable(f"index in {index_dir} is corrupt (a file differs from its checksum)")
        with open(build / "chunks.jsonl", encoding="utf-8") as f:
            chunks = [checked_chunk(json.loads(line)) for line in f]
        texts = _load_texts(build / "texts.jsonl")
        files = manifest["files"]
        extracted = {s for s, st in files.items() if not is_plain(s) and not st.get("skipped")}
        vectors = faiss.read_index(str(build / "vectors.faiss"))
        ann.apply_search_params(vectors, manifest["index_params"])
        lexical = Bm25.load(build / "bm25")
        sizes_agree = len(chunks) == vectors.ntotal == lexical.size == manifest.get("n_chunks")
        if not sizes_agree or vectors.d != manifest.get("dim") or not extracted <= texts.keys():
            raise IndexUnusable(f"index in {index_dir} is corrupt (its parts disagree)")
        return cls(manifest, chunks, vectors, lexical, texts)


class BuildWriter:
    """Writes a new build as its chunks arrive, then switches it in: what an index costs in memory while
    it is built is one batch of chunks, the BM25 word counts and, at the end, the FAISS index alone.

        with BuildWriter(index_dir, dim) as writer:
            writer.add(chunks, vectors)            # any number of times, in row order
            writer.add_text(source, extracted)     # the kept text of an .html/.pdf/.docx file
            writer.finish(manifest)                # BM25 and FAISS written, checksums, CURRENT switched

    Chunks go straight to ``chunks.jsonl`` and vectors to a scratch file read back a block at a time into
    FAISS. Leaving the ``with`` block without ``finish`` (an error, a kill) leaves only a ``.tmp-*``
    folder, which the next builder removes; the live index is untouched.
    """

    VECTOR_BLOCK = 16_384  # rows of the scratch vectors read into FAISS at once

    def __init__(self, index_dir: Path, dim: int) -> None:
        self.index_dir, self.dim, self.size = index_dir, dim, 0
        index_dir.mkdir(parents=True, exist_ok=True)
        self.tmp = index_dir / f".tmp-{uuid.uuid4().hex}"
        self.tmp.mkdir()
        self._chunks = open(self.tmp / "chunks.jsonl", "w", encoding="utf-8")  # noqa: SIM115 - closed in finish
        self._texts = open(self.tmp / "texts.jsonl", "w", encoding="utf-8")  # noqa: SIM115
        self._vectors = open(self.tmp / VECTORS_SCRATCH, "wb")  # noqa: SIM115
        self.lexical = Bm25Builder(scratch=self.tmp / BM25_SCRATCH)

    def __enter__(self) -> BuildWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()
        shutil.rmtree(self.tmp, ignore_errors=True)  # gone once renamed by finish; else an unfinished build

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """The next rows: chunk ``i`` has vector ``vectors[i]``."""
        if len(chunks) != len(vectors) or (len(vectors) and vectors.shape[1] != self.dim):
            raise ValueError(f"{len(chunks)} chunks need {len(chunks)} vectors of {self.dim}, got {vectors.shape}")
        for chunk in chunks:
            self._chunks.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
        self._vectors.write(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
        self.lexical.add([indexed_text(c) for c in chunks])
        self.size += len(chunks)

    def add_text(self, source: str, kept: Extracted) -> None:
        self._texts.write(json.dumps({"source": source, **asdict(kept)}, ensure_ascii=False) + "\n")

    def finish(self, manifest: dict) -> Path:
        """Write BM25 and FAISS, record every file's checksum, and make this build the live one."""
        self._close()
        lexical = self.lexical.finish()
        lexical.save(self.tmp / "bm25")
        del lexical, self.lexical  # its arrays go back to the system before FAISS needs the memory
        search, params = ann.new_index(ann.kind_for(self.size), self.dim)
        ann.reserve(search, self.size)
        for block in self._vector_blocks():
            search.add(block)
        faiss.write_index(search, str(self.tmp / "vectors.faiss"))
        del search
        (self.tmp / VECTORS_SCRATCH).unlink()
        manifest = {
            **manifest,
            "format": FORMAT,
            "n_chunks": self.size,
            "index_type": params["index_type"],
            "index_params": params,
            "lexical": LEXICAL_KIND,
        }
        return _switch_in(self.tmp, self.index_dir, manifest)

    def _vector_blocks(self) -> Iterator[np.ndarray]:
        """The scratch vectors, a block at a time (plain reads: a memory map would count in RSS)."""
        row_bytes = self.dim * 4
        with open(self.tmp / VECTORS_SCRATCH, "rb") as f:
            while block := f.read(self.VECTOR_BLOCK * row_bytes):
                yield np.frombuffer(block, dtype=np.float32).reshape(-1, self.dim)

    def _close(self) -> None:
        for handle in (self._chunks, self._texts, self._vectors):
            handle.close()


def _switch_in(tmp: Path, index_dir: Path, manifest: dict) -> Path:
    """Make the finished build in ``tmp`` the live one: fsync, checksums, manifest, rename, CURRENT."""
    for path in tmp.rglob("*"):
        if path.is_file():
            _fsync(path)
    manifest = {**manifest, "checksums": checksums(tmp)}
    manifest_text = json.dumps(manifest, indent=1, ensure_ascii=False)
    _write_atomic(tmp / "manifest.json", manifest_text)
    build = index_dir / f"build-{uuid.uuid4().hex[:12]}"
    os.rename(tmp, build)
    digest = hashlib.sha256(manifest_text.encode("utf-8")).hexdigest()
    _write_atomic(index_dir / POINTER, f"{build.name} {digest}\n")
    _remove_stale_builds(index_dir, keep=build.name)
    return build


def read_pointer(pointer: Path) -> tuple[str, str]:
    """(build name, manifest SHA-256) from ``CURRENT``; whatever garbage it holds, two strings."""
    name, _, digest = pointer.read_bytes().decode("utf-8", "replace").strip().partition(" ")
    return name, digest


def checked_chunk(row: dict) -> Chunk:
    """A stored chunk, its fields checked: a bad type or a text that does not fit its range is corrupt."""
    chunk = Chunk(**row)
    ints = all(type(v) is int for v in (chunk.start, chunk.end, chunk.n_tokens))
    if not (isinstance(chunk.source, str) and isinstance(chunk.text, str) and ints):
        raise ValueError(f"a chunk has fields of the wrong type: {str(row)[:80]}")
    if not 0 <= chunk.start <= chunk.end or len(chunk.text) != chunk.end - chunk.start:
        raise ValueError(f"a chunk's text does not fit its range [{chunk.start}, {chunk.end})")
    return chunk


def checksums(build: Path) -> dict[str, str]:
    """SHA-256 of every file of a build but its manifest, by path relative to the build."""
    out = {}
    for path in sorted(build.rglob("*")):
        if path.is_file() and path.name != "manifest.json":
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                while block := f.read(1 << 20):
                    digest.update(block)
            out[path.relative_to(build).as_posix()] = digest.hexdigest()
    return out


def _load_texts(path: Path) -> dict[str, Extracted]:
    """The kept texts, by source (every build has the file, empty when no text is kept)."""
    texts = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            texts[row["source"]] = Extracted.from_row(row)
    return texts


INDEXED_TEXT = "title+text"  # recorded in the manifest: vectors of another text must be rebuilt


def indexed_text(chunk: Chunk) -> str:
    """What BM25 and the embedder see of a chunk: its document's name as a title, then its text.

    The title tells apart chunks that only make sense in their document's context (DPR embeds
    titles the same way); on QED training questions it lifts dense recall@1 from 0.742 to 0.853
    (eval/tune_retrieval.py --dense-title). Offsets still refer to the chunk's text alone."""
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


@contextlib.contextmanager
def build_lock(index_dir: Path, log: TextIO) -> Iterator[bool]:
    """Hold the index folder's build lock: one builder at a time; a second one waits (and says so).
    Yields whether it had to wait (then another build may have switched in a newer index).

    The lock is an ``flock`` on ``index_dir/.lock``, so a killed builder never leaves it held. Once
    held, leftovers of killed builds (``.tmp-*``, unreferenced ``build-*``) are removed.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / LOCK, "a+b") as handle:
        waited = False
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"another build is running in {index_dir}; waiting for it to finish", file=log, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
            waited = True
        try:
            pointer = index_dir / POINTER
            _remove_stale_builds(index_dir, keep=read_pointer(pointer)[0] if pointer.is_file() else "")
            yield waited
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_stale_builds(index_dir: Path, keep: str) -> None:
    """Leftovers of killed builds (under the build lock): unfinished ``.tmp-*`` folders, builds ``CURRENT``
    does not name, and ``.CURRENT.<hex>`` files, a new ``CURRENT`` that a kill kept from being renamed."""
    for entry in index_dir.iterdir():
        if entry.is_dir() and entry.name != keep and entry.name.startswith(("build-", ".tmp-")):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.is_file() and entry.name.startswith(f".{POINTER}."):
            entry.unlink(missing_ok=True)
