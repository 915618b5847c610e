"""What the command-line tools share: common flags and turning errors into one line and an exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rag.config import DEFAULT_DOCS, DEFAULT_INDEX, TOP_K
from rag.documents.formats import DOC_SUFFIXES
from rag.errors import RagError, UsageError

if TYPE_CHECKING:
    from rag.reader.base import Reader


def add_corpus_args(parser: argparse.ArgumentParser) -> None:
    """--docs, --index (and --version, which every command has)."""
    from rag import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s (rag-extractive) {__version__}")
    parser.add_argument(
        "--docs",
        type=Path,
        default=DEFAULT_DOCS,
        metavar="DIR",
        help=f"folder of documents ({', '.join(DOC_SUFFIXES)}), searched recursively (default: %(default)s)",
    )
    parser.add_argument(
        "--index",
        type=Path,
        default=DEFAULT_INDEX,
        metavar="DIR",
        help="folder where the index is kept (default: %(default)s)",
    )


def add_answering_args(parser: argparse.ArgumentParser, top_k_help: str) -> None:
    """The flags that choose how questions are answered: --top-k, --retriever, --reader, --threshold, --read-context."""
    from rag.reader import DEFAULT_READER, READERS
    from rag.retrieval.context import READ_CONTEXT_CHARS
    from rag.retrieval.retriever import MODES

    parser.add_argument("--top-k", type=int, default=TOP_K, metavar="N", help=f"{top_k_help} (default: %(default)s)")
    parser.add_argument(
        "--retriever",
        default="hybrid",
        choices=tuple(MODES),
        help="hybrid = BM25 and embeddings fused; dense or bm25 alone (default: %(default)s)",
    )
    parser.add_argument(
        "--reader", default=DEFAULT_READER, choices=READERS, help="which reader picks the answer (default: %(default)s)"
    )
    add_reader_model_arg(parser)
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        metavar="S",
        help="abstain when the answer's score is below S (default: the reader's own, calibrated)",
    )
    parser.add_argument(
        "--read-context",
        type=int,
        default=READ_CONTEXT_CHARS,
        metavar="C",
        help="the reader also sees up to C characters of the document on each side of a passage (default: "
        "%(default)s; 0 reads the passages as retrieved)",
    )


def add_reader_model_arg(parser: argparse.ArgumentParser) -> None:
    """--reader-model DIR, shared by rag.ask, rag.eval and the chat."""
    parser.add_argument(
        "--reader-model",
        type=Path,
        default=None,
        metavar="DIR",
        help="read with this local extractive-QA model folder instead of the shipped one: any Hugging Face "
        "AutoModelForQuestionAnswering checkpoint (BERT, RoBERTa, DeBERTa, ...) with its tokenizer; "
        "implies --reader neural",
    )


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def add_ray_args(parser: argparse.ArgumentParser, work: str) -> None:
    """--ray ADDRESS and --ray-actors N: ``work`` on a Ray cluster (rag.cluster), shared by the commands."""
    parser.add_argument(
        "--ray",
        default=None,
        metavar="ADDRESS",
        help=f"{work} on a Ray cluster: the head's host:port, or 'local' to start one in this process (needs "
        "pip install .[ray]; an unreachable cluster is exit 2 and leaves the index as it was)",
    )
    parser.add_argument(
        "--ray-actors",
        type=positive_int,
        default=None,
        metavar="N",
        help="with --ray: actors in the pool, each loading the models once (default: one per CPU of the cluster)",
    )


def check_answering_args(args: argparse.Namespace) -> None:
    """The answering flags' values, checked where they are flags (the library speaks of values)."""
    if args.top_k < 1:
        raise UsageError(f"--top-k must be at least 1, not {args.top_k}")
    if getattr(args, "read_context", 0) < 0:
        raise UsageError(f"--read-context must be 0 or more characters, not {args.read_context}")


def reader_from_args(args: argparse.Namespace) -> Reader:
    """The reader that --reader, --reader-model and --threshold name, loaded."""
    from rag.reader import load_reader

    check_answering_args(args)
    name = "neural" if args.reader_model else args.reader
    return load_reader(name, args.threshold, model_dir=args.reader_model)


def run(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Call ``main``; a RagError becomes 'error: ...' on stderr and its exit code, not a traceback."""
    try:
        return main(argv)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a path that is a file, a read-only folder, a full disk
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
