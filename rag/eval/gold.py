"""Gold questions: our own ``eval/gold.jsonl`` and SQuAD v1.1-format files.

A SQuAD file is laid out as one text file per paragraph in a cache folder, so that the
normal pipeline (index, retrieval, reading, offset checks) runs on it unchanged and the
gold paragraph of a question is simply a ``source`` path.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from rag.errors import UsageError


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    unanswerable: bool = False
    source: str = ""  # the document (paragraph) it was asked about, when known
    context: str = ""  # that paragraph's text, for reader-only evaluation


def read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"file not found: {path}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from None


def load_gold(path: Path) -> list[GoldQuestion]:
    """Read a gold JSONL file: one {"id", "question", "answers", "unanswerable"} object per line."""
    if not path.is_file():
        raise UsageError(f"gold file not found: {path}")
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            items.append(
                GoldQuestion(str(obj["id"]), obj["question"], tuple(obj["answers"]), bool(obj.get("unanswerable")))
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{path}:{n}: not a gold question ({exc})") from None
    return items


def slug(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_")[:60] or "untitled"


def paragraph_source(article: int, title: str, paragraph: int) -> str:
    return f"{article:03d}-{slug(title)}/{paragraph:04d}.txt"


@dataclass(frozen=True)
class SquadQuestion:
    """One question of a SQuAD v1.1-format file, as stored: its paragraph, and each answer with its offset."""

    qid: str
    article: int
    title: str
    paragraph: int
    context: str
    question: str
    answers: tuple[tuple[str, int], ...]  # (text, answer_start), in file order; () for unanswerable

    @property
    def source(self) -> str:
        return paragraph_source(self.article, self.title, self.paragraph)


def read_squad(path: Path) -> list[SquadQuestion]:
    """Every question of a SQuAD v1.1-format file: the one reader of the format (evaluation, training, benches)."""
    data = read_json(path)
    if not isinstance(data, dict) or "data" not in data:
        raise UsageError(f"{path} is not a SQuAD-format file (no 'data')")
    return [
        SquadQuestion(
            str(qa["id"]),
            a,
            article.get("title", ""),
            p,
            para["context"],
            qa["question"],
            tuple((ans["text"], int(ans["answer_start"])) for ans in qa["answers"]),
        )  # fmt: skip
        for a, article in enumerate(data["data"])
        for p, para in enumerate(article["paragraphs"])
        for qa in para["qas"]
    ]


def load_squad(path: Path) -> list[GoldQuestion]:
    """Every question of a SQuAD v1.1-format file as a gold question, its paragraph as source and context."""
    items = []
    for q in read_squad(path):
        answers = tuple(dict.fromkeys(text for text, _ in q.answers))
        items.append(GoldQuestion(q.qid, q.question, answers, not answers, q.source, q.context))
    return items


def materialise_squad(path: Path, cache_root: Path) -> Path:
    """Write each paragraph of a SQuAD file as a text file under the cache; returns the docs folder.

    The folder is keyed by the file's hash and reused between runs.
    """
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    docs = cache_root / digest / "docs"
    done = docs / ".complete"
    if done.exists():
        return docs
    contexts = {q.source: q.context for q in load_squad(path)}
    for source, context in contexts.items():
        target = docs / source
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(context.encode("utf-8"))
    done.write_text(f"{len(contexts)} paragraphs from {path.name}\n")
    return docs


def sample(items: list[GoldQuestion], limit: int | None, seed: int) -> list[GoldQuestion]:
    """A reproducible random sample of ``limit`` questions (all of them when limit is None)."""
    if limit is None or limit >= len(items):
        return items
    return random.Random(seed).sample(items, limit)
