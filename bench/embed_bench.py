"""Embedding throughput and single-query latency of all-MiniLM-L6-v2 on this CPU, per variant.

    nice -n 10 python bench/embed_bench.py --out bench/RESULTS.md

Passages: 1000 training-set paragraphs (../shared/data/train) cut to about 500 characters at a word
boundary (about 100-128 word pieces); queries: one training question per paragraph. The reference is
``rag.index.embedding.Embedder.encode`` with batch size 32. Every variant is checked against the reference:
cosine of its passage vectors to the reference ones (mean, min; acceptable when min >= 0.99) and
recall@5 of question -> own paragraph among the 1000 passages. ONNX variants need ``onnxruntime``
(and ``onnx`` for the int8 one); they are skipped when it is not installed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from common import CACHE, TRAIN_FILES, cut, paragraphs, percentiles, write_section  # noqa: E402

from rag.index.embedding import load_embedder  # noqa: E402
from rag.index.onnx_embedding import MAX_TOKENS, model_dir  # noqa: E402

Encode = Callable[[list[str], int], np.ndarray]


@dataclass
class Variant:
    name: str
    encode: Encode
    batch_size: int = 32
    threads: int = 2


def texts(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` passages (paragraphs cut to ~500 characters) and one question about each."""
    paras = [(c, qs) for c, qs in paragraphs(TRAIN_FILES[:4]) if qs]
    rows = np.random.default_rng(seed).choice(len(paras), size=n, replace=False)
    return [cut(paras[i][0]) for i in rows], [paras[i][1][0] for i in rows]


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the token vectors under the attention mask, L2-normalised (what the Pooling+Normalize modules do)."""
    mask = mask[..., None].astype(hidden.dtype)
    pooled = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


class Direct:
    """The transformers model called directly (fast tokenizer, inference_mode, mean pooling), optionally
    int8-quantised (dynamic, Linear layers); batches in the given order unless ``sort``."""

    def __init__(self, model: torch.nn.Module, tokenizer, sort: bool) -> None:
        self.model, self.tokenizer, self.sort = model.eval(), tokenizer, sort

    def __call__(self, items: list[str], batch_size: int) -> np.ndarray:
        order = np.argsort([-len(t) for t in items], kind="stable") if self.sort else np.arange(len(items))
        out = np.zeros((len(items), 384), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(items), batch_size):
                rows = order[start : start + batch_size]
                enc = self.tokenizer(
                    [items[i] for i in rows], padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
                )
                hidden = self.model(**enc).last_hidden_state
                out[rows] = mean_pool(hidden.numpy(), enc["attention_mask"].numpy())
        return out


def onnx_variant(path: Path | None, threads: int):
    """rag.index.onnx_embedding.FastEmbedder, optionally running another ONNX file (a quantised export)."""
    import onnxruntime as ort

    from rag.index.onnx_embedding import FastEmbedder

    fast = FastEmbedder(cache_dir=CACHE, threads=threads)
    if path is not None:
        options = fast.session.get_session_options()
        fast.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda items, batch_size: fast.encode(items, batch_size=batch_size)


def quantised(fp32: Path, only: str | None) -> Path:
    """Dynamic int8 (per-channel weights) of every MatMul with a weight, or of those whose name contains ``only``."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = fp32.with_name(f"{fp32.stem}-int8-{only or 'all'}.onnx")
    if not out.is_file():
        names = [n.name for n in onnx.load(str(fp32)).graph.node if n.op_type == "MatMul"]
        exclude = [n for n in names if only and only not in n]
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True, nodes_to_exclude=exclude)
    return out


def timed(variant: Variant, passages: list[str], questions: list[str]) -> dict:
    """One round: passages/s over all passages (after a warm-up), and latency of single-question calls."""
    torch.set_num_threads(variant.threads)
    variant.encode(passages[:64], variant.batch_size)  # warm-up
    start = time.perf_counter()
    vectors = variant.encode(passages, variant.batch_size)
    per_s = len(passages) / (time.perf_counter() - start)
    for q in questions[:10]:
        variant.encode([q], 1)
    times = []
    for q in questions[:300]:
        t = time.perf_counter()
        variant.encode([q], 1)
        times.append(time.perf_counter() - t)
    p50, p95 = percentiles(times)
    return {"per_s": per_s, "q_p50": p50, "q_p95": p95, "p": vectors, "load": os.getloadavg()[0]}


def quality(variant: Variant, vectors: np.ndarray, questions: list[str], reference: dict | None) -> dict:
    """Recall@5 of question -> own passage, and cosine to the reference vectors (passages and questions)."""
    q_vecs = variant.encode(questions, 64)
    scores = q_vecs @ vectors.T
    own = scores[np.arange(len(questions)), np.arange(len(questions))]
    result = {"q": q_vecs, "recall5": float(np.mean((scores > own[:, None]).sum(1) < 5))}
    if reference is not None:
        cos = np.sum(vectors * reference["p"], axis=1)
        qcos = np.sum(q_vecs * reference["q"], axis=1)
        result.update(cos_mean=float(cos.mean()), cos_min=float(min(cos.min(), qcos.min())))
    return result


