"""Embedding variants side by side on real 128-token chunks: speed, and what each does to retrieval.

    python bench/embed_variants.py --out bench/RESULTS.md

Speed: chunks of the SQuAD dev paragraphs cut as ``rag index`` cuts them (128 cl100k tokens, 24
shared), only full-length ones, each embedded as the index embeds it (its title, then its text), in
batches as ``rag index`` sends them; chunks/s is the best of ``--repeats`` passes after a warm-up.
The load average is read before each timing and written beside it: a busy machine slows every variant.
Variants: torch fp32 (sentence-transformers, the reference), torch under bf16 autocast, ONNX Runtime
on the plain export, on the fused graph (attention, LayerNorm, GELU: the "onnx" backend), int8 dynamic
quantisation of the fused graph ("onnx-int8"), and int8 static quantisation (QDQ, activation ranges
calibrated on chunks of training paragraphs only, ../shared/data/train, never the benchmark).

Recall: for each variant with its own vectors, SQuAD dev in open mode (every dev paragraph a
document, hybrid retrieval as ``rag eval --squad FILE --mode open`` does it, R@1 and R@5 of the
question's own paragraph, on a ``--limit`` sample drawn as ``rag eval --limit N --seed 0`` draws it)
and the technical gold set (eval/technical, a passage counts when it holds a gold answer). Retrieval
only: the reader does not change recall. Each variant gets its own index under .cache/bench.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from common import CACHE, ROOT, TRAIN, write_section  # noqa: E402

from rag.chunking.chunker import ChunkConfig, iter_chunks  # noqa: E402
from rag.config import CHUNK_TOKENS, cache_dir  # noqa: E402
from rag.eval.gold import load_gold, load_squad, materialise_squad, read_squad, sample  # noqa: E402
from rag.eval.harness import RETRIEVE_K, rank_by_answer, rank_by_source  # noqa: E402
from rag.eval.metrics import retrieval_summary  # noqa: E402
from rag.index.build import update_index  # noqa: E402
from rag.index.embedding import Embedder, Encoder  # noqa: E402
from rag.index.onnx_embedding import FastEmbedder, model_dir, variant_onnx  # noqa: E402
from rag.index.store import indexed_text  # noqa: E402
from rag.retrieval.retriever import Retriever  # noqa: E402
from rag.types import Document  # noqa: E402

SQUAD_DEV = ROOT.parent / "shared" / "data" / "squad-v1.1" / "dev-v1.1.json"
TECHNICAL = ROOT / "eval" / "technical"
CALIBRATION_FILE = "qed_train.json"


def full_chunks(paragraphs: list[tuple[str, str]], n: int) -> list[str]:
    """The first ``n`` full-length chunks of ``paragraphs`` (source, text), as the index embeds them."""
    texts = []
    for source, text in paragraphs:
        for chunk in iter_chunks(Document(source, text), ChunkConfig()):
            if chunk.n_tokens >= CHUNK_TOKENS:
                texts.append(indexed_text(chunk))
        if len(texts) >= n:
            break
    return texts[:n]


def dev_paragraphs() -> list[tuple[str, str]]:
    return list({q.source: q.context for q in read_squad(SQUAD_DEV)}.items())


def static_int8(calibration: list[str]) -> Path:
    """The fused graph's plain export quantised statically (QDQ, int8 weights per channel, uint8
    activations), its activation ranges calibrated (MinMax) on ``calibration`` training chunks."""
    import onnxruntime.quantization as q
    from tokenizers import Tokenizer

    plain = variant_onnx(model_dir(), cache_dir(), "plain")
    out = CACHE / "embed-variants" / "int8-static.onnx"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tokenizer.enable_truncation(256)

    class Reader(q.CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(calibration)

        def get_next(self) -> dict | None:
            text = next(self.items, None)
            if text is None:
                return None
            e = tokenizer.encode(text)
            return {
                "input_ids": np.array([e.ids], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids], dtype=np.int64),
            }

    prepared = out.with_name("plain-prepared.onnx")
    q.shape_inference.quant_pre_process(str(plain), str(prepared), skip_symbolic_shape=True)
    q.quantize_static(
        str(prepared),
        str(out),
        Reader(),
        quant_format=q.QuantFormat.QDQ,
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        activation_type=q.QuantType.QUInt8,
        weight_type=q.QuantType.QInt8,
        calibrate_method=q.CalibrationMethod.MinMax,
    )
    return out


class StaticEmbedder(FastEmbedder):
    """The ONNX embedder on the statically quantised graph (a benchmark variant: it needs calibration data)."""

    def __init__(self, path: Path, threads: int = 0) -> None:
        super().__init__(threads=threads, variant="fp32")
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.name = self.name + "@int8-static"


def loadavg() -> float:
    return os.getloadavg()[0]


def chunks_per_s(embedder: Encoder, texts: list[str], batch: int, repeats: int) -> tuple[float, float]:
    """(best chunks/s over ``repeats`` passes after a warm-up, 1-minute load average before timing)."""
    embedder.encode(texts[: 2 * batch], batch_size=batch)
    load, best = loadavg(), 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        embedder.encode(texts, batch_size=batch)
        best = max(best, len(texts) / (time.perf_counter() - started))
    return best, load


class NoReader:
    """Retrieval only: the pipeline's reader is never asked."""

    name, threshold = "none", 0.0


