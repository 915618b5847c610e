"""The SQuAD metrics on hand-worked examples and the official script's edge cases."""

import pytest

from rag.eval.metrics import (
    abstention_summary,
    contains_answer,
    exact_match,
    f1,
    first_hit_rank,
    normalize_answer,
    percentiles_ms,
    retrieval_summary,
    score_answer,
)


@pytest.mark.parametrize(
    "raw, normal",
    [
        ("The Cat!", "cat"),
        ("  an   Apple,  a day ", "apple day"),
        ("3.14", "314"),  # the official script drops '.' inside numbers too
        ("Theory of the Leisure Class", "theory of leisure class"),
        ("them", "them"),  # articles are whole words only
        ("", ""),
        ("¡Olé!", "¡olé"),  # only ASCII punctuation is dropped, as in the official script
    ],
)
def test_normalize_answer(raw, normal):
    assert normalize_answer(raw) == normal


def test_exact_match_and_f1_hand_worked():
    assert exact_match("the Denver Broncos", "Denver Broncos") == 1.0
    assert exact_match("Broncos", "Denver Broncos") == 0.0
    assert f1("the cat sat", "cat sat on mat") == pytest.approx(2 * 1.0 * 0.5 / 1.5)  # P=1, R=0.5
    assert f1("x x y", "x y y") == pytest.approx(2 / 3)  # token bags: 2 in common of 3 each
    assert f1("3.14", "314") == 1.0
    assert f1("", "cat") == 0.0 and exact_match("", "cat") == 0.0
    assert f1("the", "a") == 0.0  # both normalise to nothing: no tokens in common


def test_max_over_several_gold_answers():
    em, score = score_answer("Denver", ["Denver Broncos", "Broncos", "Denver"], unanswerable=False)
    assert em == 1.0 and score == 1.0
    em, score = score_answer("the Broncos team", ["Denver Broncos", "Carolina"], unanswerable=False)
    assert em == 0.0 and score == pytest.approx(2 * 0.5 * 0.5 / 1.0)


def test_unanswerable_accounting():
    assert score_answer(None, [], unanswerable=True) == (1.0, 1.0)  # abstaining is right
    assert score_answer("OpenAI", [], unanswerable=True) == (0.0, 0.0)  # any answer is wrong
    assert score_answer(None, ["CoreWeave"], unanswerable=False) == (0.0, 0.0)  # abstaining costs
    summary = abstention_summary(abstained=[True, True, False, False], unanswerable=[True, False, True, False])
    assert summary["abstention_precision"] == 0.5 and summary["abstention_recall"] == 0.5
    assert summary["abstained_answerable_share"] == 0.5
    assert abstention_summary([False], [False])["abstention_precision"] is None


def test_retrieval_metrics():
    assert contains_answer("It was CoreWeave, a provider.", ["coreweave"])
    assert not contains_answer("CoreWeaver", ["CoreWeave"])  # whole tokens only
    assert first_hit_rank([False, True, True]) == 2 and first_hit_rank([False]) is None
    summary = retrieval_summary([1, 3, None, 6], ks=(1, 5))
    assert summary["recall@1"] == 0.25 and summary["recall@5"] == 0.5
    assert summary["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 6) / 4)


def test_percentiles():
    out = percentiles_ms([0.1] * 19 + [1.0])
    assert out["p50_ms"] == 100.0 and out["p95_ms"] == pytest.approx(145.0)


def test_label_table_counts_exact_answers_per_confidence_label():
    from rag.eval.metrics import label_table

    table = label_table([(0.999, 1.0), (0.999, 0.0), (0.5, 1.0)], 0.07, {"medium": 0.99})
    assert table["medium"] == {"answers": 2, "exact_pct": 50.0} and table["low"] == {"answers": 1, "exact_pct": 100.0}
    assert table["high"] == {"answers": 0, "exact_pct": None}
