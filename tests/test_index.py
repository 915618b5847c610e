"""The index: incremental updates, atomic replacement, and recovery from bad indexes."""

import io
import json
import os
from pathlib import Path

import pytest

from rag.commands.index import main as index_main
from rag.errors import IndexUnusable
from rag.index.build import update_index
from rag.index.store import FORMAT, Index, indexed_text
from rag.settings import Settings

from .conftest import SEED_FILE


class CountingEmbedder:
    """The real embedder, counting how many texts it is asked to embed."""

    def __init__(self, inner):
        self.inner, self.name, self.dim, self.calls = inner, inner.name, inner.dim, []

    def encode(self, texts, **kw):
        self.calls.append(len(texts))
        return self.inner.encode(texts, **kw)


def live_build(index_dir: Path) -> Path:
    return index_dir / (index_dir / "CURRENT").read_text().split()[0]


def restamp(index_dir: Path, edit) -> None:
    """Edit the live manifest as another version of the tool would have written it: consistently,
    with CURRENT's checksum of it updated (so only the edited settings differ, not integrity)."""
    import hashlib

    path = live_build(index_dir) / "manifest.json"
    text = json.dumps(edit(json.loads(path.read_text(encoding="utf-8"))), indent=1)
    path.write_text(text, encoding="utf-8")
    name = live_build(index_dir).name
    (index_dir / "CURRENT").write_text(f"{name} {hashlib.sha256(text.encode()).hexdigest()}\n")


def garble(path: Path, at: float = 0.5, n: int = 16) -> None:
    """Overwrite ``n`` bytes in the middle of a file, as a bad disk or a stray write would."""
    data = bytearray(path.read_bytes())
    i = int(len(data) * at)
    data[i : i + n] = bytes((b + 1) % 256 for b in data[i : i + n])
    path.write_bytes(bytes(data))


def test_second_run_embeds_nothing_and_one_changed_file_only_its_chunks(docs, tmp_path, embedder):
    (docs / "other.md").write_text("# Bananas\nBananas are yellow fruit grown in Ecuador.\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    counting = CountingEmbedder(embedder)
    first, report = update_index(docs, index_dir, counting)
    assert sorted(report.added) == ["openai-google-cloud-partnership.txt", "other.md"]
    seed_chunks = [c for c in first.chunks if c.source == SEED_FILE]

    calls, build = len(counting.calls), live_build(index_dir)
    again, report = update_index(docs, index_dir, counting)
    assert report.embedded_chunks == 0 and not report.touched
    assert sum(counting.calls[calls:]) == 0 and live_build(index_dir) == build  # nothing embedded or written

    (docs / "other.md").write_text("# Bananas\nBananas are yellow. Ecuador exports the most.\n", encoding="utf-8")
    updated, report = update_index(docs, index_dir, counting)
    assert report.changed == ["other.md"] and report.unchanged == [SEED_FILE]
    assert report.embedded_chunks == len([c for c in updated.chunks if c.source == "other.md"])
    assert [c for c in updated.chunks if c.source == SEED_FILE] == seed_chunks
    # reused vectors are the same as freshly computed ones (of the title and the text)
    fresh = embedder.encode([indexed_text(seed_chunks[0])])[0]
    assert abs(float(updated.vectors_of(0, 1)[0] @ fresh) - 1.0) < 1e-4

    (docs / "other.md").unlink()
    pruned, report = update_index(docs, index_dir, counting)
    assert report.removed == ["other.md"] and report.embedded_chunks == 0
    assert {c.source for c in pruned.chunks} == {SEED_FILE}
    assert len(Index.load(index_dir).chunks) == len(seed_chunks)


def test_touched_but_unchanged_file_is_not_reembedded(docs, tmp_path, embedder):
    index_dir = tmp_path / "index"
    update_index(docs, index_dir, embedder)
    path = docs / SEED_FILE
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    counting = CountingEmbedder(embedder)
    _, report = update_index(docs, index_dir, counting)
    assert report.embedded_chunks == 0 and report.unchanged == [SEED_FILE]


def test_binary_and_undecodable_files_are_skipped_with_a_warning(docs, tmp_path, embedder, capsys):
    (docs / "bad.txt").write_bytes(b"\xff\xfe\x00\x00garbage")
    (docs / "garbled.md").write_bytes(bytes(range(0x80, 0x100)) * 3)  # no text encoding fits
    index, report = update_index(docs, tmp_path / "index", embedder)
    assert set(report.skipped) == {"bad.txt", "garbled.md"}
    assert {c.source for c in index.chunks} == {SEED_FILE}
    err = capsys.readouterr().err
    assert "bad.txt" in err and "garbled.md" in err


def test_interrupted_build_leaves_previous_index_usable(docs, tmp_path, embedder, monkeypatch):
    index_dir = tmp_path / "index"
    before, _ = update_index(docs, index_dir, embedder)
    (docs / "new.txt").write_text("Kiwis are brown.", encoding="utf-8")

    def crash(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("rag.index.store.faiss.write_index", crash)
    with pytest.raises(KeyboardInterrupt):
        update_index(docs, index_dir, embedder)
    monkeypatch.undo()
    after = Index.load(index_dir)
    assert after.chunks == before.chunks
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".tmp-")]


