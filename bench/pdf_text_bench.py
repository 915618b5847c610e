"""PDF text before and after the reader's cleanup (#22 item 2), on typeset PDFs Debian ships.

Before: each page as pypdf extracts it (what the project read until then). After:
``rag.documents.pdf.pdf_text`` (line-end hyphens joined, running headers/footers and page numbers
left out, numbered headings apart, ligatures spelled out). For each it reports, per PDF, the words
still broken at a line end, the ligature characters, the lines that were page furniture; then it
indexes the PDFs both ways and asks the questions of ``bench/pdf_questions.json`` (SQuAD exact match
and F1 against the verbatim answer, and whether every answer slices the document's text exactly).

    python bench/pdf_text_bench.py [--questions bench/pdf_questions.json] [--json out.json]

The PDFs are read from /usr/share/doc (Debian packages libtasn1-doc, bzip2, zlib1g-dev, nettle-dev,
fontconfig, shared-mime-info); a missing one is left out with a note.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import sys
import tempfile
import time
from pathlib import Path

if str(Path(__file__).resolve().parent.parent) not in sys.path:  # the benches run from a checkout
    sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from rag.config import set_offline_env  # noqa: E402

set_offline_env()

from rag.documents import pdf as cleaned  # noqa: E402
from rag.documents.parts import PAGE_SEPARATOR, tidy  # noqa: E402
from rag.eval.metrics import exact_match, f1  # noqa: E402
from rag.types import Extracted  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BROKEN = re.compile(r"[^\W\d_]-\n[^\W\d_]")
LIGATURE = re.compile("[\ufb00-\ufb06]")


def raw_pdf_text(data: bytes, source: str = "") -> Extracted:
    """The PDF reader as it was before the cleanup: pypdf's text of each page, tidied, pages joined."""
    from pypdf import PdfReader

    pages = [tidy(page.extract_text() or "") for page in PdfReader(io.BytesIO(data)).pages]
    starts, offset = [], 0
    for page in pages:
        starts.append(offset)
        offset += len(page) + len(PAGE_SEPARATOR)
    return Extracted(PAGE_SEPARATOR.join(pages), tuple(starts))


def load_pdfs(files: dict[str, str], folder: Path) -> list[str]:
    """Copy (and gunzip) the PDFs into ``folder``; the names of those found."""
    found = []
    for name, where in files.items():
        path = Path(where)
        if not path.exists():
            print(f"note: {where} not found (its Debian package is not installed); left out", file=sys.stderr)
            continue
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        (folder / name).write_bytes(data)
        found.append(name)
    return found


def glued_headings(text: str) -> int:
    """Numbered headings ("3.1 Invoking X") right under a line of text, with no blank line between."""
    lines = text.split("\n")
    full = cleaned.line_width(lines)
    return sum(
        1
        for before, line in zip(lines, lines[1:])
        if before.strip() and cleaned.is_heading(line, before, full) and not cleaned._numbered_line(before)
    )


def text_report(folder: Path, names: list[str]) -> list[dict]:
    rows = []
    for name in names:
        data = (folder / name).read_bytes()
        before, after = raw_pdf_text(data).text, cleaned.pdf_text(data, name).text
        pages = [tidy(p) for p in before.split(PAGE_SEPARATOR)]
        lines = [p.split("\n") if p else [] for p in pages]
        kept = [list(p) for p in lines]
        cleaned.drop_running_lines(kept)
        rows.append(
            {
                "pdf": name,
                "pages": len(pages),
                "lines": len([line for line in before.split("\n") if line.strip()]),
                "broken_words": [len(BROKEN.findall(before)), len(BROKEN.findall(after))],
                "ligatures": [len(LIGATURE.findall(before)), len(LIGATURE.findall(after))],
                "furniture_lines_removed": sum(len(a) - len(b) for a, b in zip(lines, kept)),
                "glued_headings": [glued_headings(before), glued_headings(after)],
            }
        )
    return rows


