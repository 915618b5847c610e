"""Choose a reader's abstention threshold on held-out TRAINING data, never on the benchmark.

    python eval/calibrate.py --reader baseline ../shared/data/train/qed_dev.json [--limit 400]

Each sampled question is read twice: with its own paragraph (answerable) and with another
paragraph of the same file that does not contain its answer (unanswerable). The threshold
printed maximises the mean of answerable F1 (an abstention scores 0) and the share of
unanswerable pairs abstained, the same accounting as rag.eval.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.gold import load_squad, sample  # noqa: E402
from rag.metrics import best_over_golds, contains_answer, f1  # noqa: E402
from rag.reader import READERS, load_reader  # noqa: E402
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
    pos, neg = np.array(positives), np.array(negatives)
    best = None
    for t in np.round(np.arange(0.0, 1.0, 0.01), 2):
        answerable_f1 = float(np.where(pos[:, 0] >= t, pos[:, 1], 0.0).mean())
        abstained = float((neg[:, 0] < t).mean())
        objective = (answerable_f1 + abstained) / 2
        if best is None or objective > best[0]:
            best = (objective, t, answerable_f1, abstained, float((pos[:, 0] < t).mean()))
    objective, t, answerable_f1, abstained, lost = best
    print(f"{args.reader} on {args.file.name}: {len(pos)} answerable + {len(neg)} unanswerable pairs")
    print(f"  always answering: F1 {100 * pos[:, 1].mean():.1f}")
    print(
        f"  best threshold {t:.2f}: answerable F1 {100 * answerable_f1:.1f} (abstains on {100 * lost:.0f}%), "
        f"unanswerable abstained {100 * abstained:.0f}%, objective {100 * objective:.1f}"
    )


if __name__ == "__main__":
    main()
