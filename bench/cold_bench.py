"""Cold ``rag.ask``: a fresh process answering one question over an index that is already built.

    python bench/cold_bench.py --rounds 5 --out bench/RESULTS.md

What a user waits for when they type ``python -m rag.ask "..."`` once: interpreter start, imports,
model loads, retrieval and reading. Each reader is run ``--rounds`` times (after one untimed run
that builds the index and warms the OS file cache); the wall time of the whole process and its peak
resident memory are reported, median and worst.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CACHE, run_measured, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "who supplies GPUs in the deal?"


def one_run(reader: str, index: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one fresh ``python -m rag.ask`` process."""
    cmd = [sys.executable, "-m", "rag.ask", "--index", str(index), "--reader", reader, QUESTION]
    seconds, rss, _ = run_measured(cmd, ROOT, {**os.environ, "PYTHONPATH": str(ROOT)})
    return seconds, rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--readers", nargs="+", default=["neural", "baseline"])
    parser.add_argument("--out", type=Path, help="write the results into this RESULTS.md section")
    args = parser.parse_args()
    index = CACHE / "cold-index"
    rows = []
    for reader in args.readers:
        one_run(reader, index)  # builds the index once; warms the file cache
        runs = [one_run(reader, index) for _ in range(args.rounds)]
        secs, rss = [s for s, _ in runs], [m for _, m in runs]
        rows.append((reader, statistics.median(secs), max(secs), statistics.median(rss)))
        print(f"{reader}: median {rows[-1][1]:.2f} s, worst {rows[-1][2]:.2f} s, peak RSS {rows[-1][3]:.0f} MiB")
    load = os.getloadavg()[0]
    table = "\n".join(f"| {r} | {m:.2f} s | {w:.2f} s | {rss:.0f} MiB |" for r, m, w, rss in rows)
    text = f"""### Cold `rag.ask` (bench/cold_bench.py)

A fresh `python -m rag.ask "{QUESTION}"` process over the built seeds index, {args.rounds} runs per
reader after one untimed run. {platform.processor() or platform.machine()}, {os.cpu_count()} cores,
load average {load:.2f} when it finished; {time.strftime("%Y-%m-%d")}.

| reader | median | worst | peak RSS |
|---|---|---|---|
{table}
"""
    if args.out:
        write_section(args.out, "cold", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
