"""python -m rag.index: build or update the index of a docs folder.

Only added or changed files are embedded; removed files leave the index. The new index
replaces the old one atomically, so an interrupted run leaves the previous one usable.
"""

from __future__ import annotations

import argparse
import sys
import textwrap

from rag.chunking.chunker import ChunkConfig
from rag.cli import add_corpus_args, add_ray_args, run
from rag.config import CHUNK_OVERLAP, CHUNK_TOKENS
from rag.documents.folder import check_docs_dir
from rag.index.build import UpdateReport, update_index
from rag.index.embedding import load_embedder

DESCRIPTION = (
    "Build or update the search index of a folder of documents: its .txt, .md, .html/.htm, .pdf, .docx, .odt, .pptx, "
    ".xlsx, .csv, .epub and .eml files (README: Formats). "
    "Unchanged files are not re-embedded, removed files leave the index, unreadable ones are skipped with a "
    "warning. An index keeps its chunking (128 and 24 tokens for a new one) until --chunk-tokens/--chunk-overlap "
    "ask for another, which rebuilds it. The new index replaces the old one atomically, so an interrupted run "
    "leaves the previous one in use; one build at a time per index folder. With --ray, changed files are read, "
    "chunked and embedded on a Ray cluster (docs/scaling.md) and the index is the same."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rag.index",
        description=textwrap.fill(DESCRIPTION, 100),
        epilog="Example: python -m rag.index --docs seeds --index index",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_corpus_args(parser)
    parser.add_argument(
        "--chunk-tokens",
        type=int,
        default=None,
        metavar="N",
        help=f"tokens per chunk, cl100k; a change rebuilds the index (default: the index's own, else {CHUNK_TOKENS})",
    )
    parser.add_argument(
        "--chunk-overlap",
        type=int,
        default=None,
        metavar="N",
        help=f"tokens shared by consecutive chunks (default: the index's own, else {CHUNK_OVERLAP})",
    )
    add_ray_args(parser, "read, chunk and embed changed files")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def _index(argv: list[str] | None) -> int:
    args = parse_args(argv)
    config = None  # keep the existing index's chunking
    try:
        if args.chunk_tokens is not None or args.chunk_overlap is not None:
            overlap = CHUNK_OVERLAP if args.chunk_overlap is None else args.chunk_overlap
            config = ChunkConfig(args.chunk_tokens or CHUNK_TOKENS, overlap)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = _update(args, config)
    print(f"{args.index}: {report.chunks} chunks from {report.files} files ({report.summary()})")
    return 0


def _update(args: argparse.Namespace, config: ChunkConfig | None) -> UpdateReport:
    """Update the index here, or with --ray on a cluster (joined before anything is read or written)."""
    if args.ray is None:
        return update_index(args.docs, args.index, load_embedder(), config, load=False)[1]
    from rag.cluster.connect import cluster, pool_size
    from rag.cluster.index import embed_on_ray

    check_docs_dir(args.docs)
    with cluster(args.ray) as ray:
        embedder = load_embedder()  # names the model and its dimension; the actors compute the vectors
        embed = embed_on_ray(embedder.name, embedder.dim, pool_size(ray, args.ray_actors))
        return update_index(args.docs, args.index, embedder, config, load=False, embed_files=embed)[1]


def main(argv: list[str] | None = None) -> int:
    """Run the command; errors become one line on stderr and a non-zero exit code."""
    return run(_index, argv)


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
