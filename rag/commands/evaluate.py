"""rag eval (also ``python -m rag.eval``, ``rag-eval``): measure answer quality the way the field does,
on gold questions or a SQuAD file.

EM/F1 use the official SQuAD v1.1 normalisation; abstentions count (an abstained answerable
question scores 0, an abstained unanswerable one scores 1) and nothing leaves the denominator.
Each run's numbers are saved as JSON with the commit and settings, to compare run against run.
With --ray ADDRESS the questions are asked by actors of a Ray cluster, each loading the models once.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

from rag.commands.common import Command, answering_flags, corpus_flags, ray_flags, settings_of
from rag.config import cache_dir, data_dir
from rag.errors import UsageError
from rag.pipeline import Pipeline
from rag.reader import Reader, load_reader
from rag.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
WRONG_SHOWN = 25
DESCRIPTION = (
    "Measure answer quality the way the field does, on gold questions or a SQuAD file. " + __doc__.split("\n\n", 1)[1]
)


def checkout() -> Path | None:
    """The source checkout this runs from (its eval/runs and .cache hold the project's runs), None when
    the package is installed (site-packages is never written to)."""
    return ROOT if (ROOT / "pyproject.toml").is_file() and (ROOT / "eval").is_dir() else None


def runs_dir() -> Path:
    """Where runs are saved without --out/--save: the checkout's eval/runs, else the user's data folder."""
    root = checkout()
    return root / "eval" / "runs" if root else data_dir() / "runs"


def squad_cache() -> Path:
    """Where a SQuAD file's paragraphs are written as documents and indexed, for open mode."""
    root = checkout()
    return root / ".cache" / "squad" if root else cache_dir() / "squad"


def configure(parser: argparse.ArgumentParser) -> None:
    """rag eval's own flags: what to evaluate, the sample, where the run is saved."""
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--gold", type=Path, metavar="FILE", help="gold questions, JSONL (e.g. eval/gold.jsonl)")
    what.add_argument(
        "--squad",
        type=Path,
        metavar="FILE",
        help="a SQuAD v1.1 or v2.0 JSON file (v2.0's unanswerable questions are scored the official way: "
        "right only when the reader abstains)",
    )
    parser.add_argument(
        "--mode",
        choices=("reader", "open"),
        default="open",
        help="with --squad: reader = each question's own paragraph; open = retrieve from all",
    )
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="a random sample of N questions")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of that sample (default: 0)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder the run is saved in (default: eval/runs in a source checkout, else ~/.local/share/"
        "rag-extractive/runs or $RAG_DATA/runs)",
    )
    parser.add_argument(
        "--save", type=Path, default=None, metavar="FILE", help="save this run's numbers in FILE instead"
    )
    parser.add_argument("--no-save", action="store_true", help="do not save this run")


def commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def evaluate(args: argparse.Namespace, settings: Settings) -> dict:
    """The run's report; with --ray, its questions are asked on the cluster's actors (``rag.cluster``)."""
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    if args.ray is None:
        return _evaluate(args, settings, None)
    from rag.cluster.connect import cluster, pool_size

    with cluster(args.ray) as ray:
        return _evaluate(args, settings, pool_size(ray, args.ray_actors))


def _evaluate(args: argparse.Namespace, settings: Settings, actors: int | None) -> dict:
    """``evaluate`` here (``actors`` None) or over that many actors of the cluster joined."""
    from rag.eval.gold import load_gold, load_squad, materialise_squad, sample
    from rag.eval.harness import rank_by_answer, rank_by_source, run_open, run_reader, summarise
    from rag.eval.metrics import label_table
    from rag.index.build import embedder_for

    if args.gold:
        kind, items = "gold", load_gold(args.gold)
    else:
        kind, items = f"squad-{args.mode}", load_squad(args.squad)
    items = sample(items, args.limit, args.seed)
    reader: Reader = load_reader(settings.reader, model_dir=settings.reader_model, threads=settings.threads)
    shown = {"reader": reader.name, "top_k": settings.top_k, "limit": args.limit, "seed": args.seed}
    if settings.reader_model:
        shown["reader_model"] = str(settings.reader_model)
    if kind != "squad-reader":
        shown["retriever"] = settings.retriever
        shown["read_context"] = settings.read_context
    spread = None
    if actors is not None:
        from rag.cluster.spread import spread as on_actors

        spread, shown["ray_actors"] = partial(on_actors, actors=actors), actors
    if kind == "squad-reader":
        threshold = settings.applied_threshold(reader.threshold)
        records = run_reader(reader, threshold, items, spread, settings)
        summary = summarise(records, with_retrieval=False, wrong_limit=WRONG_SHOWN)
    else:
        if args.squad:
            docs = materialise_squad(args.squad, squad_cache())
            settings = replace(settings, docs=docs, index=docs.parent / "index")  # the file's paragraphs
        embedder = embedder_for(settings.index, settings.embedding, settings.threads)
        embed_files = None
        if actors is not None:  # changed files are embedded on the cluster
            from rag.cluster.index import embed_like

            embed_files = embed_like(embedder, actors)
        pipe = Pipeline(settings, embedder=embedder, reader=reader, embed_files=embed_files)
        threshold = pipe.threshold_for(reader)
        records = run_open(pipe, items, rank_by_answer if args.gold else rank_by_source, spread)
        summary = summarise(records, wrong_limit=None if args.gold else WRONG_SHOWN)
        shown.update(docs=str(settings.docs), chunk_tokens=pipe.chunking.size, chunk_overlap=pipe.chunking.overlap)
    shown["threshold"] = threshold
    summary["confidence_labels"] = label_table(  # against the calibrated threshold, whatever the run applied
        [(r.score, r.em) for r in records if r.prediction is not None],
        reader.threshold,
        getattr(reader, "confidence_cutoffs", None),
    )
    file = args.gold or args.squad
    return {
        "kind": kind,
        "file": str(file),
        "commit": commit(),
        "settings": shown,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **summary,
    }


