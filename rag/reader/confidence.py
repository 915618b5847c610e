"""What a reader's score means to a person: the *high* / *medium* / *low* confidence label.

A score is not the probability that the answer is right, so a label is only honest if it was
measured. A reader folder may carry cut-offs set on held-out training questions
(``rag_reader.json`` -> ``"confidence": {"high": s, "medium": s}``, written by
``eval/calibrate_confidence.py --write``): *high* from the lowest score above which, on that held-out set,
at least ``HIGH_PRECISION`` of the answers given were exactly right (negatives answered count as
wrong), *medium* likewise for ``MEDIUM_PRECISION``. A reader without them (the rule-based one, an
outside checkpoint) falls back to a rule on its own scale: log-odds above its abstention threshold,
*high* from e^6 (about 400 times the threshold's odds), *medium* from e^3 (20 times).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

HIGH_PRECISION = 0.90  # held-out target; the benchmark promise is 85% exactly right among "high"
MEDIUM_PRECISION = 0.65
LOG_ODDS_STEPS = ((6.0, "high"), (3.0, "medium"))


def log_odds(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def label(score: float, threshold: float, cutoffs: Mapping[str, float] | None = None) -> str:
    """``high``, ``medium`` or ``low`` for an answer of ``score`` from a reader abstaining below ``threshold``."""
    if cutoffs is not None:  # measured: a level no score reached is never given
        return next((name for name in ("high", "medium") if name in cutoffs and score >= cutoffs[name]), "low")
    margin = log_odds(score) - log_odds(threshold)
    return next((name for step, name in LOG_ODDS_STEPS if margin >= step), "low")


def cutoff(answers: Sequence[tuple[float, bool]], precision: float, min_answers: int = 30) -> float | None:
    """The lowest score such that, of the held-out ``(score, right)`` answers at or above it, at least
    ``precision`` are right (and at least ``min_answers`` of them, so that a handful of lucky top
    answers does not set it); None when no score reaches it."""
    ranked = sorted(answers, key=lambda a: -a[0])
    best, right = None, 0
    for n, (score, ok) in enumerate(ranked, 1):
        right += ok
        if n >= min_answers and right / n >= precision and (n == len(ranked) or ranked[n][0] < score):
            best = score
    return best
