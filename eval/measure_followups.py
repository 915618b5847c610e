"""Do follow-up questions gain from the conversation's subject? (issue 24, "Follow-ups")

    python eval/measure_followups.py [--reader-model DIR] [--json]

Each pair of ``eval/followups.jsonl`` is a first question and a follow-up that leans on it ("How
much is Stargate worth?" then "and who is in it?"), with gold answers copied from ``seeds/``. The
follow-up is asked three times through the real pipeline:

- *alone*: searched and read as typed, what the chat did before follow-ups;
- *with the subject*: searched as ``rag.followup.read_after`` (the chat's own reading) makes it,
  read as typed (only retrieval sees the subject);
- *searched and read with the subject*: searched the same way, and the reader reads the question
  with the subject folded in (``Reading.folded``: "and who is in it?" -> "Who is in Stargate?").

The last two decide ``rag.followup.READER_SEES_SUBJECT``: whether the chat and ``rag.ask`` let the
reader see the subject.

Both on the seed document alone and on the seed beside the distractor documents of
``eval/distractors/`` (several files, where a question that names nothing may be answered from the
wrong one). Reported per condition: EM/F1 (SQuAD normalisation, an abstained answerable follow-up
scores 0, an abstained unanswerable one 1), abstentions on the answerable follow-ups, correct
abstentions on the unanswerable ones, and answers taken from a distractor. The set was written
before the first run and nothing was tuned on it. Indexes are built in ``.cache/followups``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.eval.metrics import score_answer  # noqa: E402
from rag.followup import read_after  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.reader import Reader, load_reader  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.types import Result  # noqa: E402

PAIRS = ROOT / "eval" / "followups.jsonl"
DISTRACTORS = ROOT / "eval" / "distractors"
WORK = ROOT / ".cache" / "followups"
SEED_DIR = "seeds"  # the seed's folder inside each corpus: an answer elsewhere is a distractor's


@dataclass(frozen=True)
class Pair:
    """A first question and its follow-up; ``answers`` empty: the documents do not say."""

    id: str
    first: str
    first_answers: tuple[str, ...]
    question: str
    answers: tuple[str, ...]

    @property
    def unanswerable(self) -> bool:
        return not self.answers


def load_pairs(path: Path) -> list[Pair]:
    """The pairs of a JSON-lines file (blank lines skipped)."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            pairs.append(
                Pair(row["id"], row["first"], tuple(row["first_answers"]), row["question"], tuple(row["answers"]))
            )
    return pairs


def corpus(name: str, with_distractors: bool) -> Path:
    """A fresh copy of the seeds (and the distractor documents): never the user's folders."""
    docs = WORK / name / "docs"
    shutil.rmtree(docs, ignore_errors=True)
    shutil.copytree(ROOT / "seeds", docs / SEED_DIR)
    if with_distractors:
        for path in sorted(DISTRACTORS.iterdir()):
            if path.is_file() and path.name != "README.md":
                (docs / "other").mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, docs / "other" / path.name)
    return docs


def scored(result: Result, answers: tuple[str, ...]) -> dict:
    """One asked question's outcome: EM/F1, whether it abstained, and the answer's file."""
    answer = result.answer
    em, f1 = score_answer(answer.text if answer else None, answers, not answers)
    return {
        "em": em,
        "f1": f1,
        "abstained": answer is None,
        "answer": answer.text if answer else None,
        "source": answer.source if answer else None,
    }


def summary(rows: list[dict], pairs: list[Pair]) -> dict:
    """The condition's numbers over all pairs (percentages, one decimal)."""
    answerable = [r for r, p in zip(rows, pairs, strict=True) if not p.unanswerable]
    unanswerable = [r for r, p in zip(rows, pairs, strict=True) if p.unanswerable]
    return {
        "em": round(100 * sum(r["em"] for r in rows) / len(rows), 1),
        "f1": round(100 * sum(r["f1"] for r in rows) / len(rows), 1),
        "abstained_answerable": sum(r["abstained"] for r in answerable),
        "answerable": len(answerable),
        "abstained_unanswerable": sum(r["abstained"] for r in unanswerable),
        "unanswerable": len(unanswerable),
        "from_distractors": sum(bool(r["source"]) and not r["source"].startswith(f"{SEED_DIR}/") for r in rows),
    }