def save(report: dict, args: argparse.Namespace) -> Path:
    name = f"{report['time'].replace(':', '')}-{report['kind']}-{report['settings']['reader']}.json"
    path = args.save or (args.out or runs_dir()) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = dict(report)
    if report["kind"] != "gold":  # benchmark text is not ours to commit: keep numbers and ids only
        kept["wrong"] = [w["id"] for w in report["wrong"]]
    path.write_text(json.dumps(kept, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def format_report(r: dict) -> str:
    s = r["settings"]
    lines = [
        f"{r['kind']} · {r['file']} · {r['n_questions']} questions · reader {s['reader']} "
        f"(threshold {s['threshold']:.2f}) · retriever {s.get('retriever', '-')} · top-k {s['top_k']}",
        f"  EM {r['em']:.1f}  F1 {r['f1']:.1f}   (abstentions count; nothing dropped)",
        f"  answerable   n={r['answerable']['n']:<5} EM {r['answerable']['em']:.1f}  F1 {r['answerable']['f1']:.1f}"
        "   (SQuAD 2.0: HasAns)",
        f"  unanswerable n={r['unanswerable']['n']:<5} abstained {r['unanswerable']['em']:.1f}%   (NoAns: EM = F1)",
        f"  always answering: EM {r['forced']['em']:.1f}  F1 {r['forced']['f1']:.1f} (answerable questions)",
        f"  abstention precision {pct(r['abstention']['abstention_precision'])}  "
        f"recall {pct(r['abstention']['abstention_recall'])}  "
        f"answerable abstained {pct(r['abstention']['abstained_answerable_share'])}",
    ]
    if "confidence_labels" in r:
        shown = [
            f"{name} {v['answers']}" + (f" ({v['exact_pct']:.0f}% exact)" if v["exact_pct"] is not None else "")
            for name, v in r["confidence_labels"].items()
        ]
        lines.append("  answers by confidence label: " + ", ".join(shown))
    if "retrieval" in r:
        ret = r["retrieval"]
        lines.append(
            f"  retrieval    recall@1 {ret['recall@1']:.3f}  @5 {ret['recall@5']:.3f}  @20 {ret['recall@20']:.3f}"
            f"  MRR {ret['mrr']:.3f}"
        )
    off = r["offsets"]
    lines.append(
        f"  offsets valid: answers {pct(off['answers_valid'])} of {off['answers']}, "
        f"passages {pct(off['passages_valid'])} of {off['passages']}"
    )
    lines.append(f"  latency per question p50 {r['latency']['p50_ms']:.0f} ms  p95 {r['latency']['p95_ms']:.0f} ms")
    if "retrieval_latency" in r:
        rl = r["retrieval_latency"]
        lines.append(f"  of which retrieval    p50 {rl['p50_ms']:.1f} ms  p95 {rl['p95_ms']:.1f} ms")
    if r["wrong"]:
        lines.append(f"\nWrong answers ({r['n_wrong']}, showing {len(r['wrong'])}):")
        lines.append(f"  {'question':<60} {'gold':<28} {'predicted':<28} score")
        for w in r["wrong"]:
            gold = " | ".join(w["gold"]) if w["gold"] else "(unanswerable)"
            pred = w["predicted"] if w["predicted"] is not None else f"(abstained: {w['candidate']})"
            score = "-" if w["score"] is None else f"{w['score']:.2f}"
            lines.append(f"  {w['question'][:60]:<60} {gold[:28]:<28} {pred[:28]:<28} {score}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.mode == "reader" and not args.squad:
        raise UsageError("--mode reader needs --squad (gold.jsonl questions have no given paragraph)")
    report = evaluate(args, settings_of(args))
    if not args.no_save:
        report["saved_to"] = str(save(report, args))
    print(json.dumps(report, ensure_ascii=False) if args.json else format_report(report))
    return 0


COMMAND = Command(
    name="eval",
    description=DESCRIPTION,
    examples=(
        "rag eval --gold eval/gold.jsonl                   # our documents, full pipeline",
        "rag eval --squad dev-v1.1.json --mode reader      # reader given the right paragraph",
        "rag eval --squad dev-v1.1.json --mode open        # all paragraphs indexed, full pipeline",
        "rag eval --gold eval/gold.jsonl --ray HOST:PORT   # questions spread over a Ray cluster",
    ),
    parents=(corpus_flags, answering_flags, ray_flags("ask the questions")),
    configure=configure,
    run=run,
)

main = COMMAND.main  # what tests, ``python -m`` and the old spellings call


if __name__ == "__main__":
    COMMAND.entry()