DAMAGES = [
    "manifest", "chunks", "vectors", "bm25", "pointer", "count", "format", "pointer-garbled",
    "bm25-empty", "bm25-garbled", "vectors-garbled", "chunk-edited", "manifest-field", "texts-field",
]  # fmt: skip


@pytest.mark.parametrize("damage", DAMAGES)
def test_corrupt_index_is_detected_and_rebuilt(docs, tmp_path, embedder, damage, capsys):
    index_dir = tmp_path / "index"
    good, _ = update_index(docs, index_dir, embedder)
    build = live_build(index_dir)
    if damage == "manifest":
        (build / "manifest.json").write_text("{not json")
    elif damage == "chunks":
        (build / "chunks.jsonl").write_text('{"source": 1}\n')
    elif damage == "vectors":
        (build / "vectors.faiss").write_bytes(b"garbage")
    elif damage == "bm25":
        (build / "bm25" / "size").unlink()
    elif damage == "format":
        restamp(index_dir, lambda m: {**m, "format": 1})
    elif damage == "pointer":
        (index_dir / "CURRENT").write_text("build-missing\n")
    elif damage == "pointer-garbled":
        (index_dir / "CURRENT").write_bytes(b"\xff\xfe../../etc\x00\n")
    elif damage == "bm25-empty":
        next((build / "bm25").glob("*.npy")).write_bytes(b"")
    elif damage == "bm25-garbled":
        garble(max((build / "bm25").glob("*.npy"), key=lambda p: p.stat().st_size))
    elif damage == "vectors-garbled":
        garble(build / "vectors.faiss")
    elif damage == "chunk-edited":  # same length, so only the checksum can tell
        text = (build / "chunks.jsonl").read_text(encoding="utf-8")
        (build / "chunks.jsonl").write_text(text.replace("CoreWeave", "SteelWave", 1), encoding="utf-8")
    elif damage == "manifest-field":
        manifest = json.loads((build / "manifest.json").read_text())
        (build / "manifest.json").write_text(json.dumps({**manifest, "n_chunks": "many", "files": 3}))
    elif damage == "texts-field":
        (build / "texts.jsonl").write_text('{"source": "x.pdf", "text": 5, "pages": "no"}\n')
    else:
        with open(build / "chunks.jsonl", "a") as f:
            f.write('{"source": "x", "start": 0, "end": 1, "text": "x", "n_tokens": 1}\n')
    with pytest.raises(IndexUnusable):
        Index.load(index_dir)
    rebuilt, report = update_index(docs, index_dir, embedder)
    assert report.rebuilt_because and "rebuilding index" in capsys.readouterr().err
    assert rebuilt.chunks == good.chunks


def test_an_index_of_an_older_format_is_rebuilt_once_saying_why(docs, tmp_path, embedder, capsys):
    """A format-2 index (before checksums: none in its manifest, CURRENT naming the build alone) is not read
    at all: it is rebuilt, once, and the reason is printed."""
    index_dir = tmp_path / "index"
    good, _ = update_index(docs, index_dir, embedder)
    build = live_build(index_dir)
    manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    del manifest["checksums"]
    (build / "manifest.json").write_text(json.dumps({**manifest, "format": 2}), encoding="utf-8")
    (index_dir / "CURRENT").write_text(f"{build.name}\n")
    capsys.readouterr()
    rebuilt, report = update_index(docs, index_dir, embedder)
    assert report.rebuilt_because == f"index in {index_dir} has format 2, this version reads {FORMAT}"
    assert f"rebuilding index: {report.rebuilt_because}" in capsys.readouterr().err
    assert rebuilt.chunks == good.chunks and rebuilt.manifest["format"] == FORMAT
    _, again = update_index(docs, index_dir, embedder)
    assert not again.rebuilt_because and again.embedded_chunks == 0 and "rebuilding" not in capsys.readouterr().err


