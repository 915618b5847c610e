"""The index build's reading, chunking and embedding as Ray Data stages: ``embed_on_ray`` is a
``rag.index.build.EmbedFiles``, so the driver keeps the lock, the reuse of unchanged files, the manifest and
the atomic switch-in, and the index is the one a local build writes.

    changed files ─► read + chunk (tasks, READ_CPUS each) ─► embed (actor pool, one model load per actor)
                  ─► back to the driver in file order (preserve_order; every row's place is checked)

Workers open the files at the driver's absolute paths: on a cluster of several machines the docs folder
must be mounted at the same path on every node (NFS, a shared volume).
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from rag.chunking.chunker import ChunkConfig
from rag.config import DEFAULT_EMBEDDING_BACKEND, backend_of
from rag.index.build import EMBED_BATCH, Embedded, EmbedFiles, FileState, ToEmbed, read_file
from rag.index.embedding import Encoder, load_embedder
from rag.index.store import indexed_text
from rag.types import Chunk, Extracted

# Reading and chunking cost a few percent of embedding. A quarter CPU each lets them run beside an embedder
# on a node of one CPU; had both whole CPUs, the actors would hold every CPU and the reads would wait forever.
READ_CPUS = 0.25
EMBED_CPUS = 1 - READ_CPUS
EMBED_THREADS = 1  # ONNX Runtime threads of an embedder actor, which holds less than one CPU
MAX_READ_TASKS = 1024  # files are read in at most this many tasks (about one per file for small corpora)
HEADER = -1  # row number of a file's own row (manifest entry, kept text), which comes before its chunks


class Row(NamedTuple):
    """One row of the pipeline as the driver reads it back."""

    seq: int  # the file's place among the files to embed
    row: int  # HEADER, then 0, 1, ... for its chunks
    source: str
    start: int
    end: int
    n_tokens: int
    text: str
    meta: str  # the header's JSON: {"entry": FileState fields, "kept": Extracted fields or null}
    vector: np.ndarray


def file_rows(item: dict[str, Any], size: int, overlap: int) -> Iterator[dict[str, Any]]:
    """Ray Data stage 1 (a task per block of files): one file read and chunked as ``build.read_file`` does it,
    as its header row and then one row per chunk."""
    seq, source = int(item["seq"]), str(item["source"])
    entry, kept, chunks = read_file(source, Path(item["path"]), str(item["digest"]), ChunkConfig(size, overlap))
    meta = json.dumps({"entry": vars(entry), "kept": None if kept is None else asdict(kept)}, ensure_ascii=False)
    yield {"seq": seq, "row": HEADER, "source": source, "start": 0, "end": 0, "n_tokens": 0, "text": "", "meta": meta}
    for i, c in enumerate(chunks):
        yield {"seq": seq, "row": i, "source": source, "start": c.start, "end": c.end, "n_tokens": c.n_tokens,
               "text": c.text, "meta": ""}  # fmt: skip


class EmbedActor:
    """Ray Data stage 2 (an actor pool): the embedder loaded once per actor, one thread per CPU it holds."""

    def __init__(self, name: str, dim: int, backend: str = DEFAULT_EMBEDDING_BACKEND) -> None:
        self.encoder = load_embedder(name, backend, threads=EMBED_THREADS)
        if self.encoder.dim != dim:
            raise RuntimeError(f"{name} gives {self.encoder.dim} dimensions on this node, the driver expects {dim}")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = np.zeros((len(batch["seq"]), self.encoder.dim), dtype=np.float32)
        rows = np.flatnonzero(batch["row"] != HEADER)
        if len(rows):
            chunks = [_chunk(batch, i) for i in rows]
            vectors[rows] = self.encoder.encode([indexed_text(c) for c in chunks])
        return {**batch, "vector": vectors}


def _chunk(batch: dict[str, np.ndarray], i: int) -> Chunk:
    return Chunk(
        str(batch["source"][i]), int(batch["start"][i]), int(batch["end"][i]), str(batch["text"][i]),
        int(batch["n_tokens"][i]),
    )  # fmt: skip


def embed_like(embedder: Encoder, actors: int) -> EmbedFiles:
    """``embed_on_ray`` with ``embedder``'s model and variant (its name says which), so the actors' vectors
    are the ones the driver's index holds."""
    return embed_on_ray(embedder.name, embedder.dim, actors, backend_of(embedder.name) or DEFAULT_EMBEDDING_BACKEND)


