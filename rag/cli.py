"""What the command-line tools share: common flags and turning errors into one line and an exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from rag.config import DEFAULT_DOCS, DEFAULT_INDEX
from rag.errors import RagError


def add_corpus_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--docs",
        type=Path,
        default=DEFAULT_DOCS,
        metavar="DIR",
        help="folder of documents (.txt, .md), searched recursively (default: %(default)s)",
    )
    parser.add_argument(
        "--index",
        type=Path,
        default=DEFAULT_INDEX,
        metavar="DIR",
        help="folder where the index is kept (default: %(default)s)",
    )


def run(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Call ``main``; a RagError becomes 'error: ...' on stderr and its exit code, not a traceback."""
    try:
        return main(argv)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
