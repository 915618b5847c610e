"""Choose a reader's abstention threshold on held-out TRAINING data, never on the benchmark.

    python eval/calibrate_threshold.py --reader baseline ../shared/data/train/qed_dev.json [--limit 400]

Each sampled question is read twice: with its own paragraph (answerable) and with another
paragraph of the same file that does not contain its answer (unanswerable). The threshold
printed maximises answerable F1 (an abstention scores 0) plus the share of unanswerable pairs
abstained: the one calibration (``rag.training.heldout.calibrate``) the neural reader's training uses.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.eval.gold import load_squad, sample  # noqa: E402
from rag.eval.metrics import best_over_golds, contains_answer, f1  # noqa: E402
from rag.reader import READERS, load_reader  # noqa: E402
from rag.training.heldout import calibrate  # noqa: E402
from rag.types import Passage  # noqa: E402


def negative_context(question, pool: list[str], rng: random.Random) -> str:
    while True:
        context = rng.choice(pool)
        if not contains_answer(context, question.answers):
            return context


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--reader", default="baseline", choices=READERS)
    parser.add_argument("--limit", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    items = [q for q in load_squad(args.file) if q.answers]
    pool = sorted({q.context for q in items})
    rng = random.Random(args.seed)
    reader = load_reader(args.reader)
    positives, negatives = [], []
    for q in sample(items, args.limit, args.seed):
        for context, out in ((q.context, positives), (negative_context(q, pool, rng), negatives)):
            answer = reader.read(q.question, [Passage("p", 0, len(context), context, 1.0)])
            score = answer.score if answer else 0.0
            out.append((score, best_over_golds(f1, answer.text, q.answers) if answer else 0.0))
    cal = calibrate([(f, score) for score, f in positives], [score for score, _ in negatives])
    always = 100 * sum(f for _, f in positives) / max(1, len(positives))
    print(f"{args.reader} on {args.file.name}: {len(positives)} answerable + {len(negatives)} unanswerable pairs")
    print(f"  always answering: F1 {always:.1f}")
    print(
        f"  best threshold {cal['threshold']}: answerable F1 {cal['answerable_f1_with_abstention']:.1f} "
        f"(abstains on {100 * cal['false_abstention_rate']:.0f}%), unanswerable abstained "
        f"{100 * cal['negative_abstention_rate']:.0f}%, objective {cal['objective']:.3f}"
    )


if __name__ == "__main__":
    main()
