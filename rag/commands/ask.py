"""rag ask (also ``python -m rag.ask``, ``rag-ask``): answer a question from your documents, with its
exact citation.

With no question argument, questions are read one per line from stdin (models and index load
once); with --json each answer is one JSON object per line. A stdin line may also be a JSON object,
``{"question": "and who is in it?", "history": ["How much is Stargate worth?"]}``: the question is
then read as a follow-up of its history, as the chat reads it (``rag.followup``), and the answer
gains ``searched_as``; ``--after`` does the same for a question argument. With --ray they are
spread over actors of a Ray cluster, each loading the index and models once, and answered in input
order.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial

from rag.commands.common import Command, answering_flags, corpus_flags, ray_flags, settings_of
from rag.documents.folder import check_docs_dir
from rag.errors import UsageError
from rag.followup import Reading, read_after
from rag.pipeline import Pipeline, validate_question
from rag.settings import Settings
from rag.types import NOT_FOUND, Answer, Passage, Result, citation_of

EXAMPLE = "who supplies GPUs in the deal?"


DESCRIPTION = (
    "Answer a question with a short span copied from your documents, cited with its file and exact character "
    "range; when the documents do not hold the answer, say so. The index is built or updated first when needed "
    "(said on stderr). With no question argument, questions are read one per line from stdin and the models load "
    "once; with --json each answer is one JSON object per line, and a bad line becomes a JSON error line while "
    'the rest are still answered. A stdin line may be a JSON object, {"question": ..., "history": [earlier '
    'questions, oldest first]}: a short follow-up ("and who is in it?") is then searched with the subject of its '
    'history, as the chat does, and its JSON answer adds "searched_as" and "read_as" (the question as the '
    "reader read it, the subject folded in); --after Q does the same for a question argument. --reader-model "
    "DIR reads with any local Hugging Face extractive-QA checkpoint "
    "(its rag_reader.json, if any, gives the threshold, else 0.5); --read-context C lets the reader also see C "
    "characters of the document on each side of every passage (off by default). --ray ADDRESS spreads the stdin "
    "questions over actors of a Ray cluster, each loading the index and models once; answers keep the input order."
)


def configure(parser: argparse.ArgumentParser) -> None:
    """rag ask's own arguments: the question and --after."""
    parser.add_argument("question", nargs="?", help="the question; omit it to read questions from stdin")
    parser.add_argument(
        "--after",
        action="append",
        default=[],
        metavar="Q",
        help="an earlier question of the conversation (repeat, oldest first): a follow-up question is searched "
        "with its subject, as in the chat",
    )


def bold_answer(passage: Passage, answer: Answer | None) -> str:
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
        lines.append(f"  score {answer.score:.2f} · {citation_of(answer)}, characters {answer.start}-{answer.end}")
        if answer.passage is not None:
            lines.append(textwrap.indent(textwrap.fill(bold_answer(answer.passage, answer), 88), "  > "))
        lines.append("Passages:")
    for i, p in enumerate(result.passages, 1):
        lines.append(f"  {i}. {citation_of(p)} [{p.start}:{p.end}] score {p.score:.3f}")
        lines.append(textwrap.indent(textwrap.shorten(bold_answer(p, answer), 300), "     "))
    return "\n".join(lines)


@dataclass(frozen=True)
class Request:
    """One question to answer; ``history``: the conversation's earlier questions, oldest first (None: asked
    alone, and the answer's JSON is exactly as before; a list, even empty: it gains ``searched_as``)."""

    question: str
    history: tuple[str, ...] | None = None


def request_of(line: str) -> Request:
    """The request on one stdin line: a JSON object ``{"question": ..., "history": [...]}``, else the
    line itself is the question (old inputs unchanged; no question starts with "{" and ends with "}")."""
    stripped = line.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return Request(line)
    try:
        given = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise UsageError(f"a line in braces must be a JSON object: {exc}") from None
    if not isinstance(given, dict) or not isinstance(given.get("question"), str):
        raise UsageError('a JSON line needs a "question" string')
    history = given.get("history")
    if history is None:
        return Request(given["question"])
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        raise UsageError('"history" must be a list of the earlier questions (strings), oldest first')
    return Request(given["question"], tuple(history))


def ask(pipe: Pipeline, request: Request) -> tuple[Result, Reading | None]:
    """The answer to ``request``, and how it was read when it came with a history (None: alone): as in
    the chat, retrieval searches with the carried subject and the reader reads the question with it
    folded in (``Reading.for_reader``); the answer keeps the question as it was typed."""
    if request.history is None:
        return pipe.ask(request.question), None
    validate_history(request.history)
    reading = read_after(validate_question(request.question), request.history)
    result = pipe.ask(reading.for_reader, search=reading.search)
    return replace(result, question=request.question), reading


def validate_history(history: Sequence[str]) -> None:
    """The limits of a question apply to each earlier one too (a UsageError that says it is the history's)."""
    for i, earlier in enumerate(history, 1):
        try:
            validate_question(earlier)
        except UsageError as exc:
            raise UsageError(f"history question {i}: {exc}") from None