def embed_on_ray(name: str, dim: int, actors: int, backend: str = DEFAULT_EMBEDDING_BACKEND) -> EmbedFiles:
    """Changed files read, chunked and embedded on the Ray cluster this process has joined (``connect``),
    with at most ``actors`` embedders; ``name`` and ``dim`` are the driver's model, which every actor checks."""

    def embed(files: Sequence[ToEmbed], config: ChunkConfig) -> Generator[Embedded, None, None]:
        if not files:
            return
        import ray.data

        items = [{"seq": i, "source": s, "path": str(p.absolute()), "digest": d} for i, (s, p, d) in enumerate(files)]
        dataset = (
            ray.data.from_items(items, override_num_blocks=min(len(items), MAX_READ_TASKS))
            .flat_map(file_rows, fn_kwargs={"size": config.size, "overlap": config.overlap}, num_cpus=READ_CPUS)
            .map_batches(
                EmbedActor,
                fn_constructor_kwargs={"name": name, "dim": dim, "backend": backend},
                batch_size=EMBED_BATCH,
                batch_format="numpy",
                num_cpus=EMBED_CPUS,
                compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors, initial_size=actors),
            )
        )
        yield from in_file_order(_rows(dataset.iter_batches(batch_size=None, batch_format="numpy")), files)

    return embed


def _rows(batches: Iterator[dict[str, np.ndarray]]) -> Iterator[Row]:
    for batch in batches:
        columns = [batch[f] for f in Row._fields]
        for values in zip(*columns):
            yield Row(*values)


class _Ahead:
    """An iterator that shows its next item."""

    def __init__(self, items: Iterator[Row]) -> None:
        self._items, self.next = items, next(items, None)

    def take(self) -> Row:
        if self.next is None:
            raise RuntimeError("the cluster returned fewer rows than the files need")
        row, self.next = self.next, next(self._items, None)
        return row


def in_file_order(rows: Iterator[Row], files: Sequence[ToEmbed]) -> Generator[Embedded, None, None]:
    """The pipeline's rows regrouped into one ``Embedded`` per file, checking that each row comes in its place
    (a row out of order would put a vector beside the wrong chunk: it stops the build instead)."""
    ahead = _Ahead(rows)
    for seq, (source, _, _) in enumerate(files):
        header = ahead.take()
        if (int(header.seq), int(header.row), str(header.source)) != (seq, HEADER, source):
            raise RuntimeError(f"rows arrived out of order: file {header.seq} row {header.row} where {source} was due")
        meta = json.loads(str(header.meta))
        kept = meta["kept"]
        extracted = None if kept is None else Extracted.from_row(kept)
        yield Embedded(source, FileState(**meta["entry"]), extracted, _batches_of(ahead, seq))
    if ahead.next is not None:
        raise RuntimeError("the cluster returned more rows than the files need")


def _batches_of(ahead: _Ahead, seq: int) -> Iterator[tuple[list[Chunk], np.ndarray]]:
    """File ``seq``'s chunk rows as (chunks, vectors), ``EMBED_BATCH`` at a time."""
    chunks: list[Chunk] = []
    vectors: list[np.ndarray] = []
    expected = 0
    while ahead.next is not None and int(ahead.next.seq) == seq:
        row = ahead.take()
        if int(row.row) != expected:
            raise RuntimeError(f"rows arrived out of order: chunk {row.row} of {row.source} where {expected} was due")
        expected += 1
        chunks.append(Chunk(str(row.source), int(row.start), int(row.end), str(row.text), int(row.n_tokens)))
        vectors.append(row.vector)
        if len(chunks) == EMBED_BATCH:
            yield chunks, np.stack(vectors).astype(np.float32, copy=False)
            chunks, vectors = [], []
    if chunks:
        yield chunks, np.stack(vectors).astype(np.float32, copy=False)
