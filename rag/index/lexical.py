"""BM25 over the chunks (bm25s, English stop words, Snowball stemmer).

Dense embeddings miss rare names and numbers that the question repeats word for word;
BM25 catches exactly those, so the retriever fuses the two.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
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
        builder = Bm25Builder(k1, b)
        builder.add(texts)
        return builder.finish()

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


class Bm25Builder:
    """Builds a ``Bm25`` from texts added a batch at a time, so an index of any size never holds its
    texts or token lists: only each row's distinct words and their counts, as (row, word, count) triples
    of int32, kept in memory or, given a ``scratch`` file, written there (then memory holds the vocabulary
    alone until ``finish``, which needs 8 bytes per triple for the index itself).

    Scores are Lucene's BM25, as bm25s computes them (``tests/test_lexical.py`` checks the formula):
    ``idf * tf / (tf + k1 * (1 - b + b * len / avg_len))`` with ``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``,
    stored as bm25s's word-by-row sparse matrix (column per word), so querying is bm25s's own.
    """

    READ_TRIPLES = 1 << 20  # triples read back from the scratch file at once

    def __init__(self, k1: float = K1, b: float = B, scratch: Path | None = None) -> None:
        self.k1, self.b, self.scratch = k1, b, scratch
        self.vocab: dict[str, int] = {}
        self.lengths = np.zeros(1024, dtype=np.int32)  # words per row (after stop words); grown by doubling
        self.blocks: list[np.ndarray] = []  # (n, 3) triples per batch, when there is no scratch file
        self.size = 0
        self._file = open(scratch, "wb") if scratch is not None else None  # noqa: SIM115 - closed in finish

    def add(self, texts: list[str]) -> None:
        """Tokenise and count the words of the next rows."""
        triples = []
        while len(self.lengths) < self.size + len(texts):
            self.lengths = np.concatenate([self.lengths, np.zeros_like(self.lengths)])
        for i, tokens in enumerate(tokenize(texts) if texts else []):
            ids = np.fromiter((self.vocab.setdefault(t, len(self.vocab)) for t in tokens), np.int32, len(tokens))
            unique, n = np.unique(ids, return_counts=True)
            triples.append(np.column_stack([np.full(len(unique), self.size + i, dtype=np.int32), unique, n]))
            self.lengths[self.size + i] = len(tokens)
        self.size += len(texts)
        block = np.concatenate(triples).astype(np.int32) if triples else np.zeros((0, 3), dtype=np.int32)
        if not len(block):
            return
        if self._file is not None:
            self._file.write(block.tobytes())
        else:
            self.blocks.append(block)

    def _triples(self) -> Iterator[np.ndarray]:
        """The (row, word, count) triples in the order they were added, a block at a time."""
        if self._file is None:
            yield from self.blocks
            return
        self._file.close()
        with open(self.scratch, "rb") as f:  # type: ignore[arg-type]
            while data := f.read(self.READ_TRIPLES * 12):
                yield np.frombuffer(data, dtype=np.int32).reshape(-1, 3)

    def finish(self) -> Bm25:
        """The index: one pass over the triples to count each word's rows, one to place each score
        straight into its word's column (rows ascending within a column, as bm25s stores them)."""
        model = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
        if self.size == 0:
            self._discard()
            return Bm25(model, 0)
        lengths = self.lengths[: self.size].astype(np.float32)
        n_words = len(self.vocab)
        df = np.zeros(n_words, dtype=np.int64)
        for block in self._triples():
            df += np.bincount(block[:, 1], minlength=n_words)
        idf = np.log(1 + (self.size - df + 0.5) / (df + 0.5)).astype(np.float32)
        norm = (self.k1 * (1 - self.b + self.b * lengths / max(float(lengths.mean()), 1e-9))).astype(np.float32)
        indptr = np.zeros(n_words + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        data = np.empty(int(indptr[-1]), dtype=np.float32)
        indices = np.empty(int(indptr[-1]), dtype=np.int32)
        filled = indptr[:-1].copy()  # next free slot of each column
        for block in self._triples():
            order = np.argsort(block[:, 1], kind="stable")
            rows, words, tf = block[order, 0], block[order, 1], block[order, 2].astype(np.float32)
            starts = np.flatnonzero(np.r_[True, words[1:] != words[:-1]])
            runs = np.diff(np.r_[starts, len(words)])
            slots = filled[words] + np.arange(len(words)) - np.repeat(starts, runs)
            data[slots], indices[slots] = idf[words] * tf / (tf + norm[rows]), rows
            filled[words[starts]] += runs
        self._discard()
        model.scores = {"data": data, "indices": indices, "indptr": indptr, "num_docs": self.size}
        model.vocab_dict = self.vocab
        model.unique_token_ids_set = set(self.vocab.values())
        model.nonoccurrence_array = None  # only BM25L and BM25+ have one
        return Bm25(model, self.size)

    def _discard(self) -> None:
        self.blocks = []
        if self._file is not None:
            self._file.close()
            self.scratch.unlink(missing_ok=True)  # type: ignore[union-attr]


def _term_maxima(model: bm25s.BM25) -> np.ndarray:
    """The highest score each vocabulary word reaches in any row (the index is column-per-word CSC)."""
    data, indptr = model.scores["data"], model.scores["indptr"]
    out = np.zeros(len(indptr) - 1, dtype=np.float32)
    filled = np.diff(indptr) > 0
    out[filled] = np.maximum.reduceat(data, indptr[:-1][filled])
    return out
