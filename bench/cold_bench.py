"""Cold ``rag.ask``: a fresh process answering one question over an index that is already built.

    python bench/cold_bench.py --rounds 5 --out bench/RESULTS.md
    python bench/cold_bench.py --rounds 5 --compare ../before   # this checkout against another, interleaved

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
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CACHE, run_measured, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "who supplies GPUs in the deal?"


def one_run(reader: str, index: Path, root: Path = ROOT) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one fresh ``python -m rag.ask`` process of the checkout at ``root``
    (the spelling every version has)."""
    cmd = [sys.executable, "-m", "rag.ask", "--index", str(index), "--reader", reader, QUESTION]
    seconds, rss, _ = run_measured(cmd, root, {**os.environ, "PYTHONPATH": str(root)})
    return seconds, rss


def commit_of(root: Path) -> str:
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
    return found.stdout.strip() or root.name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--readers", nargs="+", default=["neural", "baseline"])
    parser.add_argument("--out", type=Path, help="write the results into this RESULTS.md section")
    parser.add_argument(
        "--compare",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="another checkout (e.g. a git worktree of an older commit) measured in the same run, its runs "
        "interleaved with this one's so both see the same machine",
    )
    args = parser.parse_args()
    roots = [ROOT, *(p.resolve() for p in args.compare)]
    rows = []
    for reader in args.readers:
        indexes = {root: CACHE / f"cold-index-{i}" for i, root in enumerate(roots)}  # each version builds its own
        for root in roots:
            one_run(reader, indexes[root], root)  # builds the index once; warms the file cache
        runs: dict[Path, list[tuple[float, float]]] = {root: [] for root in roots}
        for _ in range(args.rounds):
            for root in roots:
                runs[root].append(one_run(reader, indexes[root], root))
        for root in roots:
            secs, rss = [s for s, _ in runs[root]], [m for _, m in runs[root]]
            rows.append((reader, commit_of(root), statistics.median(secs), max(secs), statistics.median(rss)))
            print(f"{reader} @ {rows[-1][1]}: median {rows[-1][2]:.2f} s, worst {rows[-1][3]:.2f} s, "
                  f"peak RSS {rows[-1][4]:.0f} MiB")  # fmt: skip
    load = os.getloadavg()[0]
    table = "\n".join(f"| {r} | {c} | {m:.2f} s | {w:.2f} s | {rss:.0f} MiB |" for r, c, m, w, rss in rows)
    text = f"""### Cold `rag ask` (bench/cold_bench.py)

A fresh `python -m rag.ask "{QUESTION}"` process over the built seeds index, {args.rounds} runs per
reader after one untimed run. {platform.processor() or platform.machine()}, {os.cpu_count()} cores,
load average {load:.2f} when it finished; {time.strftime("%Y-%m-%d")}.

| reader | commit | median | worst | peak RSS |
|---|---|---|---|---|
{table}
"""
    if args.out:
        write_section(args.out, "cold", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
