"""Confidence labels: measured cut-offs when the reader has them, log-odds above the threshold otherwise."""

from __future__ import annotations

from rag.reader.confidence import cutoff, label


def test_measured_cutoffs_decide_the_label():
    cutoffs = {"high": 0.9, "medium": 0.5}
    assert [label(s, 0.05, cutoffs) for s in (0.95, 0.9, 0.6, 0.2)] == ["high", "high", "medium", "low"]


def test_without_cutoffs_the_label_is_log_odds_above_the_threshold():
    assert label(0.97, 0.05) == "high" and label(0.6, 0.05) == "medium" and label(0.1, 0.05) == "low"


def test_cutoff_is_the_lowest_score_keeping_the_precision():
    # 40 right answers at high scores, then wrong ones interleaved lower down
    answers = [(0.99 - i * 0.001, True) for i in range(40)] + [(0.5, False), (0.45, True), (0.4, False)]
    assert cutoff(answers, 0.96) == 0.45  # 41 of 42 right at >= 0.45; down to 0.4 it is 41 of 43 (95.3%)
    assert cutoff(answers, 0.95) == 0.4
    assert cutoff(answers, 0.99) == 0.99 - 39 * 0.001
    assert cutoff(answers[:10], 0.5) is None  # too few answers to set a cut-off
    assert cutoff([(0.9, False)] * 50, 0.5) is None


def test_a_level_no_score_reached_on_held_out_data_is_never_given():
    assert label(0.999, 0.05, {"medium": 0.8}) == "medium" and label(0.999, 0.05, {}) == "low"
