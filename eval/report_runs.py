"""Tables and a chart of the latest saved runs, beside published SQuAD numbers.

    python eval/report_runs.py       # prints Markdown tables, writes eval/results.png

Reads eval/runs/*.json (written by every `python -m rag.eval` run) and keeps, for each
(kind, reader, retriever), the newest full run (no --limit) or else the largest sample.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
PUBLISHED = [  # SQuAD v1.1 dev, reader given the paragraph (EM, F1)
    ("Sliding window (SQuAD paper)", 13.2, 20.2),
    ("Logistic regression (SQuAD paper)", 40.0, 51.0),
    ("DrQA reader", 69.4, 78.9),
    ("Human", 80.3, 90.5),
]


def latest_runs(runs_dir: Path = HERE / "runs") -> dict[tuple[str, str, str], dict]:
    best: dict[tuple[str, str, str], dict] = {}
    for path in sorted(runs_dir.glob("*.json")):
        run = json.loads(path.read_text(encoding="utf-8"))
        s = run["settings"]
        # the file too: SQuAD v1.1 and v2.0, or gold.jsonl and the technical set, are different runs
        where = Path(run["file"])
        key = (f"{run['kind']} · {where.parent.name}/{where.name}", s["reader"], s.get("retriever", "-"))
        rank = (run["n_questions"], run["time"])
        if key not in best or rank >= (best[key]["n_questions"], best[key]["time"]):
            best[key] = {**run, "path": path.name}
    return best


def table(runs: dict) -> str:
    lines = [
        "| run | reader | retriever | questions | EM | F1 | always-answer EM / F1 | R@1 | R@5 | R@20 | "
        "abstained (unans. / ans.) | p50 / p95 ms | commit |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (kind, reader, retriever), r in sorted(runs.items()):
        ret = r.get("retrieval", {})
        ab = r["abstention"]
        una = f"{r['unanswerable']['em']:.0f}%" if r["unanswerable"]["n"] else "-"
        ans = ab["abstained_answerable_share"]
        ans_s = "-" if ans is None else f"{100 * ans:.0f}%"
        lines.append(
            f"| {kind} | {reader} | {retriever} | {r['n_questions']} | {r['em']:.1f} | {r['f1']:.1f} | "
            f"{r['forced']['em']:.1f} / {r['forced']['f1']:.1f} | "
            + " | ".join(f"{ret[k]:.3f}" if k in ret else "-" for k in ("recall@1", "recall@5", "recall@20"))
            + f" | {una} / {ans_s} | {r['latency']['p50_ms']:.0f} / {r['latency']['p95_ms']:.0f} | "
            f"`{r['commit'][:8]}` |"
        )
    return "\n".join(lines)


def chart(runs: dict, out: Path) -> None:
    """F1 of our runs beside the published SQuAD dev reader numbers."""
    bars = [(name, f1) for name, _, f1 in PUBLISHED]
    colors = ["#9e9e9e"] * len(bars)
    for (kind, reader, retriever), r in sorted(runs.items()):
        label = f"ours: {reader}, {kind}" + (f" ({retriever})" if retriever != "-" else "")
        bars.append((label, r["forced"]["f1"] if kind.startswith("squad-reader · squad-v1.1") else r["f1"]))
        colors.append("#1f77b4" if kind.startswith("squad") else "#2ca02c")
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(bars) + 1.2))
    names, values = zip(*bars)
    ax.barh(range(len(bars)), values, color=colors)
    ax.set_yticks(range(len(bars)), names, fontsize=8)
    ax.invert_yaxis()
    for i, v in enumerate(values):
        ax.text(v + 0.5, i, f"{v:.1f}", va="center", fontsize=8)
    ax.set_xlabel("F1 (SQuAD v1.1 metric; grey = published SQuAD dev reader results)")
    ax.set_xlim(0, 100)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chart", type=Path, default=HERE / "results.png", help="where to write the chart")
    args = parser.parse_args()
    runs = latest_runs()
    print(table(runs))
    chart(runs, args.chart)
    print(f"\nchart: {args.chart}")


if __name__ == "__main__":
    main()
