"""rag index (also ``python -m rag.index``, ``rag-index``): build or update the index of a docs folder.

Only added or changed files are embedded; removed files leave the index. The new index
replaces the old one atomically, so an interrupted run leaves the previous one usable.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from rag.chunking.chunker import ChunkConfig
from rag.commands.common import Command, corpus_flags, ray_flags, settings_of
from rag.config import CHUNK_OVERLAP, CHUNK_TOKENS
from rag.documents.folder import check_docs_dir
from rag.index.build import UpdateReport, embedder_for, update_index
from rag.settings import Settings

DESCRIPTION = (
    "Build or update the search index of a folder of documents: its .txt, .md, .html/.htm, .pdf, .docx, .odt, .pptx, "
    ".xlsx, .csv, .epub and .eml files (README: Formats). "
    "Unchanged files are not re-embedded, removed files leave the index, unreadable ones are skipped with a "
    f"warning. An index keeps its chunking ({CHUNK_TOKENS} and {CHUNK_OVERLAP} tokens for a new one) until "
    "--chunk-tokens/--chunk-overlap ask for another, which rebuilds it. The new index replaces the old one "
    "atomically, so an interrupted run leaves the previous one in use; one build at a time per index folder. "
    "With --ray, changed files are read, chunked and embedded on a Ray cluster (docs/scaling.md) and the index is "
    "the same. With --json, what was built is one JSON object."
)


def configure(parser: argparse.ArgumentParser) -> None:
    """rag index's own flags: the chunking."""
    parser.add_argument(
        "--chunk-tokens",
        type=int,
        metavar="N",
        help=f"tokens per chunk, cl100k; a change rebuilds the index (default: the index's own, else {CHUNK_TOKENS})",
    )
    parser.add_argument(
        "--chunk-overlap",
        type=int,
        metavar="N",
        help=f"tokens shared by consecutive chunks (default: the index's own, else {CHUNK_OVERLAP})",
    )


def update(args: argparse.Namespace, settings: Settings) -> UpdateReport:
    """Update the index here, or with --ray on a cluster (joined before anything is read or written)."""
    config = None if settings.chunking is None else ChunkConfig(*settings.chunking)
    embedder = embedder_for(settings.index, settings.embedding, settings.threads)
    if args.ray is None:
        return update_index(settings.docs, settings.index, embedder, config, load=False)[1]
    from rag.cluster.connect import cluster, pool_size
    from rag.cluster.index import embed_like

    check_docs_dir(settings.docs)
    with cluster(args.ray) as ray:  # the embedder here names the model and its dimension; actors compute vectors
        embed = embed_like(embedder, pool_size(ray, args.ray_actors))
        return update_index(settings.docs, settings.index, embedder, config, load=False, embed_files=embed)[1]


def report_of(settings: Settings, report: UpdateReport) -> dict:
    """``rag index --json``: what was built (``UpdateReport``'s fields), where, and its one-line summary."""
    return {"index": str(settings.index), "docs": str(settings.docs), **asdict(report), "summary": report.summary()}


def run(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    report = update(args, settings)
    if args.json:
        print(json.dumps(report_of(settings, report), ensure_ascii=False))
    else:
        print(f"{settings.index}: {report.chunks} chunks from {report.files} files ({report.summary()})")
    return 0


COMMAND = Command(
    name="index",
    description=DESCRIPTION,
    examples=("rag index --docs seeds --index index", "rag index --json --chunk-tokens 256 --chunk-overlap 32"),
    parents=(corpus_flags, ray_flags("read, chunk and embed changed files")),
    configure=configure,
    run=run,
)

main = COMMAND.main  # what tests, ``python -m`` and the old spellings call


if __name__ == "__main__":
    COMMAND.entry()
