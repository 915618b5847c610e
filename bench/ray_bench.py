"""Indexing and batch answering on a Ray cluster against one process (#16): the same corpus, in one run.

    nice -n 10 python bench/ray_bench.py --out bench/RESULTS.md

Corpus: training paragraphs (../shared/data/train, never the benchmark) written 20 to a text file under
.cache/bench/ray-corpus, about ``--chunks`` chunks. This process is the driver; the clusters are real (``ray
start`` on 127.0.0.1, one CPU per node, tests/ray_cluster.py), started and stopped by this script.

- passages/s of a full build from scratch: here (``update_index``, ONNX Runtime on both cores), on a 1-node and
  on a 2-node cluster (``rag.cluster.index``), in interleaved rounds; the best round is shown, all in brackets;
- Ray's overhead on a small corpus: wall time of the whole ``python -m rag.index`` on seeds/ from scratch,
  here, with ``--ray local`` and with ``--ray ADDRESS``;
- questions/s of batch answering: here (one Pipeline), and spread over 1 and 2 actors of the 2-node cluster
  (``rag.cluster.spread``, the ``rag.ask --ray`` path), model loads included on both sides, interleaved rounds;
- peak resident memory of each node's processes and of one actor, sampled every 0.2 s;
- the ceilings that do not grow with the cluster: chunks/s read and chunked on one core (a read task's work)
  and chunks/s the driver takes in and writes (chunks.jsonl, BM25 counts, FAISS), embedding left out.

The 1-minute load average is written beside every number: other jobs share these 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from common import CACHE, ROOT, TRAIN_FILES, paragraphs, run_measured, write_section  # noqa: E402

from rag.chunking.chunker import ChunkConfig, iter_chunks  # noqa: E402
from rag.cluster.connect import cluster, pool_size  # noqa: E402
from rag.cluster.index import embed_on_ray  # noqa: E402
from rag.documents.folder import scan  # noqa: E402
from rag.index.build import read_file, update_index  # noqa: E402
from rag.index.embedding import load_embedder  # noqa: E402
from rag.types import Document  # noqa: E402
from tests.ray_cluster import LocalCluster, Node  # noqa: E402

PER_FILE = 20


def load() -> float:
    return round(os.getloadavg()[0], 2)


def corpus(target_chunks: int, n_questions: int) -> tuple[Path, list[str]]:
    """Text files of training paragraphs, about ``target_chunks`` chunks in all, and questions about them."""
    folder = CACHE / f"ray-corpus-{target_chunks}"
    picked: list[tuple[str, list[str]]] = []
    chunks = 0
    for context, questions in paragraphs(TRAIN_FILES[:4]):
        if chunks >= target_chunks:
            break
        picked.append((context, questions))
        chunks += sum(1 for _ in iter_chunks(Document("p.txt", context)))
    if not folder.is_dir():
        tmp = Path(tempfile.mkdtemp(dir=CACHE))
        for i in range(0, len(picked), PER_FILE):
            text = "\n\n".join(c for c, _ in picked[i : i + PER_FILE])
            (tmp / f"part-{i // PER_FILE:04d}.txt").write_text(text, encoding="utf-8")
        tmp.rename(folder)
    asked = [q for _, qs in picked for q in qs[:1]]
    step = max(1, len(asked) // n_questions)
    return folder, asked[::step][:n_questions]


@dataclass
class PeakRss:
    """Peak resident memory (MiB) of each node's processes together, and of its largest actor, while running."""

    nodes: list[Node]
    node_mib: dict[int, float] = field(default_factory=dict)
    actor_mib: float = 0.0

    def __enter__(self) -> PeakRss:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            for i, node in enumerate(self.nodes):
                total = 0.0
                for pid, command in node.processes().items():
                    mib = _rss_mib(pid)
                    total += mib
                    if "MapWorker" in command:
                        self.actor_mib = max(self.actor_mib, mib)
                self.node_mib[i] = max(self.node_mib.get(i, 0.0), total)


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def build(docs: Path, address: str | None, embedder) -> dict:
    """One build from scratch, timed from the first file read to the switch-in (a cluster joined beforehand)."""
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        before = load()
        if address is None:
            started = time.perf_counter()
            _, report = update_index(docs, Path(tmp) / "index", embedder, load=False)
            seconds = time.perf_counter() - started
        else:
            with cluster(address) as ray:
                embed = embed_on_ray(embedder.name, embedder.dim, pool_size(ray, None))
                started = time.perf_counter()
                _, report = update_index(docs, Path(tmp) / "index", embedder, load=False, embed_files=embed)
                seconds = time.perf_counter() - started
    chunks = report.embedded_chunks
    return {"s": seconds, "chunks": chunks, "per_s": chunks / seconds, "load": (before, load())}


