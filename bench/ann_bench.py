"""Exact vs approximate FAISS search at 10k-1M vectors: build throughput, query latency, memory, recall@10.

    nice -n 10 python bench/ann_bench.py --sizes 10000 100000 1000000 --out bench/RESULTS.md

Each configuration (size x index type) runs in a fresh subprocess, so its peak resident set size
(VmHWM) is its own. Vectors are synthetic (see ``synthetic``); with ``--real N`` the same comparison
also runs on N real MiniLM embeddings of training-set chunks, queried with real training questions
(needs ../shared/data/train; embeddings cached under .cache/bench). Exact flat search is the ground truth.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from common import TRAIN, cached, percentiles, proc_status_mib, real_corpus, reset_peak_rss, write_section  # noqa: E402

from rag.index import ann  # noqa: E402

DIM = 384
# Calibrated on real MiniLM embeddings of training chunks and questions (see RESULTS.md): similar cosines to the
# nearest neighbours, similar HNSW recall at 20k.
LATENT = 128
TOPICS = 2000
SPREAD = 0.6
SPREAD_SIGMA = 1.0  # topic widths vary: log-normal, so density is uneven as in real text
NOISE = 0.5
QUERY_NOISE = 0.8  # queries (questions) sit further from the passages than passages from each other
K = 10
APP_DEPTH = 50  # the retriever asks the index for max(50, 4k) candidates
SWEEP = {ann.FLAT: [{}], ann.HNSW: [{"efSearch": e} for e in (16, 32, 64, 128, 192, 256, 384, 512)]}
SWEEP[ann.HNSW_FP16] = SWEEP[ann.HNSW]
SWEEP[ann.IVF] = [{"nprobe": p} for p in (8, 16, 32, 64, 128, 256, 512)]
BUILD = {ann.FLAT: {}, ann.HNSW: {"M": ann.HNSW_M, "efConstruction": ann.HNSW_EF_CONSTRUCTION}, ann.IVF: {}}
BUILD[ann.HNSW_FP16] = BUILD[ann.HNSW]
CHUNK = 100_000


def synthetic(n: int, seed: int, noise: float = NOISE) -> np.ndarray:
    """``n`` text-like unit vectors: normalise(A @ z + noise * e), e ~ N(0, I_DIM), A a fixed random DIM x LATENT
    matrix (entries N(0, 1/LATENT)), z = c_t + SPREAD * s_t * g with topic t uniform over TOPICS, centres
    c_t ~ N(0, I_LATENT), widths s_t = exp(SPREAD_SIGMA * N(0, 1)) and g ~ N(0, I_LATENT).
    The topic model (A, c, s) is the same for every call; ``seed`` picks the points."""
    model = np.random.default_rng(12345)
    a = model.standard_normal((DIM, LATENT)).astype(np.float32) / np.sqrt(LATENT)
    centres = model.standard_normal((TOPICS, LATENT)).astype(np.float32)
    widths = (SPREAD * np.exp(SPREAD_SIGMA * model.standard_normal(TOPICS))).astype(np.float32)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, CHUNK):
        rng = np.random.default_rng([seed, start])
        m = min(CHUNK, n - start)
        topic = rng.integers(TOPICS, size=m)
        z = centres[topic] + widths[topic, None] * rng.standard_normal((m, LATENT), dtype=np.float32)
        out[start : start + m] = z @ a.T + np.float32(noise) * rng.standard_normal((m, DIM), dtype=np.float32)
    faiss.normalize_L2(out)
    return out


def load(source: dict) -> tuple[np.ndarray, np.ndarray]:
    if source["kind"] == "synthetic":
        return synthetic(source["n"], seed=1), synthetic(source["queries"], seed=2, noise=QUERY_NOISE)
    return np.load(source["base"]), np.load(source["queries"])


def recall(found: np.ndarray, exact: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(f[:k]) & set(e[:k])) / k for f, e in zip(found, exact)]))


def worker(job: dict) -> dict:
    """One configuration in this (fresh) process: build, then time single-vector queries per search setting."""
    faiss.omp_set_num_threads(job["threads"])
    base, queries = load(job["source"])
    reset_peak_rss()  # the peak below covers the build and the searches (with the input matrix still held)
    rss_data = proc_status_mib("VmRSS")
    start = time.perf_counter()
    index, info = ann.build(base, kind=job["kind"], **BUILD[job["kind"]])
    build_s = time.perf_counter() - start
    result = {
        "n": len(base),
        "kind": job["kind"],
        "build": info,
        "build_s": build_s,
        "build_per_s": len(base) / build_s,
        "index_rss_mib": proc_status_mib("VmRSS") - rss_data,
        "input_mib": base.nbytes / 2**20,
        "settings": [],
    }
    gt_path = Path(job["gt"])
    if job["kind"] == ann.FLAT:
        np.save(gt_path, index.search(queries, APP_DEPTH)[1])
    exact = np.load(gt_path)
    for setting in SWEEP[job["kind"]]:
        ann.apply_search_params(index, {**info, **setting})
        for q in queries[:20]:  # warm-up
            index.search(q[None], K)
        times, found = [], []
        for q in queries:
            t = time.perf_counter()
            _, rows = index.search(q[None], K)
            times.append(time.perf_counter() - t)
            found.append(rows[0])
        p50, p95 = percentiles(times)
        deep = index.search(queries, APP_DEPTH)[1]
        found = np.array(found)
        result["settings"].append(
            {
                **setting,
                "p50_ms": p50,
                "p95_ms": p95,
                "recall10": recall(found, exact, K),
                "recall50": recall(deep, exact, 50),
            }
        )
    result["peak_rss_mib"] = proc_status_mib("VmHWM")
    return result


def run_job(job: dict) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(job)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def real_source(n: int, queries: int, tmp: Path) -> dict:
    """Real embeddings (cached) of about ``n`` training chunks and ``queries`` training questions, as .npy files."""
    from rag.index.embedding import load_embedder

    chunks, questions = real_corpus(max_chunks=n, n_queries=queries)
    base = cached("real-chunks", chunks, lambda texts: load_embedder().encode(texts, progress=True))
    query = cached("real-queries", questions, lambda texts: load_embedder().encode(texts))
    np.save(tmp / "real-base.npy", base)
    np.save(tmp / "real-queries.npy", query)
    return {"kind": "file", "base": str(tmp / "real-base.npy"), "queries": str(tmp / "real-queries.npy")}


def describe(base: np.ndarray, queries: np.ndarray) -> dict:
    """Statistics that make synthetic and real vectors comparable: local intrinsic dimension at the queries (MLE over
    their 20 nearest neighbours), principal components holding 80% of the variance (1000-vector sample), mean
    cosines of random pairs, of a vector's 1st and 10th neighbour, of a query's 1st and 10th neighbour."""
    rng = np.random.default_rng(0)
    sample = base[rng.choice(len(base), size=min(1000, len(base)), replace=False)]
    pairs = sample[: len(sample) // 2] @ sample[len(sample) // 2 :].T
    nn = faiss.knn(sample, base, 11, metric=faiss.METRIC_INNER_PRODUCT)[0]
    qn = faiss.knn(queries, base, 10, metric=faiss.METRIC_INNER_PRODUCT)[0]
    dist = np.sqrt(np.maximum(2 - 2 * faiss.knn(queries, base, 20, metric=faiss.METRIC_INNER_PRODUCT)[0], 1e-12))
    spectrum = np.linalg.svd(sample - sample.mean(0), compute_uv=False) ** 2
    return {
        "query_lid": float(np.mean(-1 / np.mean(np.log(dist[:, :-1] / dist[:, -1:]), axis=1))),
        "pca_dims_80pct": float(np.searchsorted(np.cumsum(spectrum) / spectrum.sum(), 0.8) + 1),
        "random_pair_cos": float(pairs.mean()),
        "nn1_cos": float(nn[:, 1].mean()),
        "nn10_cos": float(nn[:, 10].mean()),
        "query_top1_cos": float(qn[:, 0].mean()),
        "query_top10_cos": float(qn[:, 9].mean()),
    }


TARGET = 0.95


def cheapest(result: dict) -> dict:
    """The fastest search setting with recall@10 >= TARGET (else the most accurate one)."""
    ok = [s for s in result["settings"] if s["recall10"] >= TARGET]
    return min(ok, key=lambda s: s["p50_ms"]) if ok else max(result["settings"], key=lambda s: s["recall10"])


KEYS = ("efSearch", "nprobe")


def _setting(s: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in s.items() if k in KEYS) or "exact"


def summary(sections: list[tuple[str, list[dict], dict | None]]) -> list[str]:
    rows = [
        "| vectors | index | build params | build s | build vectors/s | search setting (ann default) | p50 ms "
        f"| p95 ms | recall@10 | recall@50 | cheapest setting with recall@10 >= {TARGET} | index RSS MiB "
        "| peak RSS MiB (input matrix) |",
        "|---|---|---|---:|---:|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for label, results, _ in sections:
        for r in results:
            params = ", ".join(f"{k}={v}" for k, v in r["build"].items() if k in ("M", "efConstruction", "nlist"))
            default = next(s for s in r["settings"] if all(r["build"].get(k) == v for k, v in s.items() if k in KEYS))
            c = cheapest(r)
            rows.append(
                f"| {label} | {r['kind']} | {params or '-'} | {r['build_s']:.1f} | {r['build_per_s']:,.0f} "
                f"| {_setting(default)} | {default['p50_ms']:.2f} | {default['p95_ms']:.2f} "
                f"| {default['recall10']:.3f} | {default['recall50']:.3f} "
                f"| {_setting(c)}: {c['p50_ms']:.2f} ms, {c['recall10']:.3f} "
                f"| {r['index_rss_mib']:,.0f} | {r['peak_rss_mib']:,.0f} ({r['input_mib']:,.0f}) |"
            )
    return rows


def sweep(sections: list[tuple[str, list[dict], dict | None]]) -> list[str]:
    rows = [
        "| vectors | index | search setting | p50 ms | p95 ms | recall@10 | recall@50 (k=50) |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for label, results, _ in sections:
        for r in results:
            if r["kind"] == ann.FLAT:
                continue
            for s in r["settings"]:
                rows.append(
                    f"| {label} | {r['kind']} | {_setting(s)} | {s['p50_ms']:.2f} | {s['p95_ms']:.2f} "
                    f"| {s['recall10']:.3f} | {s['recall50']:.3f} |"
                )
    return rows


def machine() -> str:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
    keep = ("Architecture", "CPU(s):", "Model name", "Thread(s) per core", "Core(s) per socket", "L2", "L3")
    lines = [line for line in lscpu if line.startswith(keep)]
    lines.append(f"faiss {faiss.__version__}, numpy {np.__version__}, Python {platform.python_version()}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--kinds", nargs="+", default=[ann.FLAT, ann.HNSW, ann.HNSW_FP16, ann.IVF])
    parser.add_argument("--section", default="ann", help="the RESULTS.md section to write (default: %(default)s)")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=faiss.omp_get_max_threads(), help="FAISS OpenMP threads")
    parser.add_argument("--real", type=int, default=20_000, help="real embeddings to test (0: none)")
    parser.add_argument("--out", type=Path, help="Markdown file to write the section into (raw numbers: .json beside)")
    parser.add_argument("--report-only", action="store_true", help="rewrite --out from its .json, run nothing")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    raw = args.out.with_name("ann_results.json") if args.out else None
    if args.report_only and raw:
        write_section(args.out, args.section, report(**json.loads(raw.read_text())))
        return

    command = "python bench/ann_bench.py " + " ".join(sys.argv[1:])
    load_start = os.getloadavg()
    sections: list[tuple[str, list[dict], dict | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        sources = [(f"synthetic {n:,}", {"kind": "synthetic", "n": n, "queries": args.queries}) for n in args.sizes]
        if args.real and TRAIN.is_dir():
            real = real_source(args.real, args.queries, Path(tmp))
            n_real = len(np.load(real["base"], mmap_mode="r"))
            same = {"kind": "synthetic", "n": n_real, "queries": args.queries}
            sources[:0] = [(f"real {n_real:,}", real), (f"synthetic {n_real:,}", same)]
        for label, source in sources:
            results = []
            for kind in args.kinds:
                job = {"source": source, "kind": kind, "threads": args.threads, "gt": f"{tmp}/gt.npy"}
                results.append(run_job(job))
                print(json.dumps(results[-1]), flush=True)
            base, queries = load(source) if source["kind"] == "file" or source["n"] <= 100_000 else (None, None)
            stats = describe(base, queries) if base is not None else None
            sections.append((label, results, stats))
    if args.out:
        run = {"command": command, "sections": sections, "threads": args.threads, "load": [load_start, os.getloadavg()]}
        raw.write_text(json.dumps(run, indent=1))
        write_section(args.out, args.section, report(**run))


def report(command: str, sections: list, threads: int, load: list) -> str:
    """The RESULTS.md section: machine, summary table, parameter sweep, statistics of the vectors."""
    lines = [
        "## Approximate nearest-neighbour search",
        "",
        f"Command: `nice -n 10 {command}` (FAISS threads: {threads}; queries are single vectors, k=10, one at a time).",
        "",
        "```",
        machine(),
        "load average (1, 5, 15 min) at start " + " / at end ".join(str(tuple(round(x, 2) for x in t)) for t in load),
        "```",
        "",
    ]
    lines += ["### Summary", ""] + summary(sections) + ["", "### Search-parameter sweep", ""] + sweep(sections)
    lines += ["", "### The vectors compared", ""]
    stats = [(label, s) for label, _, s in sections if s]
    if stats:
        keys = list(stats[0][1])
        lines += ["| vectors | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
        lines += [f"| {label} | " + " | ".join(f"{s[k]:.3f}" for k in keys) + " |" for label, s in stats]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
