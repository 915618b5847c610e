"""Decoding the neural reader's candidates: answer type, length, retrieval score, aggregation, graphemes."""

from __future__ import annotations

import pytest

from rag.reader.answer_types import expected_types
from rag.reader.decoding import Candidate, Decoding, grapheme_span
from rag.types import Passage

TEXT = "Acme hired Maria Lopez in 1990. The plant is in Lyon and makes 40 anvils a day."
P = Passage("d.txt", 100, 100 + len(TEXT), TEXT, 0.5)
ENTS = ((11, 22, "PERSON"), (26, 30, "DATE"), (48, 52, "GPE"), (63, 65, "CARDINAL"))


def cand(text: str, margin: float, passage: int = 0, in_text: str = TEXT) -> Candidate:
    start = in_text.index(text)
    return Candidate(passage, start, start + len(text), margin)


def best(d: Decoding, question: str, cands: list[Candidate], passages=(P,)) -> str:
    top = d.rank(question, list(passages), cands, lambda _: ENTS)[0]
    return passages[top.context].text[top.start : top.end]


def test_off_by_default_the_best_margin_wins_and_locations_are_not_repeated():
    cands = [cand("Acme", 2.0), cand("Maria Lopez", 1.0), cand("Acme", 1.5)]
    ranked = Decoding().rank("Who was hired?", [P], cands, lambda _: ENTS)
    assert [TEXT[c.start : c.end] for c in ranked] == ["Acme", "Maria Lopez"] and ranked[0].margin == 2.0


@pytest.mark.parametrize(
    "question, expected",
    [("Who was hired?", "Maria Lopez"), ("When was she hired?", "1990"), ("How many anvils a day?", "40")],
)
def test_type_bonus_prefers_the_kind_of_answer_asked_for(question, expected):
    cands = [cand("Acme hired", 1.0), cand(expected, 0.5)]
    assert best(Decoding(), question, cands) == "Acme hired"
    assert best(Decoding(type_bonus=1.0), question, cands) == expected


def test_type_bonus_does_nothing_when_the_question_names_no_kind():
    assert expected_types("What does the plant make?") == frozenset()
    cands = [cand("anvils", 1.0), cand("Lyon", 0.9)]
    assert best(Decoding(type_bonus=5.0), "What does the plant make?", cands) == "anvils"


def test_length_penalty_per_extra_word():
    cands = [cand("Maria Lopez in 1990", 1.0), cand("Maria Lopez", 0.9)]
    assert best(Decoding(), "Who?", cands) == "Maria Lopez in 1990"
    ranked = Decoding(length_penalty=0.1).rank("Who?", [P], cands, lambda _: ())
    assert TEXT[ranked[0].start : ranked[0].end] == "Maria Lopez" and ranked[1].margin == pytest.approx(0.7)


def test_retrieval_weight_adds_the_passage_score():
    other = Passage("e.txt", 0, len(TEXT), TEXT, 0.9)
    cands = [cand("Acme", 1.0, 0), cand("Lyon", 0.9, 1)]
    assert best(Decoding(), "Where?", cands, (P, other)) == "Acme"
    assert best(Decoding(retrieval_weight=1.0), "Where?", cands, (P, other)) == "Lyon"


def test_aggregation_adds_up_the_same_answer_found_twice():
    second = "Lopez leads. Maria Lopez again."
    q = Passage("e.txt", 0, len(second), second, 0.5)
    cands = [cand("Acme", 1.0, 0), cand("Maria Lopez", 0.6, 0), Candidate(1, 13, 24, 0.6)]
    assert best(Decoding(), "Who?", cands, (P, q)) == "Acme"
    ranked = Decoding(aggregate=True).rank("Who?", [P, q], cands, lambda _: ())
    assert ranked[0].margin == pytest.approx(0.6 + 0.6931, abs=1e-3) and len(ranked) == 2


@pytest.mark.parametrize(
    "text, start, end, expected",
    [
        ("Cafe\u0301 Noir opens", 0, 4, (0, 5)),  # a combining accent stays with its letter
        ("We met \U0001f469\u200d\U0001f4bb today", 7, 8, (7, 10)),  # a ZWJ emoji is one cluster
        ("We met \U0001f469\u200d\U0001f4bb today", 8, 9, (7, 10)),
        ("plain text", 0, 5, (0, 5)),
    ],
)
def test_spans_never_cut_a_grapheme_cluster(text, start, end, expected):
    assert grapheme_span(text, start, end) == expected


def test_decoding_settings_come_from_the_model_folder():
    d = Decoding.from_settings({"decoding": {"type_bonus": 1, "aggregate": True, "unknown": 3}})
    assert d == Decoding(type_bonus=1.0, aggregate=True) and Decoding.from_settings({}) == Decoding()


def test_line_break_penalty_keeps_spans_on_their_line():
    text = "Default: 50\nMaximum: 100"
    p = Passage("m.txt", 0, len(text), text, 1.0)
    cands = [Candidate(0, 9, len(text), 1.0), Candidate(0, 9, 11, 0.8)]
    assert best(Decoding(boundaries=False), "What is the default?", cands, (p,)) == "50\nMaximum: 100"
    assert best(Decoding(line_break_penalty=2.0, boundaries=False), "What is the default?", cands, (p,)) == "50"
    assert best(Decoding(), "What is the default?", cands, (p,)) == "50"  # the next line is a label
