"""Do unrelated documents steal answers? The gold questions over ``seeds/`` plus the distractor
documents of ``eval/distractors/`` in one index (issue 20's garden-club case).

    python eval/measure_distractors.py [--reader-model DIR] [--json]

Every gold question is about the seed, so an answer whose source is a distractor file is wrong by
construction. Reported: answers taken from a distractor (the target is 0), each with its score, and
EM/F1 with the distractors present (compare ``rag.eval --gold``, the seed alone).
The index is built in ``.cache/distractors`` (a copy of the documents, never the user's folders).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.eval.gold import load_gold  # noqa: E402
from rag.eval.metrics import score_answer  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.reader import load_reader  # noqa: E402
from rag.settings import Settings  # noqa: E402

DISTRACTORS = ROOT / "eval" / "distractors"
WORK = ROOT / ".cache" / "distractors"


def docs_folder() -> Path:
    """A fresh copy of the seeds and the distractor documents (their README left out)."""
    docs = WORK / "docs"
    shutil.rmtree(docs, ignore_errors=True)
    shutil.copytree(ROOT / "seeds", docs / "seeds")
    for path in sorted(DISTRACTORS.iterdir()):
        if path.is_file() and path.name != "README.md":
            (docs / "other").mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, docs / "other" / path.name)
    return docs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=ROOT / "eval" / "gold.jsonl")
    parser.add_argument("--reader-model", type=Path, help="a reader folder (default: the shipped reader)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    docs = docs_folder()
    reader = load_reader("neural", model_dir=args.reader_model) if args.reader_model else None  # None: the shipped
    pipe = Pipeline(Settings(docs=docs, index=WORK / "index"), reader=reader)
    pipe.refresh()
    rows, stolen = [], []
    for gold in load_gold(args.gold):
        result = pipe.ask(gold.question)
        answer = result.answer
        em, f1 = score_answer(answer.text if answer else None, gold.answers, gold.unanswerable)
        source = answer.source if answer else None
        rows.append((em, f1))
        if source and not source.startswith("seeds/"):
            stolen.append({"id": gold.id, "question": gold.question, "answer": answer.text, "source": source,
                           "score": answer.score})  # fmt: skip
    report = {
        "questions": len(rows),
        "distractor_files": len(list((docs / "other").iterdir())),
        "answers_from_distractors": len(stolen),
        "em": round(100 * sum(e for e, _ in rows) / len(rows), 1),
        "f1": round(100 * sum(f for _, f in rows) / len(rows), 1),
        "from_distractors": stolen,
    }
    if args.json:
        print(json.dumps(report, indent=1, ensure_ascii=False))
    else:
        print(f"{report['questions']} gold questions over the seed + {report['distractor_files']} distractor files: "
              f"EM {report['em']} F1 {report['f1']}; answers taken from a distractor: {len(stolen)}")  # fmt: skip
        for s in stolen:
            print(f"  {s['id']}: {s['question']!r} -> {s['answer']!r} from {s['source']} ({s['score']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
