"""Running gold questions through the system and summarising how it did.

Three ways in: ``run_open`` asks the full pipeline (retrieval + reader) over a docs folder,
``run_reader`` gives the reader each question's own paragraph (comparable to published
SQuAD reader numbers). Both produce one ``Record`` a question; ``summarise`` turns records
into the metrics ``rag.eval`` reports. Given a ``Spread`` (``rag.cluster.spread``), both run their
questions on a Ray cluster's actors (``OpenAsker``, ``ReaderAsker``) instead, with the same records.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from tqdm import tqdm

from rag.documents.folder import file_text
from rag.eval.gold import GoldQuestion
from rag.eval.metrics import (
    abstention_summary,
    contains_answer,
    first_hit_rank,
    percentiles_ms,
    retrieval_summary,
    score_answer,
)
from rag.pipeline import Pipeline
from rag.reader import Reader
from rag.settings import Settings
from rag.types import Passage, Result, accepted

RETRIEVE_K = 20
RECALL_KS = (1, 5, 20)


@dataclass
class Record:
    """One question's outcome."""

    gold: GoldQuestion
    prediction: str | None
    candidate: str | None
    score: float | None
    em: float
    f1: float
    forced_em: float
    forced_f1: float
    rank: int | None
    seconds: float
    offsets_checked: int = 0
    offsets_valid: int = 0
    answer_offsets_ok: bool | None = None
    retrieval_seconds: float | None = None


RankOf = Callable[[GoldQuestion, list[Passage]], int | None]
Spread = Callable[[list[GoldQuestion], Callable[[], Callable[[GoldQuestion], Record]]], Iterator[Record]]  # in order


@dataclass
class OffsetChecker:
    """Checks that every cited span slices, from the source file, to exactly its text."""

    docs_dir: Path | None
    contexts: dict[str, str] = field(default_factory=dict)

    def source_text(self, source: str) -> str:
        if source not in self.contexts:
            self.contexts[source] = file_text(self.docs_dir, source) if self.docs_dir else ""
        return self.contexts[source]

    def valid(self, item) -> bool:
        return self.source_text(item.source)[item.start : item.end] == item.text


def record(
    gold: GoldQuestion,
    result: Result,
    rank: int | None,
    seconds: float,
    checker: OffsetChecker,
    retrieval_seconds: float | None = None,
) -> Record:
    prediction = result.answer.text if result.answer else None
    candidate = result.candidate.text if result.candidate else None
    em, f1 = score_answer(prediction, gold.answers, gold.unanswerable)
    forced_em, forced_f1 = score_answer(candidate, gold.answers, gold.unanswerable) if candidate else (0.0, 0.0)
    if gold.unanswerable:
        forced_em = forced_f1 = 0.0  # answering is always wrong when there is no answer
    checked = [checker.valid(p) for p in result.passages]
    answer_ok = checker.valid(result.answer) if result.answer else None
    return Record(
        gold,
        prediction,
        candidate,
        result.candidate.score if result.candidate else None,
        em,
        f1,
        forced_em,
        forced_f1,
        rank,
        seconds,
        len(checked),
        sum(checked),
        answer_ok,
        retrieval_seconds,
    )


def progress(items: list[GoldQuestion], what: str) -> Iterable[GoldQuestion]:
    return tqdm(items, desc=what, unit="q", file=sys.stderr, disable=len(items) < 20, mininterval=2.0)


def ask_open(pipe: Pipeline, gold: GoldQuestion, rank_of: RankOf, checker: OffsetChecker) -> Record:
    """One question through the full pipeline; ``rank_of`` says where the first relevant passage came."""
    started = time.perf_counter()
    passages = pipe.retrieve(gold.question, max(RETRIEVE_K, pipe.top_k))
    retrieved = time.perf_counter()
    result = pipe.answer(gold.question, passages[: pipe.top_k])
    seconds = time.perf_counter() - started
    result = Result(result.question, result.answer, result.passages, seconds, result.candidate)
    return record(gold, result, rank_of(gold, passages), seconds, checker, retrieved - started)


def run_open(
    pipe: Pipeline,
    items: list[GoldQuestion],
    rank_of: RankOf,
    spread: Spread | None = None,
) -> list[Record]:
    """Full pipeline per question, here, or with ``spread`` on cluster actors that build ``pipe``'s
    Pipeline from its settings over the index refreshed here first."""
    pipe.refresh()
    if spread is not None:
        return list(spread(items, partial(OpenAsker, pipe.settings.absolute(), rank_of)))
    checker = OffsetChecker(pipe.docs_dir)
    return [ask_open(pipe, gold, rank_of, checker) for gold in progress(items, "questions")]