def answer_here(docs: Path, index: Path, questions: list[str]) -> dict:
    """``rag.ask`` reading stdin: one Pipeline (its models loaded in the timed window, as an actor's are)."""
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    before, started = load(), time.perf_counter()
    pipe = Pipeline(Settings(docs=docs, index=index))
    pipe.refresh()
    texts = [r.answer.text if r.answer else None for r in (pipe.ask(q) for q in questions)]
    seconds = time.perf_counter() - started
    return {"s": seconds, "per_s": len(questions) / seconds, "load": (before, load()), "answers": texts}


def answer_spread(address: str, docs: Path, index: Path, questions: list[str], nodes: list[Node], actors: int) -> dict:
    """The ``rag ask --ray`` path: a Pipeline per actor (loaded once), questions in batches, in input order."""
    import json

    from rag.cluster.spread import spread
    from rag.commands.ask import Answerer
    from rag.settings import Settings

    settings = Settings(docs=docs, index=index).absolute()  # the defaults, as rag ask --ray sends its actors
    with cluster(address), PeakRss(nodes) as rss:
        before, started = load(), time.perf_counter()
        replies = list(spread([q.encode() for q in questions], partial(Answerer, settings, True), actors))
        seconds = time.perf_counter() - started
    texts = [(json.loads(r.out)["answer"] or {}).get("text") for r in replies]
    return {"s": seconds, "per_s": len(questions) / seconds, "load": (before, load()), "answers": texts,
            "actor_mib": rss.actor_mib, "node_mib": dict(rss.node_mib)}  # fmt: skip


class FreeEncoder:
    """Random unit vectors, no model: what is left of a build when embedding costs nothing."""

    name, dim = "free", 384

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        out = self.rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


LOAD_RSS = (
    "import sys; from pathlib import Path; from rag.index.store import Index\n"
    "def rss(): return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS'))\n"
    "before = rss(); index = Index.load(Path(sys.argv[1])); print((rss() - before) * 1024 / len(index.chunks))"
)


def ceilings(docs: Path, copies: int) -> dict:
    """On ``copies`` copies of the corpus: chunks/s read and chunked on one core, chunks/s a whole build writes
    with free embedding (the driver's share is the difference), bytes per chunk of each file of the build, and
    resident bytes per chunk of the index loaded (``Index.load``, in a fresh process)."""
    big = CACHE / f"ray-corpus-x{copies}"
    if not big.is_dir():
        tmp = Path(tempfile.mkdtemp(dir=CACHE))
        for i in range(copies):  # hard links: a link out of the docs folder would be refused, rightly
            (tmp / f"copy-{i:03d}").mkdir()
            for file in docs.glob("*.txt"):
                os.link(file, tmp / f"copy-{i:03d}" / file.name)
        tmp.rename(big)
    files = [(source, path, "") for source, path in scan(big)[0]]
    list(read_file(*files[0], ChunkConfig())[2])  # warm-up: the tokenizer loads on first use
    started = time.perf_counter()
    chunks = sum(1 for s, p, d in files for _ in read_file(s, p, d, ChunkConfig())[2])
    read = chunks / (time.perf_counter() - started)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        index = Path(tmp) / "index"
        started = time.perf_counter()
        update_index(big, index, FreeEncoder(), load=False)
        build_per_s = chunks / (time.perf_counter() - started)
        live = index / (index / "CURRENT").read_text().split()[0]
        disk: dict[str, float] = {}
        for path in live.rglob("*"):
            if path.is_file():
                key = "bm25/" if "bm25" in path.relative_to(live).parts else path.name
                disk[key] = disk.get(key, 0) + path.stat().st_size / chunks
        loaded = subprocess.run([sys.executable, "-c", LOAD_RSS, str(index)], capture_output=True, text=True,
                                cwd=ROOT, check=True).stdout  # fmt: skip
    write = 1 / (1 / build_per_s - 1 / read)
    return {"chunks": chunks, "read": read, "build": build_per_s, "write": write, "disk": disk,
            "loaded": float(loaded), "load": load()}  # fmt: skip


