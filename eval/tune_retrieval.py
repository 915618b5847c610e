"""Compare and tune retrieval fusions on a SQuAD-format file used as an open corpus.

    python eval/tune_retrieval.py FILE [FILE ...] [--limit 2000] [--seed 0]

For each file: the paragraphs are indexed like any docs folder (cached under .cache/squad),
then every question is scored against every chunk by dense cosine and by BM25, and recall@k /
MRR of the question's own paragraph are printed for BM25 alone, dense alone, reciprocal rank
fusion, and the convex combination  alpha * bm25 + (1 - alpha) * cosine  over a grid of alpha,
with BM25 divided by the query's bound (as the retriever does) or by its best score. The index
embeds each chunk with its document's title in front (``rag.index.store.indexed_text``); with
``--untitled-dense`` the chunks are also embedded without it, for comparison.
Tune on training files only; the benchmark is for reporting.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.commands.evaluate import CACHE  # noqa: E402
from rag.eval.gold import load_squad, materialise_squad, sample  # noqa: E402
from rag.eval.metrics import first_hit_rank, retrieval_summary  # noqa: E402
from rag.index.lexical import Bm25  # noqa: E402
from rag.index.store import indexed_text  # noqa: E402
from rag.pipeline import Pipeline
from rag.settings import Settings  # noqa: E402

KS = (1, 5, 20)
ALPHAS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def paragraph_ranks(scores: np.ndarray, sources: list[str], golds: list[str], depth: int = 60) -> list[int | None]:
    """Rank of each question's gold paragraph among the distinct paragraphs of its top chunks."""
    ranks = []
    top = np.argpartition(-scores, min(depth, scores.shape[1] - 1), axis=1)[:, :depth]
    for row, gold in enumerate(golds):
        order = top[row][np.argsort(-scores[row, top[row]])]
        distinct = list(dict.fromkeys(sources[i] for i in order))[:20]
        ranks.append(first_hit_rank([s == gold for s in distinct]))
    return ranks


def rrf(a: np.ndarray, b: np.ndarray, k: int = 60) -> np.ndarray:
    ra = np.argsort(np.argsort(-a, axis=1), axis=1)
    rb = np.argsort(np.argsort(-b, axis=1), axis=1)
    return 1.0 / (k + ra + 1) + 1.0 / (k + rb + 1)


def report(name: str, ranks) -> None:
    s = retrieval_summary(ranks, KS)
    print(
        f"  {name:<28} R@1 {s['recall@1']:.3f}  R@5 {s['recall@5']:.3f}  R@20 {s['recall@20']:.3f}  MRR {s['mrr']:.3f}"
    )


def tune(path: Path, limit: int, seed: int, untitled_dense: bool = False, bm25_grid: tuple = ((), ())) -> None:
    items = [q for q in sample(load_squad(path), limit, seed)]
    docs = materialise_squad(path, CACHE)
    pipe = Pipeline(Settings(docs=docs, index=docs.parent / "index"))
    pipe.refresh()
    chunks = pipe.index.chunks
    sources = [c.source for c in chunks]
    vectors = pipe.index.vectors_of(0, len(chunks))
    golds = [q.source for q in items]
    queries = pipe.embedder.encode([q.question for q in items])
    dense = queries @ vectors.T
    print(f"{path.name}: {len(items)} questions, {len(chunks)} chunks")
    report("dense", paragraph_ranks(dense, sources, golds))
    for titled in (False, True):
        texts = [indexed_text(c) if titled else c.text for c in chunks]
        bm25 = Bm25.build(texts)
        lexical = np.stack([bm25.scores(q.question) for q in items])
        tag = "+title" if titled else ""
        report(f"bm25{tag}", paragraph_ranks(lexical, sources, golds))
        report(f"rrf{tag}", paragraph_ranks(rrf(lexical, dense), sources, golds))
        by_max = lexical / np.maximum(lexical.max(axis=1, keepdims=True), 1e-9)
        for alpha in ALPHAS:
            report(f"convex{tag} alpha={alpha}", paragraph_ranks(alpha * lexical + (1 - alpha) * dense, sources, golds))
            fused = alpha * by_max + (1 - alpha) * dense
            report(f"convex{tag} by-max alpha={alpha}", paragraph_ranks(fused, sources, golds))
    for k1 in bm25_grid[0]:
        for b in bm25_grid[1]:
            bm = Bm25.build([indexed_text(c) for c in chunks], k1=k1, b=b)
            grid = np.stack([bm.scores(q.question) for q in items])
            for alpha in (0.4, 0.5, 0.6):
                fused = alpha * grid + (1 - alpha) * dense
                report(f"convex+title k1={k1} b={b} alpha={alpha}", paragraph_ranks(fused, sources, golds))
    if untitled_dense:
        untitled = queries @ pipe.embedder.encode([c.text for c in chunks], progress=True).T
        report("dense untitled", paragraph_ranks(untitled, sources, golds))
        for alpha in ALPHAS:
            fused = alpha * lexical + (1 - alpha) * untitled
            report(f"convex+title dense untitled alpha={alpha}", paragraph_ranks(fused, sources, golds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--untitled-dense", action="store_true", help="also embed chunks without their title")
    parser.add_argument("--k1", type=float, nargs="*", default=[], help="BM25 k1 values to try in the fusion")
    parser.add_argument("--b", type=float, nargs="*", default=[], help="BM25 b values to try (with --k1)")
    args = parser.parse_args()
    for path in args.files:
        tune(path, args.limit, args.seed, args.untitled_dense, (args.k1, args.b))


if __name__ == "__main__":
    main()
