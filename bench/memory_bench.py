"""Indexing one large text file: peak memory and time against its size.

    python bench/memory_bench.py --sizes 1 2 4 --out bench/RESULTS.md

Each size is a fresh ``python -m rag.index`` process over a docs folder holding one ``.txt`` file of
that many MB (training paragraphs from ../shared/data/train, one per line, repeated as needed),
into a fresh index. Reported: wall time, seconds per MB, chunks, and the process's peak resident
memory (``ru_maxrss``). Issue #13 asks for at most 1.5 GB at 200 MB and time linear in size.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CACHE, paragraphs, run_measured, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def write_text(path: Path, megabytes: float) -> None:
    """A UTF-8 file of about ``megabytes`` MB, paragraph per line."""
    texts = [context.replace("\n", " ") for context, _ in paragraphs()]
    target, size, i = int(megabytes * 2**20), 0, 0
    with open(path, "w", encoding="utf-8") as f:
        while size < target:
            line = texts[i % len(texts)] + "\n"
            f.write(line)
            size += len(line.encode("utf-8"))
            i += 1


def index_once(docs: Path, index: Path) -> tuple[float, float, str]:
    """(seconds, peak RSS in MiB, the last line rag.index printed) of one fresh process."""
    cmd = [sys.executable, "-m", "rag.index", "--docs", str(docs), "--index", str(index)]
    seconds, rss, printed = run_measured(cmd, ROOT, {**os.environ, "PYTHONPATH": str(ROOT)})
    lines = printed.strip().splitlines()
    return seconds, rss, lines[-1] if lines else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 2, 4], help="file sizes in MB")
    parser.add_argument("--out", type=Path, help="write the results into this RESULTS.md section")
    args = parser.parse_args()
    rows = []
    for mb in args.sizes:
        work = CACHE / f"memory-{mb:g}mb"
        shutil.rmtree(work, ignore_errors=True)
        (work / "docs").mkdir(parents=True)
        write_text(work / "docs" / "big.txt", mb)
        seconds, rss, printed = index_once(work / "docs", work / "index")
        chunks = printed.split(": ", 1)[1].split(" chunks", 1)[0] if ": " in printed else "?"
        rows.append((mb, seconds, rss, chunks))
        print(f"{mb:g} MB: {seconds:.1f} s ({seconds / mb:.1f} s/MB), peak RSS {rss:.0f} MiB, {chunks} chunks")
        shutil.rmtree(work, ignore_errors=True)
    table = "\n".join(f"| {mb:g} MB | {s:.1f} s | {s / mb:.1f} s | {c} | {m:.0f} MiB |" for mb, s, m, c in rows)
    text = f"""### Indexing one large file (bench/memory_bench.py)

A fresh `python -m rag.index` over one `.txt` file of training paragraphs, one per line.
{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}
when it finished; {time.strftime("%Y-%m-%d")}.

| file | time | per MB | chunks | peak RSS |
|---|---|---|---|---|
{table}
"""
    if args.out:
        write_section(args.out, "memory", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
