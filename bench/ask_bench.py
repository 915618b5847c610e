"""Warm ``rag.ask`` latency and answer quality, per reader and inference backend.

    nice python bench/ask_bench.py --rounds 3 --out bench/RESULTS.md \
        [--squad ../shared/data/squad-v1.1/dev-v1.1.json --squad-limit 1000]

"Warm" is what ``rag.ask`` costs per question once its models are loaded (a chat session, or the
stdin batch mode): ``Pipeline.ask`` over seeds/ with the default top-k, timed for every question
of eval/gold.jsonl, ``--rounds`` times after a warm-up. Each variant is also scored on the gold
questions and, with ``--squad``, in reader mode on a fixed sample of that file (reporting only).
The neural variants run the same shipped weights and threshold: ONNX Runtime fp32 (the shipped
runtime), torch fp32, torch with bf16 autocast, and torch dynamic int8 (``Linear`` layers).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from common import CACHE, percentiles, write_section  # noqa: E402

from rag.eval.gold import load_gold, load_squad, sample  # noqa: E402
from rag.eval.harness import rank_by_answer, run_open, run_reader, summarise  # noqa: E402
from rag.pipeline import Pipeline
from rag.reader import Reader, load_reader  # noqa: E402
from rag.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def neural(precision: str) -> Callable[[], Reader]:
    """A factory for the shipped neural reader run in ``precision``: fp32, bf16, int8 or onnx."""

    def make() -> Reader:
        from rag.reader.hf import load_folder
        from rag.reader.model import quantize
        from rag.reader.neural import MODEL_DIR, NeuralReader

        model, config, tokenizer = load_folder(MODEL_DIR)  # the torch model, whatever runtime the settings name
        if precision == "int8":
            model = quantize(copy.deepcopy(model))
        elif precision == "onnx":
            from rag.reader.onnx_model import OrtSpanModel, export_onnx

            model = OrtSpanModel(export_onnx(model, MODEL_DIR, CACHE))
        run_as = "fp32" if precision in ("int8", "onnx") else precision
        return NeuralReader(loaded=(model, {**config, "precision": run_as}, tokenizer))

    return make


VARIANTS: dict[str, Callable[[], Reader]] = {
    "baseline": lambda: load_reader("baseline"),
    "neural, ONNX Runtime fp32 (shipped)": neural("onnx"),
    "neural, torch bf16 autocast": neural("bf16"),
    "neural, torch fp32": neural("fp32"),
    "neural, torch dynamic int8": neural("int8"),
}


def measure(name: str, make: Callable[[], Reader], args: argparse.Namespace) -> dict:
    reader = make()
    pipe = Pipeline(Settings(docs=args.docs, index=CACHE / "ask-index"), reader=reader)
    gold = load_gold(args.gold)
    summary = summarise(run_open(pipe, gold, rank_by_answer), wrong_limit=0)
    for q in gold[:5]:  # warm-up: caches, allocator, lazy imports
        pipe.ask(q.question)
    seconds = []
    for _ in range(args.rounds):
        for q in gold:
            started = time.perf_counter()
            pipe.ask(q.question)
            seconds.append(time.perf_counter() - started)
    p50, p95 = percentiles(seconds)
    row = {
        "variant": name,
        "threads": torch.get_num_threads(),
        "asks": len(seconds),
        "p50_ms": p50,
        "p95_ms": p95,
        "mean_ms": statistics.fmean(seconds) * 1000,
        "gold": {k: summary[k] for k in ("em", "f1", "abstention")},
    }
    if args.squad:
        items = sample(load_squad(args.squad), args.squad_limit, args.seed)
        squad = summarise(run_reader(reader, items), with_retrieval=False, wrong_limit=0)
        row["squad_reader"] = {k: squad[k] for k in ("n_questions", "em", "f1", "forced", "latency")}
    print(json.dumps(row), flush=True)
    return row


def report(rows: list[dict], args: argparse.Namespace, load: tuple[list[float], list[float]]) -> str:
    squad = f": reader mode on {args.squad_limit} questions of `{args.squad.name}` (seed {args.seed})"
    lines = [
        "## Warm `rag.ask` latency and accuracy, by reader and backend",
        "",
        f"Command: `nice python bench/ask_bench.py --rounds {args.rounds} --out bench/RESULTS.md"
        + (f" --squad {args.squad} --squad-limit {args.squad_limit}`" if args.squad else "`")
        + f". Per question: `Pipeline.ask` over `{args.docs.name}/` with the default top-k (5), "
        f"{len(load_gold(args.gold))} questions of `eval/gold.jsonl` x {args.rounds} rounds after a warm-up. "
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads; "
        f"load average at start {load[0]} / end {load[1]}.",
        "",
        "| variant | ask p50 ms | ask p95 ms | gold EM | gold F1 | gold abstained (answerable / unanswerable) "
        + ("| SQuAD EM | SQuAD F1 | SQuAD always-answer F1 | SQuAD reader p50 ms " if args.squad else "")
        + "|",
        "|---|---:|---:|---:|---:|---" + ("|---:|---:|---:|---:" if args.squad else "") + "|",
    ]
    for r in rows:
        a = r["gold"]["abstention"]
        line = (
            f"| {r['variant']} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['gold']['em']:.1f} | {r['gold']['f1']:.1f} "
            f"| {a['abstained_answerable_share'] or 0:.0%} / {a['abstention_recall'] or 0:.0%} |"
        )
        if "squad_reader" in r:
            s = r["squad_reader"]
            line += f" {s['em']:.1f} | {s['f1']:.1f} | {s['forced']['f1']:.1f} | {s['latency']['p50_ms']:.0f} |"
        lines.append(line)
    if args.squad:
        lines += ["", f"SQuAD columns{squad}; the benchmark is only reported, never tuned on."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=Path, default=ROOT / "seeds")
    parser.add_argument("--gold", type=Path, default=ROOT / "eval" / "gold.jsonl")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS), metavar="VARIANT")
    parser.add_argument("--squad", type=Path, help="a SQuAD-format file to score each variant on in reader mode")
    parser.add_argument("--squad-limit", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="Markdown file to write the section into (raw numbers: .json beside)")
    args = parser.parse_args()
    start_load = [round(x, 2) for x in os.getloadavg()]
    rows = [measure(name, VARIANTS[name], args) for name in args.variants]
    text = report(rows, args, (start_load, [round(x, 2) for x in os.getloadavg()]))
    print(text)
    if args.out:
        write_section(args.out, "ask", text)
        args.out.with_name("ask_results.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
