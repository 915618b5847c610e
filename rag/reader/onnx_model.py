"""The span model run by ONNX Runtime instead of torch: same inputs, same log-probabilities.

``OrtSpanModel`` is a drop-in for ``SpanModel`` at inference (``NeuralReader`` calls it with the
tensors of ``windows.collate`` and gets back start and end log-probabilities). The graph is
exported once from the shipped weights and cached under a hash of ``weights.safetensors``, so a
new model never runs a stale export. bench/ask_bench.py measures it against torch fp32, bf16 and
dynamic int8.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from rag.fast_embedding import default_cache_dir, write_onnx
from rag.reader.model import WEIGHTS

INPUTS = ("input_ids", "token_type_ids", "attention_mask", "context_mask")


def export_onnx(model: torch.nn.Module, model_dir: Path, cache_dir: Path | None = None) -> Path:
    """The ONNX file of ``model`` (loaded from ``model_dir``), exported on first use."""
    weights = model_dir / WEIGHTS if (model_dir / WEIGHTS).is_file() else model_dir / "model.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    cache_dir = cache_dir or default_cache_dir()
    path = cache_dir / f"reader-{digest}.onnx"
    if path.is_file():
        return path
    length = 12
    example = (
        torch.randint(1000, 2000, (2, length)),
        torch.zeros((2, length), dtype=torch.long),
        torch.ones((2, length), dtype=torch.long),
        torch.ones((2, length), dtype=torch.bool),
    )
    example[2][1, length // 2 :] = 0  # a padded row, so the attention mask stays in the traced graph
    axes = {n: {0: "batch", 1: "tokens"} for n in (*INPUTS, "start", "end")}
    write_onnx(model.eval(), example, path, INPUTS, ("start", "end"), axes)
    return path


class OrtSpanModel:
    """Calls an exported span model like ``SpanModel.forward``; returns torch tensors."""

    def __init__(self, path: Path, threads: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, **inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feed = {name: inputs[name].numpy() for name in INPUTS}
        start, end = self.session.run(None, feed)
        return torch.from_numpy(np.asarray(start)), torch.from_numpy(np.asarray(end))
