"""rag ui (also ``python -m ui.app``, ``rag-ui``): chat with your documents in the browser.

The page itself is ``ui.app``; this is its command line, with the same answering flags as ``rag ask``.
"""

from __future__ import annotations

import argparse
import json

from rag.commands.common import Command, answering_flags, corpus_flags, positive_int, settings_of
from rag.config import CONCURRENT_QUESTIONS

DESCRIPTION = (
    "Chat with your documents in the browser, every answer cited and highlighted. Serves on 127.0.0.1 unless "
    "--host says otherwise, and makes no calls to the internet. The index is built or updated and the models "
    "load once, at start-up; every browser session then has its own chat and settings (the flags give their "
    "defaults). With --json, one JSON line says where the page is once it answers."
)


def configure(parser: argparse.ArgumentParser) -> None:
    """rag ui's own flags: where to serve."""
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=7860, help="port to serve on (default: %(default)s)")
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=CONCURRENT_QUESTIONS,
        metavar="N",
        help="questions in flight at once; their retrieval and reading take turns on the models, the rest "
        "overlaps (default: %(default)s; 1 answers one question at a time)",
    )


def run(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    from ui.app import serve  # Gradio loads only for this command

    def announce(url: str) -> None:
        if args.json:
            shown = {"url": url, "docs": str(settings.docs), "index": str(settings.index), "reader": settings.reader}
            print(json.dumps(shown), flush=True)

    serve(settings, args.host, args.port, announce, args.concurrency, quiet=args.json)
    return 0


COMMAND = Command(
    name="ui",
    description=DESCRIPTION,
    examples=("rag ui", "rag ui --docs seeds --port 7861 --reader baseline"),
    parents=(corpus_flags, answering_flags),
    configure=configure,
    run=run,
)

main = COMMAND.main  # what tests, ``python -m`` and the old spellings call


if __name__ == "__main__":
    COMMAND.entry()
