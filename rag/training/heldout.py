"""Held-out evaluation of the neural reader and calibration of its abstention threshold.

Each held-out question is read over its own context (all windows) and over built negatives: a
similar paragraph without its answer, (where one can be built) its own paragraph without the
answer sentence, and the question with a name or number swapped (``data.swapped_negatives``).
The threshold maximises answerable F1 (an abstention scores 0) plus the share of negatives
abstained on, both in [0, 1], so neither side dominates.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence

from rag.eval.metrics import best_over_golds, exact_match, f1
from rag.reader.neural import predict
from rag.reader.windows import encode
from rag.training import data


def best(model, tokenizer, e: data.Example, cfg, bf16: bool = False) -> tuple[str, float]:
    windows = encode(tokenizer, e.question, [e.context], cfg.infer_max_length, cfg.infer_stride)
    spans = predict(model, windows, cfg.max_answer_tokens, 1, bf16)
    return (e.context[spans[0].start : spans[0].end], spans[0].score) if spans else ("", 0.0)


def calibrate(
    pos: Sequence[tuple[float, float]], neg: Sequence[float], min_negative_abstention: float | None = None
) -> dict:
    """The abstention threshold from (F1, score) of answerable questions and scores of negatives.

    By default the threshold maximising mean answerable F1 (abstain = 0) plus the abstention rate
    on negatives. With ``min_negative_abstention`` (e.g. 0.75), the lowest threshold that abstains
    on at least that share of the negatives: the fewest refused answers for that much abstention
    (the product's targets: refuse few answerable questions, abstain on most unanswerable ones)."""
    candidates = sorted({0.0, *(s for _, s in pos), *neg})
    by_score = sorted(pos, key=lambda p: p[1])
    pos_scores, neg_scores = [s for _, s in by_score], sorted(neg)
    kept_f1 = list(itertools.accumulate(reversed([f for f, _ in by_score]), initial=0.0))[::-1]  # F1 from i on
    best_t, best_v = 0.0, -1.0
    for t in candidates:  # sorted sweep: O(n log n), the same choice as trying every threshold in full
        kept = kept_f1[bisect.bisect_left(pos_scores, t)]
        abstained = bisect.bisect_left(neg_scores, t) / max(1, len(neg))
        v = kept / max(1, len(pos)) + abstained
        if min_negative_abstention is not None:
            if abstained >= min_negative_abstention:
                best_t, best_v = t, v
                break
        elif v > best_v:
            best_t, best_v = t, v
    return {
        "threshold": round(best_t, 4),
        "rule": "objective"
        if min_negative_abstention is None
        else f"abstain on >= {min_negative_abstention:.0%} of negatives",
        "objective": round(best_v, 4),
        "answerable_f1_with_abstention": round(100 * sum(f for f, s in pos if s >= best_t) / max(1, len(pos)), 2),
        "false_abstention_rate": round(sum(s < best_t for _, s in pos) / max(1, len(pos)), 4),
        "negative_abstention_rate": round(sum(s < best_t for s in neg) / max(1, len(neg)), 4),
    }


def heldout(model, tokenizer, examples: Sequence[data.Example], cfg, bf16: bool = False) -> dict:
    """EM/F1 (no abstention), per file, and the calibrated threshold."""
    negatives = data.negatives(examples, 1.0, cfg.seed + 1)
    near_misses = data.deleted_negatives(examples, 1.0, cfg.seed + 2)
    swapped = data.swapped_negatives(examples, 1.0, cfg.seed + 3)
    pos, per_file = [], {}
    for e in examples:
        text, score = best(model, tokenizer, e, cfg, bf16)
        em, f = best_over_golds(exact_match, text, e.answers), best_over_golds(f1, text, e.answers)
        pos.append((f, score))
        per_file.setdefault(e.source, []).append((em, f))
    other = [best(model, tokenizer, e, cfg, bf16)[1] for e in negatives]
    deleted = [best(model, tokenizer, e, cfg, bf16)[1] for e in near_misses]
    look_alike = [best(model, tokenizer, e, cfg, bf16)[1] for e in swapped]
    neg = other + deleted + look_alike
    ems = [em for v in per_file.values() for em, _ in v]
    out = {
        "questions": len(pos),
        "negatives": len(neg),
        "em": round(100 * sum(ems) / max(1, len(ems)), 2),
        "f1": round(100 * sum(f for f, _ in pos) / max(1, len(pos)), 2),
        "per_file": {
            k: {
                "n": len(v),
                "em": round(100 * sum(a for a, _ in v) / len(v), 2),
                "f1": round(100 * sum(b for _, b in v) / len(v), 2),
            }
            for k, v in per_file.items()
        },  # fmt: skip
    }
    out.update(calibrate(pos, neg, getattr(cfg, "min_negative_abstention", None) or None))
    t = out["threshold"]
    out["near_miss_negatives"] = len(deleted)
    out["near_miss_abstention_rate"] = round(sum(s < t for s in deleted) / max(1, len(deleted)), 4)
    out["swapped_negatives"] = len(look_alike)
    out["swapped_abstention_rate"] = round(sum(s < t for s in look_alike) / max(1, len(look_alike)), 4)
    out["other_paragraph_abstention_rate"] = round(sum(s < t for s in other) / max(1, len(other)), 4)
    return out
