"""The command line: one command, ``rag``, with a subcommand per task (``rag ask``, ``rag index``,
``rag eval``, ``rag ui``), the way ``llm`` or ``git`` work.

Commands sit above every stage: they turn flags into one ``rag.settings.Settings`` and call the
stages; no stage imports them. Old spellings keep working: ``python -m rag.ask``/``rag.index``/
``rag.eval``/``ui.app`` and the ``rag-ask``/``rag-index``/``rag-eval``/``rag-ui`` scripts start the
same subcommand. Only the subcommand asked for is imported, so ``rag ask`` loads no Gradio and no
evaluation code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rag.commands.common import Command, wrap

# name -> (module, one line for ``rag --help``)
SUBCOMMANDS = {
    "ask": ("rag.commands.ask", "answer a question from your documents, with its exact citation"),
    "index": ("rag.commands.index", "build or update the search index of a folder of documents"),
    "eval": ("rag.commands.evaluate", "measure answer quality on gold questions or a SQuAD file"),
    "ui": ("rag.commands.chat", "chat with your documents in the browser (Gradio, offline)"),
}
DESCRIPTION = (
    "Offline extractive question answering over your own documents: every answer is a span copied from a "
    "document, cited with its file and exact character range, and when the documents do not hold the answer "
    "it says so. Each subcommand has its own --help."
)


def top_parser() -> argparse.ArgumentParser:
    """``rag`` itself: the list of subcommands (each parses its own flags, ``rag.commands.common.Command``)."""
    from rag import __version__

    parser = argparse.ArgumentParser(
        prog="rag",
        description=wrap(DESCRIPTION),
        epilog='Examples:\n  rag index --docs seeds\n  rag ask "who supplies GPUs in the deal?"',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s (rag-extractive) {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name, (_, summary) in SUBCOMMANDS.items():
        sub.add_parser(name, help=summary, add_help=False)
    return parser


def subcommand(name: str) -> Command:
    """The subcommand called ``name``, its module imported now."""
    return importlib.import_module(SUBCOMMANDS[name][0]).COMMAND


def main(argv: list[str] | None = None) -> int:
    """``rag COMMAND ...``: the subcommand's exit code; ``rag`` alone prints the list of subcommands."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:
        return subcommand(argv[0]).main(argv[1:])
    parser = top_parser()
    if not argv:
        parser.print_help(sys.stderr)
        return 2
    parser.parse_args(argv)  # --help and --version exit 0 here, an unknown command 2
    return 2


def entry() -> None:
    sys.exit(main())
