"""What every subcommand of ``rag`` shares: the parent parsers of the common flags, turning flags into
one ``Settings``, and turning errors into one line and an exit code.

A flag left out is None here, so that ``Settings.load`` can apply the ``RAG_*`` environment under it;
the help shows the default that then applies (``rag.config``).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.config import (
    DEFAULT_DOCS,
    DEFAULT_EMBEDDING_BACKEND,
    DEFAULT_INDEX,
    DEFAULT_READER,
    DEFAULT_RETRIEVER,
    EMBEDDING_BACKENDS,
    ENVIRONMENT,
    HYBRID_BM25_WEIGHT,
    READ_CONTEXT_CHARS,
    READERS,
    RETRIEVERS,
    TOP_K,
)
from rag.documents.formats import DOC_SUFFIXES
from rag.errors import RagError
from rag.settings import Settings

ENVIRONMENT_NOTE = (
    "Every setting may also come from the environment: "
    + ", ".join(f"{variable} ({name.replace('_', '-')})" for name, variable in ENVIRONMENT.items())
    + "; a flag wins over its variable."
)


@dataclass(frozen=True)
class Command:
    """One subcommand: ``rag NAME``. ``configure`` adds its own flags (after the parents'), ``run`` does it."""

    name: str
    description: str
    examples: Sequence[str]
    parents: Sequence[Callable[[], argparse.ArgumentParser]]
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]

    def parser(self, prog: str | None = None) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(
            prog=prog or f"rag {self.name}",
            description=wrap(self.description),
            epilog="\n".join(["Examples:", *(f"  {e}" for e in self.examples), "", wrap(ENVIRONMENT_NOTE)]),
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[make() for make in self.parents],
        )
        self.configure(parser)
        return parser

    def main(self, argv: list[str] | None = None, prog: str | None = None) -> int:
        """Run the command; errors become one line on stderr and a non-zero exit code."""
        return guarded(lambda: self.run(self.parser(prog).parse_args(argv)))

    def entry(self) -> None:
        """The installed script's entry point (``rag-ask = "rag.commands.ask:COMMAND.entry"``)."""
        sys.exit(self.main())


def wrap(text: str) -> str:
    """Help text as one paragraph 100 columns wide."""
    return textwrap.fill(" ".join(text.split()), 100)


def corpus_flags() -> argparse.ArgumentParser:
    """--docs, --index, --embedding, --threads, --json, --version: every command has them."""
    from rag import __version__

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--version", action="version", version=f"%(prog)s (rag-extractive) {__version__}")
    parser.add_argument(
        "--docs",
        type=Path,
        metavar="DIR",
        help=f"folder of documents ({', '.join(DOC_SUFFIXES)}), searched recursively (default: {DEFAULT_DOCS})",
    )
    parser.add_argument(
        "--index", type=Path, metavar="DIR", help=f"folder where the index is kept (default: {DEFAULT_INDEX})"
    )
    parser.add_argument(
        "--embedding",
        choices=EMBEDDING_BACKENDS,
        help="how passages and questions are embedded: onnx (ONNX Runtime), torch (sentence-transformers), auto "
        "(ONNX when it can), onnx-int8 or torch-bf16 (faster, slightly different vectors). An index keeps the one "
        "that built it and encodes its questions with it; naming another rebuilds it "
        f"(default: the index's own, else {DEFAULT_EMBEDDING_BACKEND})",
    )
    parser.add_argument(
        "--threads", type=int, metavar="N", help="threads the models compute with (default: 0, one per core)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parser


def answering_flags() -> argparse.ArgumentParser:
    """The flags that choose how questions are answered, the same for ask, eval and ui."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--top-k", type=int, metavar="N", help=f"passages to retrieve and read (default: {TOP_K})")
    parser.add_argument(
        "--retriever",
        choices=RETRIEVERS,
        help=f"hybrid = BM25 and embeddings fused; dense or bm25 alone (default: {DEFAULT_RETRIEVER})",
    )
    parser.add_argument(
        "--bm25-weight",
        type=float,
        metavar="W",
        help=f"hybrid: BM25's weight against the embeddings', 0 to 1 (default: {HYBRID_BM25_WEIGHT})",
    )
    parser.add_argument("--reader", choices=READERS, help=f"which reader picks the answer (default: {DEFAULT_READER})")
    parser.add_argument(
        "--reader-model",
        type=Path,
        metavar="DIR",
        help="read with this local extractive-QA model folder instead of the shipped one: any Hugging Face "
        "AutoModelForQuestionAnswering checkpoint (BERT, RoBERTa, DeBERTa, ...) with its tokenizer; its "
        "rag_reader.json, if any, gives the threshold, else 0.5; implies --reader neural",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        metavar="S",
        help="abstain when the answer's score is below S (default: the reader's own, calibrated; confidence "
        "labels always use the calibrated one)",
    )
    parser.add_argument(
        "--read-context",
        type=int,
        metavar="C",
        help=f"the reader also sees up to C characters of the document on each side of a passage (default: "
        f"{READ_CONTEXT_CHARS}, the passages as retrieved)",
    )
    return parser


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def ray_flags(work: str) -> Callable[[], argparse.ArgumentParser]:
    """A parent parser of --ray ADDRESS and --ray-actors N: ``work`` on a Ray cluster (rag.cluster)."""

    def make() -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(add_help=False)
        parser.add_argument(
            "--ray",
            metavar="ADDRESS",
            help=f"{work} on a Ray cluster: the head's host:port, or 'local' to start one in this process (needs "
            "pip install .[ray]; an unreachable cluster is exit 2 and leaves the index as it was)",
        )
        parser.add_argument(
            "--ray-actors",
            type=positive_int,
            metavar="N",
            help="with --ray: actors in the pool, each loading the models once (default: one per CPU of the cluster)",
        )
        return parser

    return make


def settings_of(args: argparse.Namespace) -> Settings:
    """The one ``Settings`` of a command line: its flags over the environment over the defaults."""
    return Settings.load({name: getattr(args, name) for name in ENVIRONMENT if hasattr(args, name)})


def guarded(work: Callable[[], int]) -> int:
    """Call ``work``; a RagError becomes 'error: ...' on stderr and its exit code, not a traceback."""
    try:
        return work()
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
