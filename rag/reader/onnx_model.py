"""The reader's network run by ONNX Runtime: no torch or transformers at question time.

``OrtSpanModel`` takes the arrays of ``windows.collate`` and gives back start and end
log-probabilities, like ``SpanModel`` or ``hf.QAModel``. The graph is exported once from the
folder's weights (with torch, the only time torch is needed) and cached under a hash of them in
``$RAG_CACHE`` or ``~/.cache/rag-extractive``, so a new model never runs a stale export. Cold
``rag.ask`` skips importing torch and transformers this way (bench/RESULTS.md, cold start);
bench/ask_bench.py compares its speed and answers with torch fp32, bf16 and int8.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.config import cache_dir as default_cache_dir
from rag.onnx_export import file_digest, write_onnx
from rag.reader.folder import check_folder

INPUTS = ("input_ids", "token_type_ids", "attention_mask", "context_mask")
WEIGHTS = "model.safetensors"  # a Hugging Face QA folder's weights (rag.reader.hf)


def weights_digest(model_dir: Path) -> str:
    """A short hash of the folder's weights: the name of their cached export, so new weights never run a stale one."""
    weights = model_dir / WEIGHTS
    if not weights.is_file():
        raise FileNotFoundError(f"no {WEIGHTS} in {model_dir}")
    return file_digest(weights)


def onnx_path(model_dir: Path, cache_dir: Path | None = None) -> Path:
    """Where the ONNX export of ``model_dir``'s weights is cached (named by their hash)."""
    return (cache_dir or default_cache_dir()) / f"reader-{weights_digest(model_dir)}.onnx"


def export_onnx(model, model_dir: Path, cache_dir: Path | None = None, path: Path | None = None) -> Path:
    """The ONNX file of ``model`` (a torch model loaded from ``model_dir``), exported on first use."""
    import torch

    path = path or onnx_path(model_dir, cache_dir)
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
    write_onnx(model.float().eval(), example, path, INPUTS, ("start", "end"), axes)
    return path


class OrtSpanModel:
    """Calls an exported span model like ``SpanModel.forward``, on and to NumPy arrays."""

    runs_numpy = True

    def __init__(self, path: Path, threads: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]  # a graph may drop unused token types

    def __call__(self, **inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        start, end = self.session.run(None, {name: inputs[name] for name in self.inputs})
        return np.asarray(start, dtype=np.float32), np.asarray(end, dtype=np.float32)


def load_onnx(
    model_dir: Path, settings: dict, cache_dir: Path | None = None, threads: int = 0
) -> tuple[OrtSpanModel, dict, object]:
    """(ONNX Runtime model, settings, ``tokenizers.Tokenizer``) of a QA folder; exports it on first use.
    ``threads``: ONNX Runtime intra-op threads (0: one per core)."""
    from tokenizers import Tokenizer

    check_folder(model_dir)
    path = onnx_path(model_dir, cache_dir)
    if not path.is_file():
        from rag.reader.hf import load_folder

        model, _, _ = load_folder(model_dir)
        export_onnx(model, model_dir, path=path)
    return OrtSpanModel(path, threads), settings, Tokenizer.from_file(str(model_dir / "tokenizer.json"))
