"""SQuAD v1.1-format training data for the neural reader: loading, a held-out split, negatives.

The files have no unanswerable questions, so the reader learns to abstain from negatives we
build: a question paired with a *similar* paragraph from the same file (most shared question
words among a few candidates, same article first) that does not contain any of its answers, and
(harder) the question's own paragraph with the sentence that holds the answer deleted, which
teaches the near miss: the topic is right there, the fact asked for is not; and (hardest) the
question itself with one of its names or numbers swapped for another of the article's
(``swapped_negatives``), which looks answerable from its own paragraph and is not.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rag.eval.gold import read_squad

WORD = re.compile(r"\w+")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "for",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "do",
        "does",
        "did",
        "i",
        "you",
        "he",
        "she",
        "it",
        "we",
        "they",
        "this",
        "that",
        "with",
        "as",
        "at",
        "by",
        "from",
    ]
)


@dataclass(frozen=True)
class Example:
    """One question over one context; ``answer_start`` is None for a built negative."""

    qid: str
    source: str
    title: str
    question: str
    context: str
    answer: str | None
    answer_start: int | None
    answers: tuple[str, ...] = ()

    @property
    def answer_end(self) -> int | None:
        return None if self.answer_start is None else self.answer_start + len(self.answer)


def load_squad(path: Path, drop_repeated: bool = False) -> list[Example]:
    """Every answerable question of a SQuAD v1.1 file, with its first answer as the training target.

    ``drop_repeated`` leaves out questions whose answer text occurs more than once in its paragraph:
    in the rebuilt SQuAD train their offset is a best guess, and a wrong one teaches a wrong span."""
    out = []
    for q in read_squad(Path(path)):
        if not q.answers:
            continue
        text, start = q.answers[0]
        if drop_repeated and q.context.count(text) > 1:
            continue
        if q.context[start : start + len(text)] != text:
            raise ValueError(f"{path}: answer of question {q.qid} is not at its offset {start}")
        golds = tuple(t for t, _ in q.answers)
        out.append(Example(q.qid, Path(path).name, q.title, q.question, q.context, text, start, golds))
    return out


def split_heldout(examples: Sequence[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Hold out whole contexts (never a question whose paragraph was trained on)."""
    contexts = sorted({e.context for e in examples})
    rng = random.Random(seed)
    held = set(rng.sample(contexts, max(1, round(len(contexts) * fraction)))) if fraction > 0 else set()
    return [e for e in examples if e.context not in held], [e for e in examples if e.context in held]


