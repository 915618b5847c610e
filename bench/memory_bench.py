"""Indexing one large text file: peak memory and time against its size.

    python bench/memory_bench.py --sizes 1 4 20 --stand-in-sizes 50 100 200 --out bench/RESULTS.md

Each size is a fresh process indexing a docs folder that holds one ``.txt`` file of that many MB
(training paragraphs from ../shared/data/train, one per line, repeated as needed) into a fresh index.

- ``--sizes``: ``python -m rag.index`` itself, with the real embedder (all-MiniLM-L6-v2).
- ``--stand-in-sizes``: the same ``update_index`` call, with a hashed bag-of-words encoder of the same
  dimension in place of the model. Embedding is nearly all of the time (about a minute per MB on this
  machine), so a 200 MB file would take hours; the stand-in measures everything else (reading,
  chunking, BM25, FAISS, writing) at full size. The model adds a constant: compare the two at the same size.

Reported: wall time, seconds per MB, chunks, and the process's peak resident memory (``ru_maxrss``).
Issue #13 asks for at most 1.5 GB at 200 MB and time linear in size.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CACHE, paragraphs, run_measured, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class HashedWords:
    """A stand-in encoder: each word hashed into one of 384 dimensions, L2-normalised. No model, no weights."""

    name, dim = "all-MiniLM-L6-v2", 384  # the real model's name, so the index looks like a real one

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.split():
                out[i, zlib.crc32(word.encode("utf-8", "replace")) % self.dim] += 1.0
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        return out


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


def stand_in_worker(docs: Path, index: Path) -> None:
    """The child process of a stand-in run: update_index as rag.index calls it, with HashedWords."""
    sys.path.insert(0, str(ROOT))
    from rag.index.build import update_index

    _, report = update_index(docs, index, HashedWords(), load=False)
    print(f"{index}: {report.chunks} chunks from {report.files} files ({report.summary()})")


def index_once(docs: Path, index: Path, stand_in: bool) -> tuple[float, float, str]:
    """(seconds, peak RSS in MiB, the last line printed) of one fresh process."""
    if stand_in:
        cmd = [sys.executable, __file__, "--worker", str(docs), str(index)]
    else:
        cmd = [sys.executable, "-m", "rag.index", "--docs", str(docs), "--index", str(index)]
    seconds, rss, printed = run_measured(cmd, ROOT, {**os.environ, "PYTHONPATH": str(ROOT)})
    lines = printed.strip().splitlines()
    return seconds, rss, lines[-1] if lines else ""


def measure(sizes: list[float], stand_in: bool) -> list[tuple[str, float, float, float, str]]:
    rows = []
    for mb in sizes:
        work = CACHE / f"memory-{mb:g}mb"
        shutil.rmtree(work, ignore_errors=True)
        (work / "docs").mkdir(parents=True)
        write_text(work / "docs" / "big.txt", mb)
        seconds, rss, printed = index_once(work / "docs", work / "index", stand_in)
        chunks = printed.split(": ", 1)[1].split(" chunks", 1)[0] if ": " in printed else "?"
        encoder = "hashed stand-in" if stand_in else "MiniLM (real)"
        rows.append((encoder, mb, seconds, rss, chunks))
        per_mb = seconds / mb
        print(f"{encoder}, {mb:g} MB: {seconds:.1f} s ({per_mb:.2f} s/MB), peak RSS {rss:.0f} MiB, {chunks} chunks")
        shutil.rmtree(work, ignore_errors=True)
    return rows


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        stand_in_worker(Path(sys.argv[2]), Path(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="*", default=[1, 4], help="MB, with the real embedder")
    parser.add_argument("--stand-in-sizes", type=float, nargs="*", default=[], help="MB, with the stand-in encoder")
    parser.add_argument("--out", type=Path, help="write the results into this RESULTS.md section")
    args = parser.parse_args()
    rows = measure(args.sizes, False) + measure(args.stand_in_sizes, True)
    table = "\n".join(
        f"| {e} | {mb:g} MB | {s:.1f} s | {s / mb:.2f} s | {c} | {m:.0f} MiB |" for e, mb, s, m, c in rows
    )
    text = f"""### Indexing one large file (bench/memory_bench.py)

A fresh process indexing one `.txt` file of training paragraphs, one per line, into a fresh index
(`python -m rag.index` with the real model; the same `update_index` with a hashed stand-in encoder,
which measures everything but the model at sizes whose embedding would take hours).
{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}
when it finished; {time.strftime("%Y-%m-%d")}.
Command: `python bench/memory_bench.py --sizes {" ".join(f"{s:g}" for s in args.sizes)} --stand-in-sizes {
        " ".join(f"{s:g}" for s in args.stand_in_sizes)
    }`.

| encoder | file | time | per MB | chunks | peak RSS |
|---|---|---|---|---|---|
{table}
"""
    if args.out:
        write_section(args.out, "memory", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
