"""Answer and retrieval metrics, with the official SQuAD v1.1 normalisation.

``normalize_answer``, ``exact_match`` and ``f1`` follow the official evaluation script
(lower-case, drop punctuation, drop a/an/the, collapse whitespace; token-bag F1; max over
gold answers). Abstention is scored the SQuAD 2.0 way: an unanswerable question scores 1 when
abstained and 0 otherwise, and an abstained answerable question scores 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from rag.text import normalize_answer


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction: str, gold: str) -> float:
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def best_over_golds(metric, prediction: str, golds: Sequence[str]) -> float:
    return max((metric(prediction, g) for g in golds), default=0.0)


def score_answer(prediction: str | None, golds: Sequence[str], unanswerable: bool) -> tuple[float, float]:
    """(EM, F1) in [0, 1] for one question; ``prediction`` None means the system abstained."""
    if unanswerable:
        hit = float(prediction is None)
        return hit, hit
    if prediction is None:
        return 0.0, 0.0
    return best_over_golds(exact_match, prediction, golds), best_over_golds(f1, prediction, golds)


def contains_answer(passage_text: str, golds: Sequence[str]) -> bool:
    """A retrieval hit: the passage contains a gold answer, both normalised."""
    text = f" {normalize_answer(passage_text)} "
    return any(n and f" {n} " in text for n in map(normalize_answer, golds))


def first_hit_rank(hits: Sequence[bool]) -> int | None:
    """1-based rank of the first hit, None when there is none."""
    return next((i + 1 for i, hit in enumerate(hits) if hit), None)


def retrieval_summary(ranks: Sequence[int | None], ks: Sequence[int]) -> dict[str, float]:
    """recall@k for each k and MRR (over all ranks given, so misses count as 0)."""
    n = len(ranks)
    if n == 0:
        return {**{f"recall@{k}": 0.0 for k in ks}, "mrr": 0.0}
    out = {f"recall@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in ks}
    out["mrr"] = sum(1.0 / r for r in ranks if r is not None) / n
    return out


def abstention_summary(abstained: Sequence[bool], unanswerable: Sequence[bool]) -> dict[str, float | None]:
    """Precision and recall of abstaining, taking 'unanswerable' as the positive class."""
    tp = sum(a and u for a, u in zip(abstained, unanswerable))
    n_abstained, n_unanswerable = sum(abstained), sum(unanswerable)
    return {
        "abstention_precision": tp / n_abstained if n_abstained else None,
        "abstention_recall": tp / n_unanswerable if n_unanswerable else None,
        "abstained_answerable_share": (n_abstained - tp) / (len(abstained) - n_unanswerable)
        if len(abstained) > n_unanswerable
        else None,
    }


def percentiles_ms(seconds: Sequence[float]) -> dict[str, float]:
    if not seconds:
        return {"p50_ms": 0.0, "p95_ms": 0.0}
    ms = np.asarray(seconds) * 1000.0
    return {"p50_ms": round(float(np.percentile(ms, 50)), 1), "p95_ms": round(float(np.percentile(ms, 95)), 1)}


def label_table(
    answers: Sequence[tuple[float, float]], threshold: float, cutoffs: dict[str, float] | None
) -> dict[str, dict[str, float]]:
    """How often an answer given with each confidence label (``rag.reader.confidence``) was exactly
    right, from (score, exact match) of the answers given: the check that a label means what it says."""
    from rag.reader.confidence import label

    table: dict[str, dict[str, float]] = {}
    for name in ("high", "medium", "low"):
        ems = [em for score, em in answers if label(score, threshold, cutoffs) == name]
        table[name] = {"answers": len(ems), "exact_pct": round(100 * sum(ems) / len(ems), 1) if ems else None}
    return table
