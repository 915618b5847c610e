"""Check eval/technical/gold.jsonl against the documents in eval/technical/docs/.

    python eval/technical/check_gold.py

For every question: the id is the next "tech-NNN", the "document" exists, an answerable question
has answers and an unanswerable one has none, and every answer occurs verbatim in the text of its
document *as the pipeline reads it* (the file itself for .txt/.md, the extracted text for .html).
Answers that also occur in another document of the set are listed (not an error: the question
names its program, so only one document answers it). Exit status 1 if any check fails.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.append(str(HERE.parents[1]))  # after PYTHONPATH

from rag.documents.formats import extract  # noqa: E402

MAX_BYTES = 600 * 1024


def main() -> int:
    docs = sorted(p for p in (HERE / "docs").iterdir() if p.is_file())
    texts = {p.name: extract(p.name, p.read_bytes()).text for p in docs}
    size = sum(p.stat().st_size for p in docs)
    errors: list[str] = []
    if size > MAX_BYTES:
        errors.append(f"documents take {size} bytes, over {MAX_BYTES}")
    items = [json.loads(line) for line in (HERE / "gold.jsonl").read_text(encoding="utf-8").splitlines() if line]
    elsewhere = []
    for n, item in enumerate(items, 1):
        qid, doc, answers = item["id"], item.get("document"), item["answers"]
        if qid != f"tech-{n:03d}":
            errors.append(f"{qid}: expected id tech-{n:03d}")
        if doc not in texts:
            errors.append(f"{qid}: no document {doc!r}")
            continue
        if bool(item["unanswerable"]) == bool(answers):
            errors.append(f"{qid}: unanswerable={item['unanswerable']} but {len(answers)} answers")
        for answer in answers:
            if answer != answer.strip() or not answer:
                errors.append(f"{qid}: answer {answer!r} has surrounding whitespace")
            if answer not in texts[doc]:
                errors.append(f"{qid}: {answer!r} not in {doc}")
            others = [name for name, text in texts.items() if name != doc and answer in text]
            if others:
                elsewhere.append(f"{qid}: {answer!r} also in {', '.join(others)}")
    kinds = Counter(item["document"] for item in items)
    unanswerable = sum(1 for item in items if item["unanswerable"])
    print(
        f"{len(items)} questions ({len(items) - unanswerable} answerable, {unanswerable} unanswerable) "
        f"over {len(docs)} documents, {size / 1024:.0f} KB"
    )
    for name in texts:
        print(f"  {kinds[name]:3d}  {name}")
    if elsewhere:
        print("answers that also occur in another document (informational):")
        print("\n".join("  " + line for line in elsewhere))
    for line in errors:
        print("ERROR", line)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