def evaluate(pipe: Pipeline, pairs: list[Pair]) -> dict:
    """Ask every pair's first question, then its follow-up alone, searched with the carried subject,
    and searched and read with it."""
    first, alone, carried, read, details = [], [], [], [], []
    for pair in pairs:
        reading = read_after(pair.question, [pair.first])
        first.append(scored(pipe.ask(pair.first), pair.first_answers))
        alone.append(scored(pipe.ask(pair.question), pair.answers))
        carried.append(scored(pipe.ask(pair.question, search=reading.search), pair.answers))
        read.append(scored(pipe.ask(reading.folded or pair.question, search=reading.search), pair.answers))
        details.append({"id": pair.id, "question": pair.question, "searched_as": reading.search,
                        "read_as": reading.folded or pair.question,
                        "alone": alone[-1], "with_subject": carried[-1], "read_with_subject": read[-1]})  # fmt: skip
    return {
        "pairs": len(pairs),
        "read_as_follow_ups": sum(d["searched_as"] != d["question"] for d in details),
        "first": summary(first, pairs),
        "alone": summary(alone, pairs),
        "with_subject": summary(carried, pairs),
        "read_with_subject": summary(read, pairs),
        "pairs_detail": details,
    }


def line(name: str, s: dict) -> str:
    """One condition as a table row."""
    return (
        f"| {name} | {s['em']} | {s['f1']} | {s['abstained_answerable']}/{s['answerable']} | "
        f"{s['abstained_unanswerable']}/{s['unanswerable']} | {s['from_distractors']} |"
    )


def table(reports: dict[str, dict]) -> str:
    """The Markdown table RESULTS.md shows: each corpus, the follow-ups alone, searched with the
    subject, and searched and read with it."""
    rows = [
        "| corpus · follow-up searched | EM | F1 | abstained (answerable) | abstained (unanswerable) "
        "| answer from a distractor |",
        "|---|---|---|---|---|---|",
    ]
    for name, report in reports.items():
        rows.append(line(f"{name} · first questions (for scale)", report["first"]))
        rows.append(line(f"{name} · follow-up alone", report["alone"]))
        rows.append(line(f"{name} · follow-up searched with the subject", report["with_subject"]))
        rows.append(line(f"{name} · follow-up searched and read with the subject", report["read_with_subject"]))
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--reader-model", type=Path, help="a reader folder (default: the shipped reader)")
    parser.add_argument("--json", action="store_true", help="print everything, each pair too, as JSON")
    args = parser.parse_args()
    pairs = load_pairs(args.pairs)
    reader: Reader | None = load_reader("neural", model_dir=args.reader_model) if args.reader_model else None
    reports = {}
    for name, with_distractors in (("seed", False), ("seed + 4 distractors", True)):
        slug = "mixed" if with_distractors else "seed"
        pipe = Pipeline(Settings(docs=corpus(slug, with_distractors), index=WORK / slug / "index"), reader=reader)
        pipe.refresh()
        reports[name] = evaluate(pipe, pairs)
    if args.json:
        print(json.dumps(reports, indent=1, ensure_ascii=False))
        return 0
    first = next(iter(reports.values()))
    print(f"{first['pairs']} pairs; {first['read_as_follow_ups']} follow-ups read with a carried subject\n")
    print(table(reports))
    for name, report in reports.items():
        for d in report["pairs_detail"]:
            alone, searched, read = (d[c]["answer"] for c in ("alone", "with_subject", "read_with_subject"))
            if len({alone, searched, read}) > 1:
                print(
                    f"  {name} {d['id']}: {d['question']!r} searched as {d['searched_as']!r}, read as "
                    f"{d['read_as']!r}: {alone!r} -> {searched!r} -> {read!r}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