def render(result: Result, as_json: bool, reading: Reading | None = None) -> str:
    """The answer as printed; a question read with its history says how (``searched_as``; "Read as:")."""
    if as_json:
        shown = result.to_dict()
        if reading is not None:
            shown["searched_as"] = reading.search
            shown["read_as"] = reading.for_reader
        return json.dumps(shown, ensure_ascii=False)
    human = format_human(result)
    return human if reading is None or reading.shown is None else f"Read as: {reading.shown}\n{human}"


def emit(result: Result, as_json: bool, reading: Reading | None = None) -> None:
    print(render(result, as_json, reading), flush=True)


@dataclass(frozen=True)
class Reply:
    """What one stdin line gets: its output (None: nothing on stdout), an error for stderr, its exit status."""

    out: str | None
    err: str = ""
    status: int = 0


def reply(pipe: Pipeline, raw: bytes, as_json: bool) -> Reply:
    """The answer to one stdin line (a question, or a JSON object with its history); a bad line is an
    error reply (and, with --json, a JSON error line)."""
    request = None
    try:
        request = request_of(raw.decode("utf-8", "surrogateescape"))
        result, reading = ask(pipe, request)
        return Reply(render(result, as_json, reading))
    except UsageError as exc:
        text = raw if request is None else request.question.encode("utf-8", "surrogateescape")  # a JSON line's question
        shown = text.decode("utf-8", "backslashreplace").rstrip("\r\n")
        out = json.dumps({"question": shown, "error": str(exc)}, ensure_ascii=False) if as_json else None
        return Reply(out, f"error: {exc}", exc.exit_code)


def show(answered: Reply, as_json: bool) -> int:
    """Print a reply as the batch prints it; its exit status."""
    if answered.out is not None:
        print(answered.out, flush=True)
    if answered.err:
        print(answered.err, file=sys.stderr)
    if not as_json:
        print()
    return answered.status


def stdin_questions() -> Iterator[bytes]:
    """The non-blank stdin lines, as bytes: one undecodable line must not end the batch."""
    buffer = getattr(sys.stdin, "buffer", None)
    lines = buffer if buffer is not None else (t.encode("utf-8", "surrogateescape") for t in sys.stdin)
    for raw in lines:
        if raw.decode("utf-8", "surrogateescape").strip():
            yield raw


def answer_stdin(pipe: Pipeline, as_json: bool) -> int:
    """Answer each non-blank stdin line; a bad line is reported and the rest still answered."""
    status = 0
    for raw in stdin_questions():
        status = show(reply(pipe, raw, as_json), as_json) or status
    return status


class Answerer:
    """A cluster actor's answering of stdin lines, with the driver's settings (``rag.cluster.spread``)."""

    def __init__(self, settings: Settings, as_json: bool) -> None:
        from rag.cluster.pipelines import actor_pipeline

        self.pipe, self.as_json = actor_pipeline(settings), as_json

    def __call__(self, raw: bytes) -> Reply:
        return reply(self.pipe, raw, self.as_json)


def answer_on_ray(args: argparse.Namespace, settings: Settings) -> int:
    """The stdin questions answered on a Ray cluster: the index refreshed once here (changed files embedded on
    the cluster), then the questions spread over actors that each load it and the models once; printed in
    input order as ``answer_stdin`` prints them."""
    from rag.cluster.connect import cluster, pool_size
    from rag.cluster.index import embed_like
    from rag.cluster.spread import spread
    from rag.index.build import embedder_for

    questions = list(stdin_questions())
    with cluster(args.ray) as ray:
        actors = pool_size(ray, args.ray_actors)
        embedder = embedder_for(settings.index, settings.embedding, settings.threads)
        pipe = Pipeline(settings, embedder=embedder, embed_files=embed_like(embedder, actors))
        pipe.refresh()
        answerer = partial(Answerer, settings.absolute(), args.json)
        status = 0
        for answered in spread(questions, answerer, actors):
            status = show(answered, args.json) or status
    return status


def run(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    if args.question is None and sys.stdin.isatty():
        raise UsageError("give a question, or pipe questions on stdin (one per line)")
    if args.after and args.question is None:
        raise UsageError(
            '--after goes with a question argument; on stdin, give a line {"question": ..., "history": [...]}'
        )
    if args.question is not None:
        if args.ray is not None:
            raise UsageError("--ray answers a batch of questions read from stdin; give no question argument")
        validate_question(args.question)  # fail fast, before models load
        validate_history(args.after)
    check_docs_dir(settings.docs)
    if args.ray is not None:
        return answer_on_ray(args, settings)
    pipe = Pipeline(settings)
    pipe.refresh()
    if args.question is None:
        return answer_stdin(pipe, args.json)
    result, reading = ask(pipe, Request(args.question, tuple(args.after) if args.after else None))
    emit(result, args.json, reading)
    return 0


COMMAND = Command(
    name="ask",
    description=DESCRIPTION,
    examples=(
        f'rag ask "{EXAMPLE}"',
        f'rag ask --json "{EXAMPLE}"',
        'rag ask --json --after "How much is Stargate worth?" "and who is in it?"',
        "printf 'q1\\nq2\\n' | rag ask --json   (one JSON object per line)",
    ),
    parents=(corpus_flags, answering_flags, ray_flags("answer the stdin questions")),
    configure=configure,
    run=run,
)

main = COMMAND.main  # what tests, ``python -m`` and the old spellings call


if __name__ == "__main__":
    from rag.commands.ask import COMMAND as imported  # classes of this module, not __main__: actors unpickle them

    imported.entry()