def split_articles(examples: Sequence[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Hold out whole articles (titles): no held-out question shares an article, so its entities and
    wording were never trained on (SQuAD asks ~200 questions of each article)."""
    titles = sorted({e.title for e in examples})
    rng = random.Random(seed)
    held = set(rng.sample(titles, max(1, round(len(titles) * fraction)))) if fraction > 0 else set()
    return [e for e in examples if e.title not in held], [e for e in examples if e.title in held]


@lru_cache(maxsize=20000)
def words(text: str) -> frozenset[str]:
    return frozenset(w for w in WORD.findall(text.lower()) if w not in STOP)


def negatives(examples: Sequence[Example], ratio: float, seed: int, candidates: int = 24) -> list[Example]:
    """About ``ratio`` negatives per question: the most question-like other paragraph of the same file."""
    rng = random.Random(seed)
    by_file: dict[str, list[str]] = {}
    by_title: dict[tuple[str, str], list[str]] = {}
    for e in examples:
        by_file.setdefault(e.source, [])
        by_title.setdefault((e.source, e.title), [])
        if e.context not in by_title[(e.source, e.title)]:
            by_title[(e.source, e.title)].append(e.context)
            by_file[e.source].append(e.context)
    out = []
    for e in examples:
        if rng.random() >= ratio:
            continue
        pool = [c for c in by_title[(e.source, e.title)] if c != e.context]
        pool += rng.sample(by_file[e.source], min(candidates, len(by_file[e.source])))
        if (neg := question_like_negative(e, pool, rng, "-neg")) is not None:
            out.append(neg)
    return out


def question_like_negative(e: Example, pool: Sequence[str], rng: random.Random, suffix: str) -> Example | None:
    """``e``'s question over the paragraph of ``pool`` sharing most of its words (ties at random)
    that holds none of its answers; None if there is none."""
    golds = [a.lower() for a in (e.answers or (e.answer,))]
    pool = [c for c in pool if c != e.context and not any(g in c.lower() for g in golds)]
    if not pool:
        return None
    q = words(e.question)
    best = max(pool, key=lambda c: (len(q & words(c)), rng.random()))
    return Example(e.qid + suffix, e.source, e.title, e.question, best, None, None, ())


def sentence_bounds(text: str) -> list[tuple[int, int]]:
    """Character ranges of the sentences of ``text`` (split after . ! ? and whitespace)."""
    bounds, start = [], 0
    for m in SENTENCE_END.finditer(text):
        bounds.append((start, m.start()))
        start = m.end()
    return bounds + [(start, len(text))] if start < len(text) else bounds


def without_answer(e: Example) -> str | None:
    """``e.context`` minus the sentences that overlap its answer; None if an answer survives elsewhere."""
    kept = [(a, b) for a, b in sentence_bounds(e.context) if b <= e.answer_start or a >= e.answer_end]
    text = " ".join(e.context[a:b] for a, b in kept)
    golds = [g.lower() for g in (e.answers or (e.answer,))]
    if len(kept) < 2 or any(g in text.lower() for g in golds):
        return None
    return text


def deleted_negatives(examples: Sequence[Example], ratio: float, seed: int) -> list[Example]:
    """About ``ratio`` near-miss negatives per question: its own paragraph without the answer sentence."""
    rng = random.Random(seed)
    out = []
    for e in examples:
        if e.answer is None or rng.random() >= ratio:
            continue
        text = without_answer(e)
        if text is not None:
            out.append(Example(e.qid + "-del", e.source, e.title, e.question, text, None, None, ()))
    return out


def join_sentences(examples: Sequence[Example], per_passage: int) -> list[Example]:
    """One-sentence contexts (QAMR) regrouped into passages of up to ``per_passage`` sentences of the
    same article, in file order, answers shifted: the reader must find the right sentence, not just
    the right words of a sentence it was handed."""
    if per_passage <= 1:
        return list(examples)
    sentences: dict[tuple[str, str], list[str]] = {}
    for e in examples:
        group = sentences.setdefault((e.source, e.title), [])
        if e.context not in group:
            group.append(e.context)
    where: dict[tuple[str, str, str], tuple[str, int]] = {}
    for (source, title), group in sentences.items():
        for i in range(0, len(group), per_passage):
            part = group[i : i + per_passage]
            passage, offset = " ".join(part), 0
            for sentence in part:
                where[(source, title, sentence)] = (passage, offset)
                offset += len(sentence) + 1
    out = []
    for e in examples:
        passage, offset = where[(e.source, e.title, e.context)]
        start = None if e.answer_start is None else e.answer_start + offset
        out.append(dataclasses.replace(e, context=passage, answer_start=start))
    return out


def cross_source_negatives(examples: Sequence[Example], ratio: float, seed: int, candidates: int = 24) -> list[Example]:
    """About ``ratio`` negatives per question from *another* file: the most question-like of a few
    random paragraphs of other sources that hold none of its answers (off-topic documents)."""
    rng = random.Random(seed)
    by_file: dict[str, list[str]] = {}
    for e in examples:
        group = by_file.setdefault(e.source, [])
        if not group or group[-1] != e.context:
            group.append(e.context)
    out = []
    for e in examples:
        others = [s for s in by_file if s != e.source]
        if not others or rng.random() >= ratio:
            continue
        sources = rng.sample(others, min(3, len(others)))
        pool = [c for s in sources for c in rng.sample(by_file[s], min(candidates // 3, len(by_file[s])))]
        if (neg := question_like_negative(e, pool, rng, "-xneg")) is not None:
            out.append(neg)
    return out


# Names (capitalised runs, "of"/"the" allowed inside) and numbers: what a question anchors on.
ANCHOR = re.compile(r"\b\d[\d,.]*\d\b|\b\d\b|\b[A-Z][\w'-]+(?:\s+(?:of\s+|the\s+|de\s+)*[A-Z][\w'-]+)*")
YEAR = re.compile(r"1\d{3}|20\d{2}")


def anchor_kind(text: str) -> str:
    """year, number or name: a swap keeps the kind, so the question stays natural."""
    if YEAR.fullmatch(text):
        return "year"
    return "number" if text[0].isdigit() else "name"


def swapped_negatives(examples: Sequence[Example], ratio: float, seed: int) -> list[Example]:
    """About ``ratio`` negatives per question that look answerable: one name, number or year of the
    question that its paragraph contains is swapped for another of the same kind from the same article
    that the paragraph never mentions ("In what year did the Black Death reach *Sweden*?" over a
    paragraph about England). The paragraph then supports no answer, though the question's other
    words, its type and its topic all still match: the kind of unanswerable question SQuAD 2.0's
    crowdworkers wrote, and what the other-paragraph and deleted-sentence negatives never show."""
    rng = random.Random(seed)
    pools: dict[tuple[str, str], dict[str, list[str]]] = {}
    seen: set[tuple[str, str, str]] = set()
    for e in examples:
        key = (e.source, e.title)
        if (key + (e.context,)) in seen:
            continue
        seen.add(key + (e.context,))
        kinds = pools.setdefault(key, {})
        for m in ANCHOR.finditer(e.context):
            if len(m.group()) > 1:
                kinds.setdefault(anchor_kind(m.group()), []).append(m.group())
    for kinds in pools.values():
        for kind, values in kinds.items():
            kinds[kind] = sorted(set(values))
    out = []
    for e in examples:
        if e.answer is None or rng.random() >= ratio:
            continue
        anchors = [
            m for m in ANCHOR.finditer(e.question) if m.start() > 0 and len(m.group()) > 1 and m.group() in e.context
        ]
        if not anchors:
            continue
        m = rng.choice(anchors)
        context, question = e.context.lower(), e.question.lower()
        pool = pools.get((e.source, e.title), {}).get(anchor_kind(m.group()), [])
        pool = [v for v in pool if v.lower() not in context and v.lower() not in question]
        if not pool:
            continue
        swapped = e.question[: m.start()] + rng.choice(pool) + e.question[m.end() :]
        out.append(Example(e.qid + "-swap", e.source, e.title, swapped, e.context, None, None, ()))
    return out