class OpenAsker:
    """A cluster actor's share of an open evaluation: the driver's Pipeline, built once."""

    def __init__(self, settings: Settings, rank_of: RankOf) -> None:
        from rag.cluster.pipelines import actor_pipeline

        self.pipe, self.rank_of = actor_pipeline(settings), rank_of
        self.checker = OffsetChecker(self.pipe.docs_dir)

    def __call__(self, gold: GoldQuestion) -> Record:
        return ask_open(self.pipe, gold, self.rank_of, self.checker)


def rank_by_answer(gold: GoldQuestion, passages: list[Passage]) -> int | None:
    """Our gold: a passage is relevant when it contains a gold answer (normalised)."""
    return first_hit_rank([contains_answer(p.text, gold.answers) for p in passages])


def rank_by_source(gold: GoldQuestion, passages: list[Passage]) -> int | None:
    """SQuAD open mode: rank of the question's own paragraph among distinct retrieved paragraphs."""
    sources = list(dict.fromkeys(p.source for p in passages))
    return first_hit_rank([s == gold.source for s in sources])


def ask_reader(reader: Reader, threshold: float, gold: GoldQuestion) -> Record:
    """The reader alone, given the question's own paragraph as its only passage; below ``threshold`` it
    abstains."""
    checker = OffsetChecker(None, {gold.source: gold.context})
    passage = Passage(gold.source, 0, len(gold.context), gold.context, 1.0)
    started = time.perf_counter()
    candidate = reader.read(gold.question, [passage])
    seconds = time.perf_counter() - started
    answer = accepted(candidate, threshold)
    result = Result(gold.question, answer, (passage,), seconds, candidate)
    return record(gold, result, 1, seconds, checker)


def run_reader(
    reader: Reader,
    threshold: float,
    items: list[GoldQuestion],
    spread: Spread | None = None,
    settings: Settings | None = None,
) -> list[Record]:
    """The reader alone on each question's own paragraph, abstaining below ``threshold``: here, or with
    ``spread`` on cluster actors that load ``settings``' reader."""
    if spread is not None:
        assert settings is not None, "actors load the settings' reader"
        return list(spread(items, partial(ReaderAsker, settings.absolute(), threshold)))
    return [ask_reader(reader, threshold, gold) for gold in progress(items, "questions")]


class ReaderAsker:
    """A cluster actor's share of a reader evaluation: the reader, loaded once."""

    def __init__(self, settings: Settings, threshold: float) -> None:
        from rag.cluster.pipelines import actor_reader

        self.reader, self.threshold = actor_reader(settings), threshold

    def __call__(self, gold: GoldQuestion) -> Record:
        return ask_reader(self.reader, self.threshold, gold)


def _mean(values: list[float]) -> float:
    return round(100.0 * sum(values) / len(values), 2) if values else 0.0


def summarise(records: list[Record], with_retrieval: bool = True, wrong_limit: int | None = None) -> dict:
    answerable = [r for r in records if not r.gold.unanswerable]
    unanswerable = [r for r in records if r.gold.unanswerable]
    answers = [r.answer_offsets_ok for r in records if r.answer_offsets_ok is not None]
    n_passages = sum(r.offsets_checked for r in records)
    summary: dict = {
        "n_questions": len(records),
        "em": _mean([r.em for r in records]),
        "f1": _mean([r.f1 for r in records]),
        "answerable": {
            "n": len(answerable),
            "em": _mean([r.em for r in answerable]),
            "f1": _mean([r.f1 for r in answerable]),
        },
        "unanswerable": {"n": len(unanswerable), "em": _mean([r.em for r in unanswerable])},
        "forced": {  # always answer the best candidate: comparable with SQuAD v1.1 reader numbers
            "em": _mean([r.forced_em for r in answerable]),
            "f1": _mean([r.forced_f1 for r in answerable]),
        },
        "abstention": abstention_summary(
            [r.prediction is None for r in records], [r.gold.unanswerable for r in records]
        ),
        "offsets": {
            "answers": len(answers),
            "answers_valid": round(sum(answers) / len(answers), 4) if answers else None,
            "passages": n_passages,
            "passages_valid": round(sum(r.offsets_valid for r in records) / n_passages, 4) if n_passages else None,
        },
        "latency": percentiles_ms([r.seconds for r in records]),
    }
    if with_retrieval:
        summary["retrieval"] = {"n": len(answerable), **retrieval_summary([r.rank for r in answerable], RECALL_KS)}
        timed = [r.retrieval_seconds for r in records if r.retrieval_seconds is not None]
        summary["retrieval_latency"] = percentiles_ms(timed)  # query encoding included
    wrong = [r for r in records if r.em < 1.0]
    summary["n_wrong"] = len(wrong)
    summary["wrong"] = [
        {
            "id": r.gold.id,
            "question": r.gold.question,
            "gold": list(r.gold.answers) or None,
            "predicted": r.prediction,
            "candidate": r.candidate,
            "score": r.score,
        }
        for r in wrong[:wrong_limit]
    ]
    return summary
