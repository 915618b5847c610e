"""Bringing an index up to date with a docs folder, embedding only what changed.

A file whose size and modification time match the manifest is taken as unchanged without
reading it; otherwise its SHA-256 decides. Unchanged files keep their stored vectors, and
.html/.pdf/.docx files their kept extracted text, as long as the reader of their kind is the one that
read them (``formats.reader_version``, recorded per file); otherwise they are read again.

Reading, chunking and embedding the changed files is one step (``EmbedFiles``) that can be swapped:
``embed_here`` runs it in this process, ``rag.cluster.index`` on a Ray cluster. Either way this module
keeps the lock, the reuse of the old index, the manifest and the writing, in the same file order.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sys
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from rag.chunking.chunker import ChunkConfig, file_chunks
from rag.config import TOKENIZER, backend_of
from rag.documents.folder import check_docs_dir, doc_paths, file_sha256, scan, skip_warning
from rag.documents.formats import reader_version, suffix_of
from rag.documents.markdown import file_places
from rag.errors import IndexNotUpdated, IndexUnusable, RagError
from rag.index.embedding import Encoder, index_embedder, load_embedder
from rag.index.lexical import KIND as LEXICAL_KIND
from rag.index.progress import BuildProgress
from rag.index.store import (
    BUILD_NAME,
    INDEXED_TEXT,
    POINTER,
    BuildWriter,
    Index,
    build_lock,
    indexed_text,
    read_pointer,
)
from rag.types import Chunk, Extracted

EMBED_BATCH = 256  # chunks embedded and written at a time: the build's memory does not grow with a file


@dataclass
class FileState:
    """What the index knows of one file: enough to tell, cheaply, whether it changed, and whether the
    reader that read it is still the one in use (``reader``, ``formats.reader_version``). ``places``
    holds the heading places of a streamed .md file, whose text the index does not keep."""

    size: int
    mtime_ns: int
    sha256: str
    first: int = 0
    count: int = 0
    skipped: str = ""
    reader: str = ""  # "" in an index from before readers were versioned: read again once
    places: list = field(default_factory=list)

    def row(self) -> dict:
        """The manifest entry (no empty ``places``: most files have none)."""
        row = vars(self).copy()
        if not row["places"]:
            del row["places"]
        return row


@dataclass
class UpdateReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    reread: list[str] = field(default_factory=list)  # unchanged files read again: their kind's reader changed
    skipped: dict[str, str] = field(default_factory=dict)
    embedded_chunks: int = 0
    chunks: int = 0  # in the index now
    files: int = 0  # in its manifest (skipped ones included)
    rebuilt_because: str = ""
    lexical_rebuilt: bool = False  # BM25 re-indexed with this version's settings, vectors reused
    chunk_tokens: int = 0  # the chunking the index has now
    chunk_overlap: int = 0

    @property
    def touched(self) -> bool:
        changes = self.added or self.changed or self.removed or self.reread
        return bool(changes or self.rebuilt_because or self.lexical_rebuilt)

    def summary(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.changed)} changed",
            f"{len(self.removed)} removed",
            f"{len(self.unchanged)} unchanged",
        ]
        if self.reread:
            parts.append(f"{len(self.reread)} re-read (their reader changed)")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        lexical = "; BM25 rebuilt with new settings" if self.lexical_rebuilt else ""
        return ", ".join(parts) + f"; embedded {self.embedded_chunks} chunks" + lexical


@dataclass
class Embedded:
    """A changed file, read, chunked and embedded: its manifest entry (``skipped`` says why it could not be
    read), its kept text (.html/.pdf/.docx) and its rows as (chunks, vectors) batches, drawn in order."""

    source: str
    entry: FileState
    kept: Extracted | None = None
    rows: Iterable[tuple[list[Chunk], np.ndarray]] = ()


ToEmbed = tuple[str, Path, str]  # (source, path, its SHA-256 when already computed, else "")
EmbedFiles = Callable[[Sequence[ToEmbed], ChunkConfig], Generator[Embedded, None, None]]
"""Reads, chunks and embeds the given files: one ``Embedded`` per file, in the order given, each one's
rows drawn before the next is asked for."""


def read_file(
    source: str, path: Path, digest: str, config: ChunkConfig
) -> tuple[FileState, Extracted | None, Iterator[Chunk]]:
    """A changed file's manifest entry (``skipped`` set when it cannot be read), kept text and chunks (lazy).
    The one reader of changed files, wherever they are embedded."""
    stat = path.stat()
    entry = FileState(stat.st_size, stat.st_mtime_ns, digest or file_sha256(path), reader=reader_version(source))
    try:
        kept, chunks = file_chunks(source, path, config)  # checks the whole file before the first chunk
    except ValueError as exc:
        entry.skipped = str(exc)
        return entry, None, iter(())
    if kept is None and suffix_of(source) == ".md":  # streamed: its headings are found in a pass of their own
        entry.places = [list(place) for place in file_places(str(path))]
    return entry, kept, chunks


def embed_here(embedder: Encoder) -> EmbedFiles:
    """Embedding in this process: a file at a time, ``EMBED_BATCH`` chunks at a time."""

    def embed(files: Sequence[ToEmbed], config: ChunkConfig) -> Generator[Embedded, None, None]:
        for source, path, digest in files:
            entry, kept, chunks = read_file(source, path, digest, config)
            rows = ((b, embedder.encode([indexed_text(c) for c in b])) for b in batches(chunks, EMBED_BATCH))
            yield Embedded(source, entry, kept, rows)

    return embed


def embedder_for(index_dir: Path, backend: str | None, threads: int = 0, manifest: dict | None = None) -> Encoder:
    """The embedder to index and query ``index_dir`` with: ``backend`` when one is named (an index that
    another variant built is then rebuilt, and the update says why); else the one the index (its
    ``manifest``, or the one on disk) was built with, so its questions are encoded by the variant that
    made its vectors; else the default. ``rag index``, the Pipeline and the Ray paths all ask here."""
    if backend is None:
        manifest = manifest if manifest is not None else recorded_manifest(index_dir)
        if manifest is not None and backend_of(str(manifest.get("model", ""))) is not None:
            return index_embedder(manifest, threads=threads)
    return load_embedder(backend=backend, threads=threads)


def recorded_manifest(index_dir: Path) -> dict | None:
    """The live build's manifest as recorded, unverified (None: no readable one): enough to know which
    embedder built it before loading it (``Index.load`` checks everything when the index is opened)."""
    try:
        name, _ = read_pointer(index_dir / POINTER)
        if not BUILD_NAME.fullmatch(name):
            return None
        manifest = json.loads((index_dir / name / "manifest.json").read_bytes())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def lexical_stale(manifest: dict) -> bool:
    """Whether an index's BM25 was built with other settings than this version's (cheap to redo: no embedding)."""
    return manifest.get("lexical") != LEXICAL_KIND


def expected_settings(embedder: Encoder, config: ChunkConfig) -> dict:
    """The manifest fields that must match for an index to be reused."""
    return {
        "model": embedder.name,
        "dim": embedder.dim,
        "tokenizer": TOKENIZER,
        "chunk_tokens": config.size,
        "chunk_overlap": config.overlap,
        "indexed_text": INDEXED_TEXT,
    }


def chunking_of(index: Index | None, wanted: ChunkConfig | None = None) -> ChunkConfig:
    """The chunking to index with: the one asked for, else the existing index's own (an index keeps
    its settings until a rebuild is asked for), else the default."""
    if wanted is not None:
        return wanted
    if index is not None:
        try:
            return ChunkConfig(int(index.manifest["chunk_tokens"]), int(index.manifest["chunk_overlap"]))
        except (KeyError, TypeError, ValueError):
            pass
    return ChunkConfig()


def mismatch(manifest: dict, settings: dict) -> str:
    """A sentence saying why an index built with other settings cannot be reused, or ''."""
    for key, want in settings.items():
        have = manifest.get(key)
        if have != want:
            return f"index was built with {key}={have!r}, this run uses {want!r}"
    return ""


def _old_states(old: Index | None) -> dict[str, FileState]:
    if old is None:
        return {}
    return {src: FileState(**st) for src, st in old.manifest.get("files", {}).items()}


def _same_reader(source: str, state: FileState | None) -> bool:
    """Whether ``source`` was read by the reader its kind has now (else it is read again, even unchanged:
    a reader upgrade, or OCR installed since, reaches every index, and a skipped file is retried)."""
    return state is not None and state.reader == reader_version(source)


def _is_unchanged(path: Path, state: FileState | None) -> tuple[bool, str]:
    """(its bytes unchanged?, the file's SHA-256 if it had to be computed, else "")."""
    if state is None:
        return False, ""
    stat = path.stat()
    if stat.st_size == state.size and stat.st_mtime_ns == state.mtime_ns:
        return True, ""
    digest = file_sha256(path)
    return digest == state.sha256, digest


def plan(docs_dir: Path, old: Index | None) -> UpdateReport:
    """What an update would do, without embedding anything (used to tell whether it is stale)."""
    report = UpdateReport()
    states = _old_states(old)
    seen = set()
    for source, path in doc_paths(docs_dir):
        seen.add(source)
        unchanged, _ = _is_unchanged(path, states.get(source))
        if unchanged and _same_reader(source, states.get(source)):
            report.unchanged.append(source)
        elif unchanged:
            report.reread.append(source)
        else:
            (report.changed if source in states else report.added).append(source)
    report.removed = sorted(set(states) - seen)
    return report


def fresh_index(
    docs_dir: Path,
    index_dir: Path,
    embedder: Encoder,
    config: ChunkConfig | None = None,
    current: Index | None = None,
    log: TextIO | None = None,
    embed_files: EmbedFiles | None = None,
    strict: bool = False,
) -> tuple[Index, UpdateReport | None]:
    """An index in step with ``docs_dir``: ``current`` (or the one on disk) when nothing changed,
    else an updated one; the report says what changed (None: nothing did, or the update failed).

    The one place that opens an index, decides whether it is stale and updates it. ``config`` None
    keeps the index's own chunking. When the update cannot be written (a read-only folder, a full
    disk) the previous index still answers, with a warning (questions go on); with no previous index
    it is an error. ``strict`` makes that failure IndexNotUpdated instead: a caller that changed the
    docs folder must know its change is not searched, to undo it rather than report it done.
    ``embed_files`` None embeds here with ``embedder`` (see ``EmbedFiles``).
    """
    log = log or sys.stderr
    if index_dir.exists() and not index_dir.is_dir():
        raise RagError(f"the index path is a file, not a folder: {index_dir}")
    if current is None:
        try:
            current = Index.load(index_dir)
        except IndexUnusable as exc:
            if not (index_dir / POINTER).exists():
                print(f"{exc}; building it", file=log)  # otherwise update_index says why it rebuilds
    if current is not None:
        settings = expected_settings(embedder, chunking_of(current, config))
        same_settings = not mismatch(current.manifest, settings) and not lexical_stale(current.manifest)
        if same_settings and not plan(docs_dir, current).touched:
            return current, None
        print("index is out of date; updating it", file=log)
    try:
        index, report = update_index(docs_dir, index_dir, embedder, config, current, log, embed_files=embed_files)
    except OSError as exc:
        why = exc.strerror or str(exc)
        if current is None:
            raise RagError(f"cannot build the index in {index_dir}: {why}") from None
        if strict:
            raise IndexNotUpdated(f"cannot update the index in {index_dir}: {why}") from None
        print(f"warning: cannot update the index in {index_dir} ({why}); answering from the previous one", file=log)
        return current, None
    print(f"indexed {docs_dir}: {report.summary()}", file=log)
    return index, report


def update_index(
    docs_dir: Path,
    index_dir: Path,
    embedder: Encoder,
    config: ChunkConfig | None = None,
    old: Index | None = None,
    log: TextIO | None = None,
    load: bool = True,
    embed_files: EmbedFiles | None = None,
) -> tuple[Index | None, UpdateReport]:
    """Index ``docs_dir`` into ``index_dir``, reusing ``old`` (or what is on disk) where valid.

    ``config`` None keeps the existing index's chunking (``chunking_of``). One builder at a time per
    index folder (``store.build_lock``); a second one waits, then starts from what the first built.
    The index is written as it is built (``store.BuildWriter``); ``load`` False returns None instead
    of loading a new build back (the command line only reports on it). Changed files are embedded by
    ``embed_files`` (default: here, with ``embedder``; ``embedder`` names the model and its dimension either way)."""
    log = log or sys.stderr
    check_docs_dir(docs_dir)
    with build_lock(index_dir, log) as waited:
        unusable = ""
        if old is None or waited:  # none given, or another builder may have switched in a newer one
            try:
                old = Index.load(index_dir)
            except IndexUnusable as exc:
                if old is None and (index_dir / "CURRENT").exists():
                    unusable = str(exc)
        embed = embed_files or embed_here(embedder)
        config = chunking_of(old, config)
        report, written = _update_index(docs_dir, index_dir, embedder, embed, config, old, log, unusable)
    if not written:
        return old, report
    return (Index.load(index_dir) if load else None), report


def _update_index(
    docs_dir: Path,
    index_dir: Path,
    embedder: Encoder,
    embed_files: EmbedFiles,
    config: ChunkConfig,
    old: Index | None,
    log: TextIO,
    unusable: str,
) -> tuple[UpdateReport, bool]:
    """``update_index`` under the build lock: (what changed, whether a new build was written).
    ``unusable`` says why the index on disk could not be read."""
    settings = expected_settings(embedder, config)
    report = UpdateReport(rebuilt_because=unusable, chunk_tokens=config.size, chunk_overlap=config.overlap)
    if old is not None and (why := mismatch(old.manifest, settings)):
        report.rebuilt_because, old = why, None
    report.lexical_rebuilt = old is not None and lexical_stale(old.manifest)
    if report.rebuilt_because:
        print(f"rebuilding index: {report.rebuilt_because}", file=log)
    states = _old_states(old)
    found, refused = scan(docs_dir)
    for skip in refused:
        report.skipped[skip.source] = skip.reason
        print(skip_warning(skip.source, skip.reason), file=log)
    if old is not None and not report.lexical_rebuilt and _nothing_to_write(found, states):
        report.unchanged = [source for source, _ in found]
        report.chunks, report.files = len(old.chunks), len(old.manifest.get("files", {}))
        return report, False
    files: dict[str, dict] = {}
    decided = [(source, path, *_is_unchanged(path, states.get(source))) for source, path in found]
    reuse = {source for source, _, same, _ in decided if same and _same_reader(source, states[source])}
    to_embed = [(source, path, digest) for source, path, _, digest in decided if source not in reuse]
    sizes = {source: _size(path) for source, path, _ in to_embed}
    embedded = embed_files(to_embed, config)
    progress = BuildProgress(sum(sizes.values()), log)
    with BuildWriter(index_dir, embedder.dim) as writer, contextlib.closing(embedded), contextlib.closing(progress):
        for source, path, same, _ in decided:
            if source in reuse and old is not None:
                files[source] = _reuse_file(source, path, states[source], old, writer, report)
            else:
                (report.reread if same else report.changed if source in states else report.added).append(source)
                item = next(embedded, None)
                files[source] = _write_embedded(source, item, writer, report, log, progress, sizes[source])
        report.removed = sorted(set(states) - set(files))
        report.chunks, report.files = writer.size, len(files)
        writer.finish({**settings, "files": files})
    return report, True


def _nothing_to_write(found: list[tuple[str, Path]], states: dict[str, FileState]) -> bool:
    """True when the files are those the index has, each with the size and time it saw: no new build is
    needed. (A file touched but not changed is written again, so that its new time is recorded.)"""
    if {source for source, _ in found} != set(states):
        return False
    for source, path in found:
        stat, state = path.stat(), states[source]
        if (stat.st_size, stat.st_mtime_ns) != (state.size, state.mtime_ns) or not _same_reader(source, state):
            return False
    return True


def batches(items: Iterable[Chunk], size: int) -> Iterator[list[Chunk]]:
    """``items`` in lists of ``size`` (the last one shorter), drawn lazily."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _reuse_file(
    source: str, path: Path, state: FileState, old: Index, writer: BuildWriter, report: UpdateReport
) -> dict:
    """Add an unchanged file's stored chunks and vectors (and kept text) to the build; its manifest entry."""
    report.unchanged.append(source)
    first = writer.size
    for lo in range(0, state.count, EMBED_BATCH):
        n = min(EMBED_BATCH, state.count - lo)
        writer.add(old.chunks[state.first + lo : state.first + lo + n], old.vectors_of(state.first + lo, n))
    if source in old.texts:
        writer.add_text(source, old.texts[source])
    return {**state.row(), "first": first, "mtime_ns": path.stat().st_mtime_ns}


def _write_embedded(
    source: str,
    item: Embedded | None,
    writer: BuildWriter,
    report: UpdateReport,
    log: TextIO,
    progress: BuildProgress,
    size: int,
) -> dict:
    """Add a changed file's embedded rows (and kept text) to the build; its manifest entry. ``size``: the
    file's bytes, which ``progress`` counts in (a chunk's end over the text's length says how far in)."""
    if item is None or item.source != source:
        got = "nothing" if item is None else item.source
        raise RuntimeError(f"embedded files arrived out of order: {got} where {source} was due")
    entry = item.entry
    if entry.skipped:
        report.skipped[source] = entry.skipped
        print(skip_warning(source, entry.skipped), file=log)
        progress.file_done(size)
        return entry.row()
    if item.kept is not None:
        writer.add_text(source, item.kept)
    entry.first = writer.size
    length = len(item.kept.text) if item.kept is not None else size  # a streamed text: its bytes, near enough
    for chunks, vectors in item.rows:
        writer.add(chunks, vectors)
        report.embedded_chunks += len(chunks)
        progress.advance(len(chunks), chunks[-1].end / max(length, 1) if chunks else 0.0, size)
    progress.file_done(size)
    entry.count = writer.size - entry.first
    return entry.row()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # gone meanwhile: reading it says so
        return 0
