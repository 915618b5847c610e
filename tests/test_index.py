"""The index: incremental updates, atomic replacement, and recovery from bad indexes."""

import io
import json
import os
from pathlib import Path

import pytest

from rag.errors import IndexUnusable
from rag.index import main as index_main
from rag.indexer import update_index
from rag.store import Index, indexed_text

from .conftest import SEED_FILE


class CountingEmbedder:
    """The real embedder, counting how many texts it is asked to embed."""

    def __init__(self, inner):
        self.inner, self.name, self.dim, self.calls = inner, inner.name, inner.dim, []

    def encode(self, texts, **kw):
        self.calls.append(len(texts))
        return self.inner.encode(texts, **kw)


def live_build(index_dir: Path) -> Path:
    return index_dir / (index_dir / "CURRENT").read_text().strip()


def test_second_run_embeds_nothing_and_one_changed_file_only_its_chunks(docs, tmp_path, embedder):
    (docs / "other.md").write_text("# Bananas\nBananas are yellow fruit grown in Ecuador.\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    counting = CountingEmbedder(embedder)
    first, report = update_index(docs, index_dir, counting)
    assert sorted(report.added) == ["openai-google-cloud-partnership.txt", "other.md"]
    seed_chunks = [c for c in first.chunks if c.source == SEED_FILE]

    again, report = update_index(docs, index_dir, counting)
    assert report.embedded_chunks == 0 and not report.touched
    assert counting.calls[-1] == 0

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


def test_binary_and_non_utf8_files_are_skipped_with_a_warning(docs, tmp_path, embedder, capsys):
    (docs / "bad.txt").write_bytes(b"\xff\xfe\x00\x00garbage")
    (docs / "latin.md").write_bytes("Beyoncé".encode("latin-1"))
    index, report = update_index(docs, tmp_path / "index", embedder)
    assert set(report.skipped) == {"bad.txt", "latin.md"}
    assert {c.source for c in index.chunks} == {SEED_FILE}
    err = capsys.readouterr().err
    assert "bad.txt" in err and "latin.md" in err


def test_interrupted_build_leaves_previous_index_usable(docs, tmp_path, embedder, monkeypatch):
    index_dir = tmp_path / "index"
    before, _ = update_index(docs, index_dir, embedder)
    (docs / "new.txt").write_text("Kiwis are brown.", encoding="utf-8")

    def crash(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("rag.store.faiss.write_index", crash)
    with pytest.raises(KeyboardInterrupt):
        update_index(docs, index_dir, embedder)
    monkeypatch.undo()
    after = Index.load(index_dir)
    assert after.chunks == before.chunks
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize("damage", ["manifest", "chunks", "vectors", "bm25", "pointer", "count", "format"])
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
        manifest = json.loads((build / "manifest.json").read_text())
        (build / "manifest.json").write_text(json.dumps({**manifest, "format": 1}))
    elif damage == "pointer":
        (index_dir / "CURRENT").write_text("build-missing\n")
    else:
        with open(build / "chunks.jsonl", "a") as f:
            f.write('{"source": "x", "start": 0, "end": 1, "text": "x", "n_tokens": 1}\n')
    with pytest.raises(IndexUnusable):
        Index.load(index_dir)
    rebuilt, report = update_index(docs, index_dir, embedder)
    assert report.rebuilt_because and "rebuilding index" in capsys.readouterr().err
    assert rebuilt.chunks == good.chunks


def test_index_built_with_another_model_is_rebuilt(docs, tmp_path, embedder, capsys):
    index_dir = tmp_path / "index"
    update_index(docs, index_dir, embedder)
    manifest = live_build(index_dir) / "manifest.json"
    manifest.write_text(manifest.read_text().replace(embedder.name, "some/other-model"))
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
    monkeypatch.setattr("rag.ann.EXACT_MAX_VECTORS", 3)  # the seed document alone has more chunks
    index_dir = tmp_path / "index"
    built, _ = update_index(docs, index_dir, embedder)
    assert built.manifest["index_type"] == "hnsw-ip" and built.manifest["index_params"]["efSearch"] > 0
    loaded = Index.load(index_dir)
    assert loaded.vectors.hnsw.efSearch == built.manifest["index_params"]["efSearch"]  # re-applied after loading
    query = embedder.encode(["who supplies GPUs in the deal?"])[0]
    assert loaded.search(query, 3) == built.search(query, 3)
    (docs / "new.txt").write_text("Kiwis are brown and fuzzy.", encoding="utf-8")
    updated, report = update_index(docs, index_dir, embedder)  # stored vectors are reused from HNSW too
    assert report.embedded_chunks == 1 and len(updated.chunks) == len(built.chunks) + 1


def test_index_built_from_other_texts_is_rebuilt_with_a_reason(docs, tmp_path, embedder):
    """An index whose vectors embed other text (an older version: the chunk without its title) is not reused."""
    import json

    index_dir = tmp_path / "index"
    update_index(docs, index_dir, embedder)
    manifest_path = live_build(index_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    del manifest["indexed_text"]
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    _, report = update_index(docs, index_dir, embedder)
    assert "indexed_text=None" in report.rebuilt_because and report.embedded_chunks > 0


def test_stale_bm25_settings_rebuild_bm25_only(docs, tmp_path, embedder):
    """A BM25 built with an older version's k1/b is rebuilt from the chunks; no chunk is embedded again."""
    import json

    from rag.lexical import KIND
    from rag.pipeline import Pipeline

    index_dir = tmp_path / "index"
    update_index(docs, index_dir, embedder)
    manifest_path = live_build(index_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest_path.write_text(json.dumps({**manifest, "lexical": "bm25s-lucene-k1.5-b0.75"}), encoding="utf-8")
    pipe = Pipeline(docs, index_dir, embedder=embedder, log=io.StringIO())
    report = pipe.refresh()
    assert report is not None and report.lexical_rebuilt and report.embedded_chunks == 0
    assert "BM25 rebuilt" in report.summary()
    assert Index.load(index_dir).manifest["lexical"] == KIND
    assert pipe.refresh() is None  # up to date now
