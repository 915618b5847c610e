"""python -m rag.ask: answer a question from your documents, with its exact citation.

With no question argument, questions are read one per line from stdin (models and index load
once); with --json each answer is one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap

from rag.cli import add_answering_args, add_corpus_args, reader_from_args, run
from rag.documents.folder import check_docs_dir
from rag.errors import UsageError
from rag.pipeline import Pipeline, validate_question
from rag.types import Answer, Passage, Result, where

EXAMPLE = "who supplies GPUs in the deal?"
NOT_FOUND = "Not found in the documents."


DESCRIPTION = (
    "Answer a question with a short span copied from your documents, cited with its file and exact character "
    "range; when the documents do not hold the answer, say so. The index is built or updated first when needed "
    "(said on stderr). With no question argument, questions are read one per line from stdin and the models load "
    "once; with --json each answer is one JSON object per line, and a bad line becomes a JSON error line while "
    "the rest are still answered. --reader-model DIR reads with any local Hugging Face extractive-QA checkpoint "
    "(its rag_reader.json, if any, gives the threshold, else 0.5); --read-context C lets the reader also see C "
    "characters of the document on each side of every passage (off by default)."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rag.ask",
        description=textwrap.fill(DESCRIPTION, 100),
        epilog=f'Examples:\n  python -m rag.ask "{EXAMPLE}"\n'
        f'  python -m rag.ask --json "{EXAMPLE}"\n'
        "  printf 'q1\\nq2\\n' | python -m rag.ask --json   (one JSON object per line)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("question", nargs="?", help="the question; omit it to read questions from stdin")
    add_corpus_args(parser)
    add_answering_args(parser, "passages to retrieve and show")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def marked(passage: Passage, answer: Answer | None) -> str:
    """The passage text with the answer span wrapped in ** **, when the answer lies inside it."""
    if answer is None or answer.source != passage.source or not passage.span.contains(answer.span):
        return passage.text
    a, b = answer.start - passage.start, answer.end - passage.start
    return f"{passage.text[:a]}**{passage.text[a:b]}**{passage.text[b:]}"


def format_human(result: Result) -> str:
    lines = []
    answer = result.answer
    if answer is None:
        lines.append(NOT_FOUND)
        if result.passages:
            lines.append("The closest passages:")
    else:
        lines.append(answer.text)
        lines.append(f"  score {answer.score:.2f} · {where(answer)}, characters {answer.start}-{answer.end}")
        if answer.passage is not None:
            lines.append(textwrap.indent(textwrap.fill(marked(answer.passage, answer), 88), "  > "))
        lines.append("Passages:")
    for i, p in enumerate(result.passages, 1):
        lines.append(f"  {i}. {where(p)} [{p.start}:{p.end}] score {p.score:.3f}")
        lines.append(textwrap.indent(textwrap.shorten(marked(p, answer), 300), "     "))
    return "\n".join(lines)


def emit(result: Result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False), flush=True)
    else:
        print(format_human(result), flush=True)


def answer_stdin(pipe: Pipeline, as_json: bool) -> int:
    """Answer each non-blank stdin line; a bad line is reported and the rest still answered."""
    status = 0
    buffer = getattr(sys.stdin, "buffer", None)  # bytes: one undecodable line must not end the batch
    lines = buffer if buffer is not None else (t.encode("utf-8", "surrogateescape") for t in sys.stdin)
    for raw in lines:
        line = raw.decode("utf-8", "surrogateescape")
        if not line.strip():
            continue
        try:
            emit(pipe.ask(line), as_json)
        except UsageError as exc:
            status = exc.exit_code
            shown = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")
            if as_json:
                print(json.dumps({"question": shown, "error": str(exc)}, ensure_ascii=False), flush=True)
            print(f"error: {exc}", file=sys.stderr)
        if not as_json:
            print()
    return status


def _ask(argv: list[str] | None) -> int:
    args = parse_args(argv)
    if args.question is None and sys.stdin.isatty():
        raise UsageError("give a question, or pipe questions on stdin (one per line)")
    if args.question is not None:
        validate_question(args.question)  # fail fast, before models load
    check_docs_dir(args.docs)
    pipe = Pipeline(
        args.docs, args.index, top_k=args.top_k, reader=reader_from_args(args), retriever=args.retriever,
        read_context=args.read_context,
    )  # fmt: skip
    pipe.refresh()
    if args.question is None:
        return answer_stdin(pipe, args.json)
    emit(pipe.ask(args.question), args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command; errors become one line on stderr and a non-zero exit code."""
    return run(_ask, argv)


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
