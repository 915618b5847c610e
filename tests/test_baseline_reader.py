"""The rule-based reader's span rules, directly, with a word-count embedder standing in for MiniLM
(the sentence ranking's embedding half is not what these tests are about; spaCy's parse is)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from rag.reader.answer_types import AMOUNTS, PEOPLE_AND_GROUPS, PLACES, TIMES, expected_types
from rag.reader.baseline import BaselineReader
from rag.types import Passage


class WordEmbedder:
    """Normalised bag-of-words vectors: similar wording, similar vector; no model to load."""

    name, dim = "stub-words", 256

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, zlib.crc32(word.strip(".,?!").encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)


TEXT = (
    "The museum opened its new wing last spring. "
    "The harbour master of Port Elira is Anna Kowalska, who took the post in March 2019. "
    "The renovation of the harbour cost $4.5 million and was paid for by the city of Gdansk."
)


@pytest.fixture(scope="module")
def reader() -> BaselineReader:
    return BaselineReader(embedder=WordEmbedder())


def passage(text: str = TEXT, start: int = 1000) -> Passage:
    return Passage("notes.txt", start, start + len(text), text, 0.9)


@pytest.mark.parametrize(
    "question, answer",
    [
        ("Who is the harbour master of Port Elira?", "Anna Kowalska"),
        ("When did the harbour master take the post?", "March 2019"),
        ("How much did the renovation of the harbour cost?", "$4.5 million"),
    ],
)
def test_the_span_is_of_the_kind_the_question_asks_for(reader, question, answer):
    got = reader.read(question, [passage()])
    assert got is not None and got.text == answer


def test_offsets_are_exact_in_the_document(reader):
    p = passage(start=1000)
    got = reader.read("Who is the harbour master of Port Elira?", [p])
    document = " " * 1000 + TEXT
    assert got is not None and document[got.start : got.end] == got.text and got.passage is p
    assert 0.0 <= got.score <= 1.0


def test_a_name_the_question_already_gives_is_not_the_answer(reader):
    got = reader.read("Who appointed Anna Kowalska as harbour master of Port Elira?", [passage()])
    assert got is None or "Anna Kowalska" not in got.text


def test_the_sentence_that_shares_the_question_words_wins(reader):
    other = "John Smith sells fish at the market every morning."
    got = reader.read("Who is the harbour master of Port Elira?", [passage(other, 0), passage(start=500)])
    assert got is not None and got.text == "Anna Kowalska" and got.source == "notes.txt" and got.start > 500


def test_nothing_to_answer_with_is_none_or_below_the_threshold(reader):
    assert reader.read("Who is the harbour master?", []) is None
    got = reader.read("How much did the bridge cost?", [passage("the sea is calm and grey today.", 0)])
    assert got is None or got.score < reader.threshold  # the pipeline abstains below it


@pytest.mark.parametrize(
    "question, kinds",
    [
        ("who supplies GPUs in the deal?", PEOPLE_AND_GROUPS),
        ("when did the deal close?", TIMES),
        ("how much did it cost?", AMOUNTS),
        ("where is the harbour?", PLACES | {"ORG"}),  # a place, or an organisation's site
        ("which company supplies GPUs?", {"ORG"}),
        ("what year did it open?", TIMES),
    ],
)
def test_the_kind_of_answer_a_question_asks_for(question, kinds):
    assert expected_types(question) == kinds


@pytest.mark.slow
def test_the_rule_based_reader_never_imports_torch():
    """spaCy's thinc would import torch (#23: half a second and 150 MiB of a cold start); torch stays
    importable afterwards for whoever needs it."""
    import subprocess
    import sys

    from .conftest import ROOT

    subprocess.run([sys.executable, "-c", "from rag.index.embedding import load_embedder; load_embedder()"],
                   cwd=ROOT, check=True)  # fmt: skip  # the ONNX export (made with torch) exists first
    code = (
        "import sys; from rag.reader import load_reader; from rag.types import Passage\n"
        "t = 'The ferry to Corrie Bay is run by Amina Juma.'\n"
        "a = load_reader('baseline').read('who runs the ferry?', [Passage('a.txt', 0, len(t), t, 1.0)])\n"
        "print(a is not None, 'torch' in sys.modules)\n"
        "import torch; print(bool(torch.__version__))"
    )
    shown = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert shown.stdout.split() == ["True", "False", "True"]
