"""Check the chat's confidence labels (ui.core.confidence) on held-out TRAINING questions: how often an
answer labelled high, medium or low is right. Never the benchmark, the gold set or the seeds.

    python eval/confidence.py [--model DIR] [--limit N]

Each held-out question is read in its own paragraph by the shipped reader, as training's held-out
evaluation builds them: answerable questions, and negatives (a similar paragraph without the answer,
or the question's paragraph with the answer's sentence deleted), where any answer is wrong. Reported
per label: answers given, the share exactly right (EM) and the mean F1 among answerable questions, and
how many negatives got an answer with that label. Labels below the threshold are abstentions.
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

from decoding import heldout_items  # noqa: E402

from rag.eval.metrics import best_over_golds, exact_match, f1  # noqa: E402
from rag.reader.neural import MODEL_DIR, NeuralReader  # noqa: E402
from rag.types import Passage  # noqa: E402
from ui.reply import confidence  # noqa: E402


def label_of(score: float, threshold: float) -> str:
    return "abstained" if score < threshold else confidence(score, threshold)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL_DIR, help="reader folder (default: the shipped one)")
    parser.add_argument("--limit", type=int, default=None, help="a random sample of N of each kind")
    args = parser.parse_args()
    reader = NeuralReader(args.model)
    answerable, negatives = heldout_items()
    if args.limit:
        rng = random.Random(0)
        answerable, negatives = rng.sample(answerable, args.limit), rng.sample(negatives, args.limit)
    rows: dict[str, dict[str, float]] = {}
    for kind, examples in (("answerable", answerable), ("negative", negatives)):
        for e in examples:
            got = reader.read(e.question, [Passage("c", 0, len(e.context), e.context, 1.0)])
            label = label_of(got.score if got else 0.0, reader.threshold)
            row = rows.setdefault(label, {"answerable": 0, "em": 0.0, "f1": 0.0, "negative": 0})
            row[kind] += 1
            if kind == "answerable" and got is not None:
                row["em"] += best_over_golds(exact_match, got.text, e.answers)
                row["f1"] += best_over_golds(f1, got.text, e.answers)
    print(f"reader {args.model.name}, threshold {reader.threshold:.4f}; {len(answerable)} answerable, "
          f"{len(negatives)} negatives (held-out training questions)")  # fmt: skip
    print("| label | answerable | EM % | F1 % | negatives |")
    print("|---|---|---|---|---|")
    for label in ("high", "medium", "low", "abstained"):
        r = rows.get(label, {"answerable": 0, "em": 0.0, "f1": 0.0, "negative": 0})
        n = max(r["answerable"], 1)
        print(f"| {label} | {r['answerable']} | {100 * r['em'] / n:.1f} | {100 * r['f1'] / n:.1f} | {r['negative']} |")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
