"""The weights' hash that names a cached ONNX export is kept between runs (#23: it was a fifth of a cold
start), and weights that change are hashed again."""

from __future__ import annotations

import hashlib
import json
import os

from rag.onnx_export import DIGESTS, file_digest


def test_a_digest_is_kept_and_a_changed_file_is_hashed_again(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_CACHE", str(tmp_path / "cache"))
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"first weights")
    assert file_digest(weights) == hashlib.sha256(b"first weights").hexdigest()[:16]
    kept = json.loads((tmp_path / "cache" / DIGESTS).read_text())
    assert list(kept.values()) == [hashlib.sha256(b"first weights").hexdigest()[:16]]
    key = next(iter(kept))
    (tmp_path / "cache" / DIGESTS).write_text(json.dumps({key: "remembered"}))
    assert file_digest(weights) == "remembered"  # not hashed again while the file is as it was
    weights.write_bytes(b"other weights, longer")
    os.utime(weights, ns=(1, 2))
    assert file_digest(weights) == hashlib.sha256(b"other weights, longer").hexdigest()[:16]


def test_an_unwritable_cache_only_costs_the_hash(tmp_path, monkeypatch):
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    monkeypatch.setenv("RAG_CACHE", str(tmp_path / "cache"))
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w")
    assert file_digest(weights) == hashlib.sha256(b"w").hexdigest()[:16]
