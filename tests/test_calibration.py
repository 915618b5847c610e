"""The abstention threshold: calibrate() maximises answerable F1 (abstaining scores 0) plus the share
of negatives abstained on, exactly as trying every threshold would."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rag.training.heldout import calibrate


def brute_force(pos: list[tuple[float, float]], neg: list[float]) -> tuple[float, float]:
    best_t, best_v = 0.0, -1.0
    for t in sorted({0.0, *(s for _, s in pos), *neg}):
        v = sum(f for f, s in pos if s >= t) / max(1, len(pos)) + sum(s < t for s in neg) / max(1, len(neg))
        if v > best_v:
            best_t, best_v = t, v
    return round(best_t, 4), round(best_v, 4)


def test_a_hand_made_case():
    pos = [(1.0, 0.9), (1.0, 0.8), (0.0, 0.3)]  # two right answers scored high, a wrong one low
    neg = [0.2, 0.4, 0.85]
    got = calibrate(pos, neg)
    assert got["threshold"] == 0.8  # keeps both right answers, abstains on 2 of 3 negatives
    assert got["objective"] == round(2 / 3 + 2 / 3, 4)
    assert got["false_abstention_rate"] == round(1 / 3, 4) and got["negative_abstention_rate"] == round(2 / 3, 4)


scores = st.floats(0, 1, allow_nan=False).map(lambda x: round(x, 2))


@given(st.lists(st.tuples(st.sampled_from([0.0, 0.5, 1.0]), scores), max_size=40), st.lists(scores, max_size=40))
def test_the_sorted_sweep_matches_trying_every_threshold(pos, neg):
    got = calibrate(pos, neg)
    assert (got["threshold"], got["objective"]) == brute_force(pos, neg)


def test_a_share_of_negatives_to_abstain_on_gives_the_lowest_such_threshold():
    pos = [(1.0, 0.9), (1.0, 0.5), (1.0, 0.3), (0.0, 0.2)]
    neg = [0.1, 0.2, 0.25, 0.6]
    got = calibrate(pos, neg, min_negative_abstention=0.75)
    assert got["threshold"] == 0.3 and got["negative_abstention_rate"] == 0.75  # 0.1, 0.2, 0.25 abstained
    assert got["false_abstention_rate"] == 0.25 and got["rule"] == "abstain on >= 75% of negatives"
    assert calibrate(pos, neg)["rule"] == "objective"
