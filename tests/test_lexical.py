"""BM25 scoring, directly: the Lucene formula, the normalisation by the best reachable score, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rag.index.lexical import K1, B, Bm25, title_of, tokenize

DOCS = [
    "harbour master Tomasz Wren keeps the light",
    "harbour lighthouse keeper",
    "the keeper of the light is old",
    "a dog",
]


def lucene(docs: list[str], query: str) -> np.ndarray:
    """BM25 as Lucene scores it, by hand: idf = ln(1 + (N - df + 0.5) / (df + 0.5)), no (k1 + 1) factor."""
    toks = tokenize(docs)
    n, avgdl = len(toks), sum(map(len, toks)) / len(toks)
    out = []
    for doc in toks:
        score = 0.0
        for word in tokenize([query])[0]:
            tf, df = doc.count(word), sum(word in d for d in toks)
            if tf:
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                score += idf * tf / (tf + K1 * (1 - B + B * len(doc) / avgdl))
        out.append(score)
    return np.array(out)


def test_raw_scores_are_lucene_bm25():
    bm25 = Bm25.build(DOCS)
    words = tokenize(["harbour keeper light"])[0]
    raw = bm25.model.get_scores([bm25.model.vocab_dict[w] for w in words])
    assert np.allclose(raw, lucene(DOCS, "harbour keeper light"), rtol=1e-5)


def test_scores_are_divided_by_the_best_reachable_score():
    bm25 = Bm25.build(DOCS)
    query = "harbour keeper light"
    raw = lucene(DOCS, query)
    per_word = [lucene(DOCS, w).max() for w in ("harbour", "keeper", "light")]
    assert np.allclose(bm25.scores(query), raw / sum(per_word), rtol=1e-5)
    assert bm25.scores(query).max() < 1.0  # no row holds every word at its strongest


def test_a_row_with_every_word_at_its_strongest_scores_one():
    bm25 = Bm25.build(["harbour master", "harbour lighthouse", "keeper lighthouse"])  # equal lengths
    scores = bm25.scores("harbour master")
    assert scores[0] == pytest.approx(1.0) and 0.0 < scores[1] < 0.5 and scores[2] == 0.0


def test_an_unknown_word_counts_as_the_rarest_word():
    bm25 = Bm25.build(DOCS)
    known = bm25.scores("harbour")
    with_unknown = bm25.scores("harbour zebra")
    rarest = max(lucene(DOCS, w).max() for w in {t for d in tokenize(DOCS) for t in d})
    best_harbour = lucene(DOCS, "harbour").max()
    assert np.allclose(with_unknown, known * best_harbour / (best_harbour + rarest), rtol=1e-5)


@pytest.mark.parametrize("query", ["zebra giraffe", "who is the", ""])
def test_no_known_content_word_scores_zero_everywhere(query):
    scores = Bm25.build(DOCS).scores(query)
    assert scores.shape == (len(DOCS),) and not scores.any()


def test_an_empty_index_scores_nothing():
    assert Bm25.build([]).scores("harbour").shape == (0,)


def test_rows_without_a_content_word_score_zero():
    bm25 = Bm25.build(["", "the of and", "harbour"])
    assert bm25.size == 3 and list(bm25.scores("harbour")) == [0.0, 0.0, 1.0]
    assert not Bm25.build(["", "the"]).scores("harbour").any()


def test_save_and_load_keep_the_scores(tmp_path):
    bm25 = Bm25.build(DOCS)
    bm25.save(tmp_path / "bm25")
    again = Bm25.load(tmp_path / "bm25")
    assert again.size == len(DOCS) and np.allclose(again.scores("keeper light"), bm25.scores("keeper light"))


def test_title_of_turns_a_path_into_words():
    assert title_of("010-Super_Bowl_50/0003.txt") == "Super Bowl 50"
    assert title_of("openai-google-cloud-partnership.txt") == "openai google cloud partnership"
    assert title_of("010-Super_Bowl_50/notes.md") == "Super Bowl 50 notes"


@pytest.mark.parametrize("spill", [False, True])
def test_built_a_batch_at_a_time_it_scores_as_bm25s_own_index(tmp_path, spill):
    import random

    import bm25s

    from rag.index.lexical import Bm25Builder

    rng = random.Random(0)
    words = [f"w{i}" for i in range(300)]
    texts = [" ".join(rng.choices(words, k=rng.randint(1, 40))) for _ in range(500)]
    builder = Bm25Builder(scratch=tmp_path / "triples" if spill else None)
    for i in range(0, len(texts), 64):
        builder.add(texts[i : i + 64])
    mine = builder.finish()
    assert not (tmp_path / "triples").exists()  # the scratch file goes once the index is built
    reference = bm25s.BM25(k1=K1, b=B, method="lucene")
    reference.index(tokenize(texts), show_progress=False)
    for query in ("w1 w2 w3", "w299", "w10 w10 w200 w7"):
        ids = tokenize([query])[0]
        got = mine.model.get_scores([mine.model.vocab_dict[w] for w in ids])
        want = reference.get_scores([reference.vocab_dict[w] for w in ids])
        assert np.allclose(got, want, rtol=1e-5, atol=1e-6)