def squad_recall(embedder: Encoder, name: str, limit: int) -> dict[str, float]:
    docs = materialise_squad(SQUAD_DEV, ROOT / ".cache" / "squad")
    # fp32: the index `rag eval --squad` keeps (fp32 vectors, whichever fp32 backend built them)
    path = docs.parent / "index" if name == "fp32" else CACHE / "embed-variants" / name / "squad-index"
    with open(os.devnull, "w") as quiet:
        index, _ = update_index(docs, path, embedder, log=quiet)
    retriever = Retriever(index, embedder, "hybrid", 0.5)
    items = sample(load_squad(SQUAD_DEV), limit, 0)
    ranks = [rank_by_source(g, retriever.search(g.question, RETRIEVE_K)) for g in items]
    return retrieval_summary(ranks, (1, 5))


def technical_recall(embedder: Encoder, name: str) -> dict[str, float]:
    path = CACHE / "embed-variants" / name / "technical-index"
    with open(os.devnull, "w") as quiet:
        index, _ = update_index(TECHNICAL / "docs", path, embedder, log=quiet)
    retriever = Retriever(index, embedder, "hybrid", 0.5)
    items = [g for g in load_gold(TECHNICAL / "gold.jsonl") if not g.unanswerable]
    ranks = [rank_by_answer(g, retriever.search(g.question, RETRIEVE_K)) for g in items]
    return retrieval_summary(ranks, (1, 5))