def qa_report(folder: Path, questions: list[dict], variant: str) -> dict:
    """Index ``folder`` with the PDF reader of ``variant`` and ask every question."""
    from rag.documents.folder import file_text
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    original = cleaned.pdf_text
    if variant == "before":
        cleaned.pdf_text = raw_pdf_text  # the function formats.pdf_text calls
    try:
        with tempfile.TemporaryDirectory() as index_dir:
            started = time.perf_counter()
            pipe = Pipeline(Settings(docs=folder, index=Path(index_dir)), log=io.StringIO())
            pipe.refresh()
            indexed = time.perf_counter() - started
            rows = []
            for q in questions:
                result = pipe.ask(q["question"])
                answer = result.answer or result.candidate
                text = "" if answer is None else answer.text
                exact = answer is None or file_text(folder, answer.source)[answer.start : answer.end] == text
                rows.append(
                    {
                        **q,
                        "predicted": text,
                        "from": None if answer is None else answer.source,
                        "page": None if answer is None else answer.page,
                        "abstained": result.answer is None,
                        "em": exact_match(text, q["answer"]),
                        "f1": f1(text, q["answer"]),
                        "offsets_exact": exact,
                    }
                )
    finally:
        cleaned.pdf_text = original
    n = len(rows)
    by_kind: dict[str, list[dict]] = {}
    for row in rows:
        by_kind.setdefault(row["kind"], []).append(row)
    return {
        "variant": variant,
        "index_seconds": round(indexed, 1),
        "em": round(100 * sum(r["em"] for r in rows) / n, 1),
        "f1": round(100 * sum(r["f1"] for r in rows) / n, 1),
        "answered": sum(not r["abstained"] for r in rows),
        "offsets_exact": sum(r["offsets_exact"] for r in rows),
        "garbled_answers": sum(bool(BROKEN.search(r["predicted"]) or LIGATURE.search(r["predicted"])) for r in rows),
        "by_kind": {
            kind: {"n": len(rs), "em": round(100 * sum(r["em"] for r in rs) / len(rs), 1)}
            for kind, rs in sorted(by_kind.items())
        },
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=Path, default=ROOT / "bench" / "pdf_questions.json")
    parser.add_argument("--json", type=Path, help="write the full report here")
    parser.add_argument("--no-qa", action="store_true", help="only the text measures (no index, no models)")
    args = parser.parse_args(argv)
    spec = json.loads(args.questions.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        names = load_pdfs(spec["files"], folder)
        report: dict = {"text": text_report(folder, names)}
        print("| PDF | pages | lines | words broken at a line end | ligatures | headings glued | furniture removed |")
        print("|---|---|---|---|---|---|---|")
        for row in report["text"]:
            print(
                f"| {row['pdf']} | {row['pages']} | {row['lines']} | {' → '.join(map(str, row['broken_words']))} "
                f"| {' → '.join(map(str, row['ligatures']))} | {' → '.join(map(str, row['glued_headings']))} "
                f"| {row['furniture_lines_removed']} lines |"
            )
        if not args.no_qa:
            questions = [q for q in spec["questions"] if q["source"] in names]
            report["qa"] = [qa_report(folder, questions, variant) for variant in ("before", "after")]
            print(
                f"\n{len(questions)} questions | EM | F1 | answered | offsets exact | broken word or ligature | by kind"
            )
            for qa in report["qa"]:
                kinds = ", ".join(f"{k} {v['em']} ({v['n']})" for k, v in qa["by_kind"].items())
                print(
                    f"{qa['variant']} | {qa['em']} | {qa['f1']} | {qa['answered']} | {qa['offsets_exact']} "
                    f"| {qa['garbled_answers']} | {kinds}"
                )
            for before, after in zip(*(qa["rows"] for qa in report["qa"])):
                if before["em"] != after["em"]:
                    print(f"  {after['question']!r}: {before['predicted']!r} -> {after['predicted']!r}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
