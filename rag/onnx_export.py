"""Exporting a torch model to ONNX once, into a cache shared by the embedder and the reader.

Both run with ONNX Runtime at question time; the export (which needs torch) happens on first use and
is cached under ``rag.config.cache_dir()`` (``$RAG_CACHE``, else ``~/.cache/rag-extractive``), by a hash of
the weights.

Hashing the weights (135 MB for both models) took a fifth of a cold start, so a file's hash is kept
beside the exports, keyed by its path, size, modification time and inode; weights that change get a
new key and are hashed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
import warnings
from pathlib import Path

from rag.config import cache_dir

DIGESTS = "weights-digests.json"


def file_digest(weights: Path) -> str:
    """The first 16 hex digits of ``weights``' SHA-256: what its cached export is named by."""
    stat = weights.stat()
    key = f"{weights.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ino}"
    known_file = cache_dir() / DIGESTS
    try:
        known = json.loads(known_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    if isinstance(known.get(key), str):
        return known[key]
    digest = hashlib.sha256()
    with open(weights, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    known[key] = digest.hexdigest()[:16]
    _write_json(known_file, known)
    return known[key]


def _write_json(path: Path, value: dict) -> None:
    """Atomically, and never an error: a cache that cannot be written only costs the hash next time."""
    tmp = path.parent / f".{uuid.uuid4().hex}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(value), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_onnx(model, example: tuple, path: Path, inputs: tuple, outputs: tuple, axes: dict) -> None:
    """Trace ``model`` on ``example`` into ``path`` atomically (a crash leaves no half-written file)."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{uuid.uuid4().hex}.onnx"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python code in transformers
            torch.onnx.export(
                model, example, str(tmp), input_names=list(inputs), output_names=list(outputs),
                dynamic_axes=axes, opset_version=17, dynamo=False,
            )  # fmt: skip
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
