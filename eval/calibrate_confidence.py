"""Calibrate a reader folder on held-out TRAINING questions: its abstention threshold and its
confidence labels (rag.reader.confidence), and how often an answer labelled high, medium or low is
exactly right. Never the benchmark, the gold set or the seeds.

    python eval/calibrate_confidence.py [--model DIR] [--limit N] [--write] [--threshold-too]

Each held-out question is read in its own paragraph, as training's held-out evaluation builds them:
answerable questions, and negatives (a similar paragraph without the answer, the question's
paragraph with the answer's sentence deleted, the question with a name or number swapped), where any
answer is wrong. The reader decodes as its ``rag_reader.json`` says. ``--write`` stores the cut-offs
in that file: *high* from the lowest score above which at least 90% of the answers given were
exactly right, *medium* 65%; with ``--threshold-too`` also the threshold, by the shipped rule (the
lowest that abstains on 75% of the negatives, ``rag.training.heldout.calibrate``), set first, so the
cut-offs are measured among the answers that threshold lets through.
Reported per label: answers given, how many were exactly right, and the mean F1 of those that had an
answer.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from tune_decoding import heldout_items  # noqa: E402

from rag.eval.metrics import best_over_golds, exact_match, f1  # noqa: E402
from rag.reader.confidence import HIGH_PRECISION, MEDIUM_PRECISION, cutoff, label  # noqa: E402
from rag.reader.neural import MODEL_DIR, NeuralReader  # noqa: E402
from rag.training.heldout import calibrate  # noqa: E402
from rag.types import Passage  # noqa: E402


def read_heldout(reader: NeuralReader, limit: int | None) -> list[tuple[float, bool, float, bool]]:
    """(score, exactly right, F1, answerable) of the reader's best answer to each held-out item;
    negatives are never right."""
    answerable, negatives = heldout_items()
    if limit:
        rng = random.Random(0)
        answerable = rng.sample(answerable, min(limit, len(answerable)))
        negatives = rng.sample(negatives, min(limit, len(negatives)))
    out = []
    total = len(answerable) + len(negatives)
    for n, e in enumerate(answerable + negatives):
        got = reader.read(e.question, [Passage("c", 0, len(e.context), e.context, 1.0)])
        has_answer = e.answer is not None
        if got is None:
            out.append((0.0, False, 0.0, has_answer))
        elif not has_answer:
            out.append((got.score, False, 0.0, False))
        else:
            out.append((got.score, bool(best_over_golds(exact_match, got.text, e.answers)),
                        best_over_golds(f1, got.text, e.answers), True))  # fmt: skip
        if n % 1000 == 0:
            print(f"  read {n}/{total}", file=sys.stderr, flush=True)
    return out


def table(reads: list[tuple[float, bool, float, bool]], threshold: float, cutoffs: dict | None) -> str:
    rows: dict[str, list[tuple[bool, float]]] = {}
    for score, right, f, _ in reads:
        name = "abstained" if score < threshold else label(score, threshold, cutoffs)
        rows.setdefault(name, []).append((right, f))
    lines = ["| label | answers | exactly right % | mean F1 |", "|---|---|---|---|"]
    for name in ("high", "medium", "low", "abstained"):
        r = rows.get(name, [])
        n = max(len(r), 1)
        right, mean_f1 = 100 * sum(a for a, _ in r) / n, 100 * sum(b for _, b in r) / n
        lines.append(f"| {name} | {len(r)} | {right:.1f} | {mean_f1:.1f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL_DIR, help="reader folder (default: the shipped one)")
    parser.add_argument("--limit", type=int, default=None, help="a random sample of N of each kind")
    parser.add_argument("--write", action="store_true", help="store the cut-offs in the model's rag_reader.json")
    parser.add_argument("--threshold-too", action="store_true", help="also set the threshold (75%% of negatives)")
    args = parser.parse_args()
    reader = NeuralReader(args.model)
    reads = read_heldout(reader, args.limit)
    threshold = reader.threshold
    answered = [(right, f) for _, right, f, has_answer in reads if has_answer]
    print(f"held-out answerable, always answering: EM {100 * sum(r for r, _ in answered) / len(answered):.2f} "
          f"F1 {100 * sum(f for _, f in answered) / len(answered):.2f} ({len(answered)} questions)")  # fmt: skip
    if args.threshold_too:
        pos = [(f, s) for s, _, f, answerable in reads if answerable]
        cal = calibrate(pos, [s for s, _, _, answerable in reads if not answerable], min_negative_abstention=0.75)
        threshold = cal["threshold"]
        print(f"threshold {threshold} ({cal['rule']}): {json.dumps(cal)}")
    given = [(s, ok) for s, ok, _, _ in reads if s >= threshold]
    cutoffs = {"high": cutoff(given, HIGH_PRECISION), "medium": cutoff(given, MEDIUM_PRECISION)}
    cutoffs = {k: round(v, 4) for k, v in cutoffs.items() if v is not None}
    print(f"reader {args.model}, threshold {threshold:.4f}; {len(reads)} held-out items; cut-offs {cutoffs}")
    print(table(reads, threshold, cutoffs))
    if args.write:
        path = args.model / "rag_reader.json"
        settings = json.loads(path.read_text(encoding="utf-8"))
        if args.threshold_too:
            settings["threshold"] = threshold
            settings["calibration"] = (
                "lowest threshold abstaining on >= 75% of held-out negatives (other paragraph, deleted sentence, "
                "swapped name or number), with this file's decoding (eval/calibrate_confidence.py --threshold-too)"
            )
        settings["confidence"] = cutoffs
        settings["confidence_rule"] = (
            f"high: >= {HIGH_PRECISION:.0%} exactly right, medium: >= {MEDIUM_PRECISION:.0%}, "
            "among answers to held-out training questions and built negatives (eval/calibrate_confidence.py)"
        )
        path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
