"""Hybrid retrieval: BM25 and dense scores fused, each usable alone."""

import pytest

from rag.errors import UsageError
from rag.index.build import update_index
from rag.index.lexical import title_of
from rag.retrieval.retriever import Retriever

DOCS = {
    "parts/catalogue.txt": "Part XR-7731 is a titanium flange rated for 40 bar. It ships in boxes of ten.",
    "garden.md": "Tomatoes need full sun and regular watering. Basil grows well beside them.",
    "travel.txt": "The night train from Vienna reaches Venice at dawn, crossing the Alps.",
    "Lighthouse_keepers.txt": "Keepers trimmed the wick every four hours through the night.",
}


@pytest.fixture
def index(tmp_path, embedder):
    docs = tmp_path / "docs"
    for name, text in DOCS.items():
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text(text, encoding="utf-8")
    built, _ = update_index(docs, tmp_path / "ix", embedder)
    return built


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_each_mode_ranks_the_obvious_passage_first(index, embedder, mode):
    retriever = Retriever(index, embedder, mode)
    assert retriever.search("How do you grow tomatoes?", 2)[0].source == "garden.md"
    assert retriever.search("Which part number is the titanium flange?", 1)[0].source == "parts/catalogue.txt"


def test_rare_exact_term_is_found_by_bm25_and_hybrid(index, embedder):
    for mode in ("bm25", "hybrid"):
        assert Retriever(index, embedder, mode).search("XR-7731", 1)[0].source == "parts/catalogue.txt"


def test_paraphrase_is_found_by_dense_and_hybrid(index, embedder):
    question = "Which railway service links two cities overnight through the mountains?"
    for mode in ("dense", "hybrid"):
        assert Retriever(index, embedder, mode).search(question, 1)[0].source == "travel.txt"


def test_file_name_is_a_title_field_for_bm25(index, embedder):
    assert title_of("Lighthouse_keepers.txt") == "Lighthouse keepers"
    hits = Retriever(index, embedder, "bm25").search("lighthouse", 1)
    assert hits[0].source == "Lighthouse_keepers.txt"  # the word is only in the file name


def test_scores_are_sorted_and_k_is_respected(index, embedder):
    hits = Retriever(index, embedder).search("night", 10)
    assert len(hits) == len(DOCS)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert Retriever(index, embedder, "bm25").search("qqqzzz unknownword", 2)  # no vocabulary match: still ranked


def test_unknown_mode_is_a_usage_error(index, embedder):
    with pytest.raises(UsageError, match="retriever"):
        Retriever(index, embedder, "magic")
