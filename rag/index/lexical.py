"""BM25 over the chunks (bm25s, English stop words, Snowball stemmer).

Dense embeddings miss rare names and numbers that the question repeats word for word;
BM25 catches exactly those, so the retriever fuses the two.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path

import bm25s
import bm25s.stopwords
import numpy as np
import Stemmer

K1, B = 0.7, 0.4  # tuned with eval/tune_retrieval.py --k1 --b on training questions (QED, amazon, reddit)
KIND = f"bm25s-lucene-k{K1}-b{B}-english-snowball-stop2"
# Lucene's 33 English stop words, plus the question and auxiliary words every question has.
STOPWORDS = sorted(
    set(bm25s.stopwords.STOPWORDS_EN)
    | set(
        "who whom whose what which when where why how do does did done has have had were been being "
        "from its his her hers he she him we us you your i me my our can could would should might "
        "must shall about than also only some any many much most more very so".split()
    )
)
logging.getLogger("bm25s").setLevel(logging.ERROR)


@lru_cache(maxsize=1)
def stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def tokenize(texts: list[str]) -> list[list[str]]:
    return bm25s.tokenize(texts, stopwords=STOPWORDS, stemmer=stemmer(), return_ids=False, show_progress=False)


def title_of(source: str) -> str:
    """A document's name as words ("010-Super_Bowl_50/0003.txt" -> "Super Bowl 50"), a free title field."""
    parts = [re.sub(r"^\d+[-_ ]*", "", p) for p in Path(source).with_suffix("").parts]
    return " ".join(re.sub(r"[-_.]+", " ", p) for p in parts).strip()


class Bm25:
    """A BM25 index whose row ``i`` is chunk ``i`` of the dense index."""

    def __init__(self, model: bm25s.BM25, size: int) -> None:
        self.model, self.size = model, size
        self.term_max = _term_maxima(model) if size else np.zeros(0, dtype=np.float32)

    @classmethod
    def build(cls, texts: list[str], k1: float = K1, b: float = B) -> Bm25:
        model = bm25s.BM25(k1=k1, b=b, method="lucene")
        if texts:
            model.index(tokenize(texts), show_progress=False)
        return cls(model, len(texts))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every row for ``query`` divided by the best score the query could reach.

        The bound is the sum, over the query's words, of the highest score each word gets in any
        row (a word the corpus lacks counts as the rarest word). So 1.0 means every question word
        matched as strongly as anywhere, and a passage that matches only a common word scores
        near 0 even when nothing matches better. Zeros when no query word is in the vocabulary.
        """
        if self.size == 0:
            return np.zeros(0, dtype=np.float32)
        vocab = self.model.vocab_dict
        words = tokenize([query])[0]
        ids = [vocab[t] for t in words if t in vocab]
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        bound = float(self.term_max[ids].sum()) + (len(words) - len(ids)) * float(self.term_max.max())
        raw = np.asarray(self.model.get_scores(ids), dtype=np.float32)
        return raw / bound if bound > 0 else raw

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self.size:
            self.model.save(str(folder), show_progress=False)
        (folder / "size").write_text(str(self.size))

    @classmethod
    def load(cls, folder: Path) -> Bm25:
        size = int((folder / "size").read_text())
        if size == 0:
            return cls(bm25s.BM25(), 0)
        return cls(bm25s.BM25.load(str(folder), show_progress=False), size)


def _term_maxima(model: bm25s.BM25) -> np.ndarray:
    """The highest score each vocabulary word reaches in any row (the index is column-per-word CSC)."""
    data, indptr = model.scores["data"], model.scores["indptr"]
    out = np.zeros(len(indptr) - 1, dtype=np.float32)
    filled = np.diff(indptr) > 0
    out[filled] = np.maximum.reduceat(data, indptr[:-1][filled])
    return out