def variants(include_onnx: bool) -> list[Variant]:
    from transformers import AutoTokenizer

    embedder = load_embedder()
    st: Encode = lambda items, b: embedder.encode(items, batch_size=b)  # noqa: E731
    hf = embedder.model[0].auto_model
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir()))
    int8 = torch.ao.quantization.quantize_dynamic(_copy(hf), {torch.nn.Linear}, dtype=torch.qint8)
    out = [
        Variant("reference: sentence-transformers, batch 32, 2 threads", st),
        Variant("sentence-transformers, batch 16", st, batch_size=16),
        Variant("sentence-transformers, batch 64", st, batch_size=64),
        Variant("sentence-transformers, batch 128", st, batch_size=128),
        Variant("sentence-transformers, 1 thread", st, threads=1),
        Variant("transformers direct, unsorted batches", Direct(hf, tokenizer, sort=False)),
        Variant("transformers direct, length-sorted", Direct(hf, tokenizer, sort=True)),
        Variant("torch dynamic int8 (Linear), direct", Direct(int8, tokenizer, sort=True)),
    ]
    if include_onnx:
        from rag.index.onnx_embedding import export_onnx

        fp32 = export_onnx(model_dir(), CACHE)
        out += [
            Variant("ONNX Runtime fp32 (rag.index.onnx_embedding)", onnx_variant(None, 2)),
            Variant("ONNX Runtime fp32, 1 thread", onnx_variant(None, 1), threads=1),
            Variant("ONNX Runtime int8 per-channel, all MatMul", onnx_variant(quantised(fp32, None), 2)),
            Variant("ONNX Runtime int8 per-channel, FFN-up only", onnx_variant(quantised(fp32, "intermediate"), 2)),
        ]
    return out


def _copy(model: torch.nn.Module) -> torch.nn.Module:
    import copy

    return copy.deepcopy(model)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def report(results: list[dict], n: int, rounds: int, command: str) -> str:
    loads = [r["load"] for res in results for r in res["rounds"]]
    lines = [
        "## Embedding throughput",
        "",
        f"Command: `nice -n 10 {command}`. {n} passages (training paragraphs cut to <= 500 characters at a word "
        "boundary, ~100-128 word pieces), encoded in one `encode(passages, batch_size)` call; single-query latency "
        "over 300 training questions, one `encode([q])` call each, after a warm-up; recall@5 = question -> own "
        f"passage among the {n}. Cosine is against the reference vectors (min over passages and questions). "
        f"Variants are run in {rounds} interleaved rounds and the best round is shown (passages/s per round in "
        "brackets), because other jobs shared these 2 cores at times (1-minute load average during the run: "
        f"{min(loads):.2f} to {max(loads):.2f}). torch {torch.__version__}, {os.cpu_count()} CPUs.",
        "",
        "| variant | batch | threads | passages/s (rounds) | query p50 ms | query p95 ms | cos mean | cos min "
        "| recall@5 |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        v, best = r["variant"], max(r["rounds"], key=lambda x: x["per_s"])
        fastest = min(r["rounds"], key=lambda x: x["q_p50"])
        cos = f"{r['cos_mean']:.5f} | {r['cos_min']:.5f}" if "cos_mean" in r else "1 | 1"
        per_round = " / ".join(f"{x['per_s']:.1f}" for x in r["rounds"])
        lines.append(
            f"| {v.name} | {v.batch_size} | {v.threads} | **{best['per_s']:.1f}** ({per_round}) "
            f"| {fastest['q_p50']:.2f} | {fastest['q_p95']:.2f} | {cos} | {r['recall5']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best is reported")
    parser.add_argument("--only", nargs="*", help="run only variants whose name contains one of these")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    passages, questions = texts(args.passages)
    chosen = [
        v
        for i, v in enumerate(variants(include_onnx=_has("onnxruntime") and _has("onnx")))
        if i == 0 or not args.only or any(s in v.name for s in args.only)
    ]
    results: list[dict] = [{"variant": v, "rounds": []} for v in chosen]
    for round_no in range(args.rounds):
        for r in results:
            r["rounds"].append(timed(r["variant"], passages, questions))
            if round_no == 0:
                reference = results[0] if r is not results[0] else None
                r.update(quality(r["variant"], r["rounds"][0]["p"], questions, reference), p=r["rounds"][0]["p"])
            x = r["rounds"][-1]
            print(
                f"round {round_no}: {r['variant'].name}: {x['per_s']:.1f}/s, q p50 {x['q_p50']:.2f} ms, "
                f"load {x['load']:.2f}, cos min {r.get('cos_min', 1):.5f}",
                flush=True,
            )
    if args.out:
        command = "python bench/embed_bench.py " + " ".join(sys.argv[1:])
        write_section(args.out, "embed", report(results, args.passages, args.rounds, command))


if __name__ == "__main__":
    main()
