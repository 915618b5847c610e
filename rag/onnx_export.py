"""Exporting a torch model to ONNX once, into a cache shared by the embedder and the reader.

Both run with ONNX Runtime at question time; the export (which needs torch) happens on first use and
is cached under ``rag.config.cache_dir()`` (``$RAG_CACHE``, else ``~/.cache/rag-extractive``), by a hash of
the weights.
"""

from __future__ import annotations

import os
import uuid
import warnings
from pathlib import Path


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