def test_index_built_with_another_model_is_rebuilt(docs, tmp_path, embedder, capsys):
    index_dir = tmp_path / "index"
    update_index(docs, index_dir, embedder)
    restamp(index_dir, lambda m: {**m, "model": "some/other-model"})
    _, report = update_index(docs, index_dir, embedder)
    assert "model" in report.rebuilt_because
    assert report.embedded_chunks > 0


def test_index_cli(docs, tmp_path, capsys, embedder):
    assert index_main(["--docs", str(docs), "--index", str(tmp_path / "ix")]) == 0
    assert "1 added" in capsys.readouterr().out
    assert index_main(["--docs", str(docs), "--index", str(tmp_path / "ix")]) == 0
    assert "embedded 0 chunks" in capsys.readouterr().out
    assert index_main(["--docs", str(docs), "--index", str(tmp_path / "ix"), "--chunk-overlap", "500"]) == 2


def test_large_corpus_gets_an_approximate_index_recorded_in_the_manifest(docs, tmp_path, embedder, monkeypatch):
    monkeypatch.setattr("rag.index.ann.EXACT_MAX_VECTORS", 3)  # the seed document alone has more chunks
    index_dir = tmp_path / "index"
    built, _ = update_index(docs, index_dir, embedder)
    assert built.manifest["index_type"] == "hnsw-fp16-ip" and built.manifest["index_params"]["efSearch"] > 0
    loaded = Index.load(index_dir)
    assert loaded.vectors.hnsw.efSearch == built.manifest["index_params"]["efSearch"]  # re-applied after loading
    query = embedder.encode(["who supplies GPUs in the deal?"])[0]
    assert loaded.search(query, 3) == built.search(query, 3)
    (docs / "new.txt").write_text("Kiwis are brown and fuzzy.", encoding="utf-8")
    updated, report = update_index(docs, index_dir, embedder)  # stored vectors are reused from HNSW too
    assert report.embedded_chunks == 1 and len(updated.chunks) == len(built.chunks) + 1


def test_index_built_from_other_texts_is_rebuilt_with_a_reason(docs, tmp_path, embedder):
    """An index whose vectors embed other text (an older version: the chunk without its title) is not reused."""

    index_dir = tmp_path / "index"
    update_index(docs, index_dir, embedder)
    restamp(index_dir, lambda m: {k: v for k, v in m.items() if k != "indexed_text"})
    _, report = update_index(docs, index_dir, embedder)
    assert "indexed_text=None" in report.rebuilt_because and report.embedded_chunks > 0


def test_stale_bm25_settings_rebuild_bm25_only(docs, tmp_path, embedder):
    """A BM25 built with an older version's k1/b is rebuilt from the chunks; no chunk is embedded again."""

    from rag.index.lexical import KIND
    from rag.pipeline import Pipeline

    index_dir = tmp_path / "index"
    update_index(docs, index_dir, embedder)
    restamp(index_dir, lambda m: {**m, "lexical": "bm25s-lucene-k1.5-b0.75"})
    pipe = Pipeline(Settings(docs=docs, index=index_dir), embedder=embedder, log=io.StringIO())
    report = pipe.refresh()
    assert report is not None and report.lexical_rebuilt and report.embedded_chunks == 0
    assert "BM25 rebuilt" in report.summary()
    assert Index.load(index_dir).manifest["lexical"] == KIND
    assert pipe.refresh() is None  # up to date now


def test_the_index_keeps_its_chunking_until_a_rebuild_is_asked_for(docs, tmp_path, embedder, capsys):
    from rag.pipeline import Pipeline

    index_dir = tmp_path / "index"
    assert index_main(["--docs", str(docs), "--index", str(index_dir), "--chunk-tokens", "64"]) == 0
    assert Index.load(index_dir).manifest["chunk_tokens"] == 64
    log = io.StringIO()
    pipe = Pipeline(Settings(docs=docs, index=index_dir, reader="baseline"), embedder=embedder, log=log)
    assert pipe.refresh() is None and "rebuilding" not in log.getvalue()  # rag.ask and the chat keep it
    assert pipe.chunking.size == 64 and pipe.ask("who supplies GPUs in the deal?").answer is not None
    assert index_main(["--docs", str(docs), "--index", str(index_dir)]) == 0  # plain rag.index keeps it too
    assert "embedded 0 chunks" in capsys.readouterr().out
    assert index_main(["--docs", str(docs), "--index", str(index_dir), "--chunk-tokens", "128"]) == 0
    assert Index.load(index_dir).manifest["chunk_tokens"] == 128
