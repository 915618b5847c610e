"""Helpers shared by the benchmarks: training-set text, an embedding cache, memory readings, RESULTS.md sections.

The SQuAD-format training files are read from ``../shared/data/train`` and never copied into the
project; embeddings of them are cached under ``.cache/bench`` (git-ignored).
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

if str(Path(__file__).resolve().parent.parent) not in sys.path:  # the benches run from a checkout
    sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from rag.eval.gold import read_squad  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ROOT.parent / "shared" / "data" / "train"
CACHE = ROOT / ".cache" / "bench"
# The benchmark (../shared/data/squad-v1.1) is never read here.
TRAIN_FILES = ("qed_train.json", "qed_dev.json", "amazon_reviews_v1.0.json", "reddit_v1.0.json", "covid_qa.json")


def paragraphs(files: tuple[str, ...] = TRAIN_FILES) -> list[tuple[str, list[str]]]:
    """(context, its questions) of every distinct paragraph of the training files, in file order."""
    seen: dict[str, list[str]] = {}
    for name in files:
        for q in read_squad(TRAIN / name):
            seen.setdefault(q.context, []).append(q.question)
    return list(seen.items())


def cut(text: str, chars: int = 500) -> str:
    """``text`` cut to at most ``chars`` characters at a word boundary (about 100-128 MiniLM word pieces)."""
    if len(text) <= chars:
        return text
    head = text[:chars]
    space = head.rfind(" ")
    return head[:space] if space > chars // 2 else head


def cached(name: str, texts: list[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """``encode(texts)``, cached on disk under a hash of the texts."""
    digest = hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest()[:16]
    path = CACHE / f"{name}-{digest}.npy"
    if path.is_file():
        return np.load(path)
    vectors = np.ascontiguousarray(encode(texts), dtype=np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors


def proc_status_mib(field: str) -> float:
    """A memory field of /proc/self/status (VmRSS, VmHWM, ...) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def reset_peak_rss() -> None:
    """Reset VmHWM to the current resident set size (Linux: writing 5 to /proc/self/clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    ms = np.asarray(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def write_section(path: Path, name: str, text: str) -> None:
    """Replace (or append) the part of ``path`` between ``<!-- begin name -->`` and ``<!-- end name -->``."""
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    block = f"{begin}\n{text.strip()}\n{end}"
    old = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmarks\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    new = pattern.sub(lambda _: block, old) if pattern.search(old) else old.rstrip() + "\n\n" + block + "\n"
    path.write_text(new, encoding="utf-8")


def real_corpus(max_chunks: int = 20_000, n_queries: int = 1000, seed: int = 0) -> tuple[list[str], list[str]]:
    """Chunks (as the indexer cuts them) of randomly chosen training paragraphs, about ``max_chunks`` in all,
    and ``n_queries`` questions asked about those paragraphs."""
    from rag.chunking.chunker import iter_chunks
    from rag.types import Document

    rng = np.random.default_rng(seed)
    paras = paragraphs()
    chunks: list[str] = []
    questions: list[str] = []
    for i in rng.permutation(len(paras)):
        context, qs = paras[i]
        pieces = [c.text for c in iter_chunks(Document(f"p{i}", context))]
        if len(chunks) + len(pieces) > max_chunks:
            break
        chunks.extend(pieces)
        questions.extend(qs)
    picked = rng.choice(len(questions), size=min(n_queries, len(questions)), replace=False)
    return chunks, [questions[j] for j in sorted(picked)]


def run_measured(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float, str]:
    """Run ``cmd`` as a fresh process: (wall seconds, its peak RSS in MiB, its stdout); exits on failure."""
    import os
    import subprocess
    import tempfile
    import time

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[1:4])} failed ({proc.returncode}): {err.read().decode()[-500:]}")
        return seconds, usage.ru_maxrss / 1024, out.read().decode()