def interleaved(runs: dict[str, Callable[[], dict]], rounds: int, into: dict[str, list]) -> None:
    for _ in range(rounds):
        for key, run in runs.items():
            into.setdefault(key, []).append(run())
            print(key, {k: v for k, v in into[key][-1].items() if k != "answers"}, flush=True)


def best_of(runs: list[dict]) -> dict:
    return max(runs, key=lambda r: r["per_s"])


def command_seconds(extra: list[str], env: dict) -> float:
    """Wall time of ``python -m rag.index`` on seeds/ into a fresh index."""
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        cmd = [sys.executable, "-m", "rag.index", "--docs", str(ROOT / "seeds"), "--index", str(Path(tmp) / "i")]
        seconds, _, _ = run_measured([*cmd, *extra], ROOT, env)
    return seconds


def machine() -> str:
    import ray

    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
    keep = ("CPU(s):", "Model name", "Thread(s) per core")
    lines = [line for line in lscpu if line.startswith(keep)]
    lines.append(f"ray {ray.__version__}, Python {platform.python_version()}, {os.cpu_count()} cores, 24 GiB")
    return "\n".join(lines)


def fmt_load(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.2f} → {pair[1]:.2f}"


def report(results: dict, args: argparse.Namespace, command: str) -> str:
    builds, over, answers, ceil = results["builds"], results["overhead"], results["answers"], results["ceilings"]
    disk = ", ".join(f"{name} {size:,.0f} B" for name, size in sorted(ceil["disk"].items()) if size >= 1)
    chunks = builds["here"][0]["chunks"]
    lines = [
        "## Scaling out with Ray",
        "",
        f"Command: `nice -n 10 {command}`. Corpus: {results['files']} text files of training paragraphs, "
        f"{chunks:,} chunks; every build from scratch, timed from the first file read to the switch-in (joining "
        "the cluster, about a second, left out; the actor pool's start, with one model load per actor, counted). "
        "Clusters: `ray start` on 127.0.0.1, one CPU per node, one embedder actor of one thread per CPU; here: "
        f"one process, ONNX Runtime on both cores. {args.rounds} interleaved rounds, the best shown (all in "
        "brackets), with the 1-minute load average before → after it: other jobs shared these 2 cores, and a "
        "loaded machine favours the side with more processes, so read the cluster rows as what Ray costs and "
        "keeps, not as a speed-up (two nodes on one 2-core machine have no more CPU than one process).",
        "",
        "```",
        results["machine"],
        "```",
        "",
        "| indexing | passages/s (rounds) | seconds | load |",
        "|---|---|---:|---|",
    ]
    names = {"here": "here (no Ray)", "one": "1-node cluster", "two": "2-node cluster"}
    for key, name in names.items():
        best = best_of(builds[key])
        rounds = " / ".join(f"{r['per_s']:.1f}" for r in builds[key])
        lines.append(f"| {name} | **{best['per_s']:.1f}** ({rounds}) | {best['s']:.1f} | {fmt_load(best['load'])} |")
    node_mib = ", ".join(f"{m:.0f}" for m in results["embed_node_mib"].values())
    lines += [
        "",
        f"Peak RSS while indexing on the 2-node cluster: one embedder actor {results['embed_actor_mib']:.0f} MiB; "
        f"each node's processes together {node_mib} MiB (head first: GCS, raylet, agents, idle workers, actors).",
        "",
        f"What does not grow with the cluster, on {args.copies} copies of the corpus ({ceil['chunks']:,} chunks; "
        f"load {ceil['load']:.2f}): reading and chunking **{ceil['read']:,.0f} chunks/s** on one core (a read "
        f"task's work); a whole build with free embedding (random vectors) {ceil['build']:,.0f} chunks/s, so the "
        f"driver's share (taking rows in, writing chunks.jsonl, BM25 counts and FAISS) is "
        f"**{ceil['write']:,.0f} chunks/s** on its one core. The build on disk per chunk: {disk}; "
        f"`Index.load` of it holds **{ceil['loaded'] / 1024:,.1f} KiB per chunk** resident (a fresh process).",
        "",
        f"Overhead on a small corpus (seeds/, one file, {results['seed_chunks']} chunks): wall time of the whole "
        "`python -m rag.index` into a fresh index, process start and model loads included.",
        "",
        "| command | seconds | over here |",
        "|---|---:|---:|",
    ]
    for name, seconds in over.items():
        lines.append(f"| {name} | {seconds:.1f} | {seconds - over['here']:+.1f} |")
    here_answers = best_of(answers["here"])["answers"]
    n = len(here_answers)
    lines += [
        "",
        f"Batch answering: {n} training questions about the corpus, neural reader, hybrid retrieval, top-k 5; "
        "here as `rag.ask` reads stdin (one Pipeline), on the cluster the `rag.ask --ray` path "
        "(`rag.cluster.spread`); model loads are in the timed window on both sides (once here, once per actor "
        "there). Same answers: the answer text equals the one given here.",
        "",
        "| answering | questions/s (rounds) | seconds | same answers | load | peak RSS: one actor; each node (MiB) |",
        "|---|---|---:|---:|---|---|",
    ]
    rows = (("here", "here (one Pipeline)"), ("1", "2-node cluster, 1 actor"), ("2", "2-node cluster, 2 actors"))
    for key, name in rows:
        best = best_of(answers[key])
        rounds = " / ".join(f"{r['per_s']:.2f}" for r in answers[key])
        same = sum(a == b for a, b in zip(best["answers"], here_answers))
        memory = "-"
        if "actor_mib" in best:
            memory = f"{best['actor_mib']:.0f}; " + ", ".join(f"{m:.0f}" for m in best["node_mib"].values())
        lines.append(
            f"| {name} | **{best['per_s']:.2f}** ({rounds}) | {best['s']:.1f} | {same}/{n} | "
            f"{fmt_load(best['load'])} | {memory} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=2000, help="about this many chunks in the corpus")
    parser.add_argument("--questions", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--copies", type=int, default=24, help="copies of the corpus for the driver's ceilings")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    os.environ["RAY_AUTH_MODE"] = "disabled"  # the private clusters below run without tokens
    CACHE.mkdir(parents=True, exist_ok=True)
    docs, questions = corpus(args.chunks, args.questions)
    embedder = load_embedder()
    results: dict = {"machine": machine(), "files": len(list(docs.glob("*.txt"))), "builds": {}, "answers": {}}
    results["ceilings"] = ceilings(docs, args.copies)
    print(results["ceilings"], flush=True)
    nodes = LocalCluster(Path(tempfile.mkdtemp(prefix="rag-ray-bench-", dir="/tmp")))
    try:
        nodes.start(workers=0)
        here = partial(build, docs, None, embedder)
        interleaved(
            {"here": here, "one": partial(build, docs, nodes.address, embedder)}, args.rounds, results["builds"]
        )
        nodes.add_worker()
        interleaved(
            {"here": here, "two": partial(build, docs, nodes.address, embedder)}, args.rounds, results["builds"]
        )
        with PeakRss(nodes.nodes) as rss:
            build(docs, nodes.address, embedder)
        results["embed_actor_mib"], results["embed_node_mib"] = rss.actor_mib, dict(rss.node_mib)
        env = nodes.env()
        seed = next((ROOT / "seeds").glob("*.txt")).read_text(encoding="utf-8")
        results["seed_chunks"] = sum(1 for _ in iter_chunks(Document("seed.txt", seed)))
        results["overhead"] = {
            "here": command_seconds([], env),
            "--ray local (a cluster started in the process)": command_seconds(["--ray", "local"], env),
            "--ray ADDRESS (the running 2-node cluster)": command_seconds(["--ray", nodes.address], env),
        }
        print(results["overhead"], flush=True)
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            index = Path(tmp) / "index"
            update_index(docs, index, embedder, load=False)
            spread_on = partial(answer_spread, nodes.address, docs, index, questions, nodes.nodes)
            runs = {"here": partial(answer_here, docs, index, questions), "1": partial(spread_on, 1)}
            interleaved({**runs, "2": partial(spread_on, 2)}, args.rounds, results["answers"])
    finally:
        nodes.stop()
        shutil.rmtree(nodes.temp_dir, ignore_errors=True)
    text = report(results, args, "python bench/ray_bench.py " + " ".join(sys.argv[1:]))
    print(text)
    if args.out:
        write_section(args.out, "ray", text)


if __name__ == "__main__":
    main()