def recall_of(build: Callable[[int], Encoder], key: str, limit: int) -> dict:
    """A variant's recall on SQuAD dev and the technical set, kept in .cache/bench (it does not depend on
    the machine's load, so a later speed-only run reports it beside its timings)."""
    saved = CACHE / "embed-variants" / key / f"recall-{limit}.json"
    if saved.is_file():
        return json.loads(saved.read_text())
    embedder = build(0)
    found = {"squad": squad_recall(embedder, key, limit), "technical": technical_recall(embedder, key)}
    saved.write_text(json.dumps(found))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="write a section of this RESULTS.md")
    parser.add_argument("--chunks", type=int, default=384, help="full-length chunks timed (default: 384)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--limit", type=int, default=2000, help="SQuAD dev questions sampled for recall")
    parser.add_argument("--no-recall", action="store_true")
    parser.add_argument("--no-speed", action="store_true")
    args = parser.parse_args()

    texts = full_chunks(dev_paragraphs(), args.chunks)
    calibration_paragraphs = {q.context: q.source for q in read_squad(TRAIN / CALIBRATION_FILE)}
    calibration = full_chunks([(s, c) for c, s in calibration_paragraphs.items()], 200)
    static = static_int8(calibration)
    builds: dict[str, Callable[[int], Encoder]] = {
        "torch fp32": lambda t: Embedder(threads=t),
        "torch bf16 autocast": lambda t: Embedder(threads=t, bf16=True),
        "onnx fp32 plain": lambda t: FastEmbedder(threads=t, variant="plain"),
        "onnx fp32 fused (onnx)": lambda t: FastEmbedder(threads=t, variant="fp32"),
        "onnx int8 dynamic (onnx-int8)": lambda t: FastEmbedder(threads=t, variant="int8"),
        "onnx int8 static": lambda t: StaticEmbedder(static, threads=t),
    }
    own_vectors = {  # variants whose vectors differ: each gets its recall measured
        "onnx fp32 fused (onnx)": "fp32",
        "onnx int8 dynamic (onnx-int8)": "int8",
        "onnx int8 static": "int8-static",
        "torch bf16 autocast": "bf16",
    }
    rows: dict[str, dict] = {name: {} for name in builds}
    for name, key in own_vectors.items():
        saved = CACHE / "embed-variants" / key / f"recall-{args.limit}.json"
        if args.no_recall and saved.is_file():  # measured earlier: recall does not depend on the load
            rows[name].update(json.loads(saved.read_text()))
        elif not args.no_recall:
            rows[name].update(recall_of(builds[name], key, args.limit))
            print(name, rows[name], flush=True)
    if not args.no_speed:
        for name, build in builds.items():
            embedder = build(0)
            rows[name]["speed"] = chunks_per_s(embedder, texts, 32, args.repeats)
            print(name, "speed", rows[name]["speed"], flush=True)
        grid = {}
        for name in ("onnx fp32 fused (onnx)", "onnx int8 dynamic (onnx-int8)"):
            for threads in (1, 2):
                embedder = builds[name](threads)
                for batch in (8, 32, 128):
                    grid[(name, threads, batch)] = chunks_per_s(embedder, texts, batch, args.repeats)
                    print(name, threads, batch, grid[(name, threads, batch)], flush=True)
    if args.out:
        write_section(args.out, "embed-variants", report(rows, grid if not args.no_speed else {}, args))


def report(rows: dict[str, dict], grid: dict, args: argparse.Namespace) -> str:
    lines = [
        "## Embedding variants (128-token chunks)",
        "",
        f"`python bench/embed_variants.py --out bench/RESULTS.md`: {args.chunks} full-length 128-token chunks of "
        f"SQuAD dev paragraphs, batch 32, 2 threads, best of {args.repeats} passes; recall on a {args.limit}-question "
        "sample of SQuAD dev in open mode (hybrid, as `rag eval --limit 2000 --seed 0`) and on the 49 technical "
        "gold questions (answerable ones). Load: the 1-minute load average just before each timing.",
        "",
        "| variant | chunks/s | load | SQuAD dev R@1 | R@5 | technical R@1 | R@5 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        speed, load = row.get("speed", (float("nan"), float("nan")))
        sq, te = row.get("squad", {}), row.get("technical", {})
        same = "=fp32" if "fp32" in name else "-"  # fp32 variants share the fused graph's vectors
        cells = [f"{sq[k]:.3f}" if sq else same for k in ("recall@1", "recall@5")]
        cells += [f"{te[k]:.3f}" if te else same for k in ("recall@1", "recall@5")]
        lines.append(f"| {name} | {speed:.1f} | {load:.1f} | " + " | ".join(cells) + " |")
    if grid:
        lines += [
            "",
            "Threads and batch size (chunks/s, load average):",
            "",
            "| variant | threads | batch | chunks/s |",
        ]
        lines.append("|---|---:|---:|---:|")
        for (name, threads, batch), (speed, load) in grid.items():
            lines.append(f"| {name} | {threads} | {batch} | {speed:.1f} (load {load:.1f}) |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
