"""Concurrent chat questions (#23): clients asking at once through the chat's own API, on loopback.

    python bench/chat_load.py --clients 8 --questions 10 --out bench/RESULTS.md

For each ``--concurrency`` (the one-at-a-time server, 1, and the default), one ``rag ui`` server over a
copy of seeds/ is started; one client asks ``--questions`` questions alone, then ``--clients`` clients
ask that many each, all at once. Reported: per-question latency p50 and p95 (echo to answer, as a
person waits for it) and questions per second, with the load average, since 2 cores are easily shared.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = (
    "who supplies GPUs in the deal?",
    "When did OpenAI finalize the agreement with Google Cloud?",
    "Which company provides computing capacity to OpenAI?",
    "What project is worth $500 billion?",
    "Who else is part of the Stargate project?",
    "Which cloud provider did OpenAI mostly rely on before?",
    "What does the deal give Google Cloud?",
    "What is CoreWeave known for?",
    "Which news site reported the agreement?",
    "What is the capital of France?",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(work: Path, concurrency: int) -> tuple[subprocess.Popen, str]:
    """``rag ui`` over ``work``'s docs and index, serving once its page answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    cmd = [sys.executable, "-m", "rag", "ui", "--docs", str(work / "docs"), "--index", str(work / "index"),
           "--port", str(port), "--concurrency", str(concurrency)]  # fmt: skip
    log = open(work / f"server-{concurrency}.log", "wb")  # noqa: SIM115 - kept open for the server's life
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server stopped: {(work / f'server-{concurrency}.log').read_text()[-800:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the server did not start in 10 minutes")


def ask_all(url: str, questions: list[str], latencies: list[float]) -> None:
    """One client (its own session) asking ``questions`` in turn, as a person would: echo, then answer."""
    from gradio_client import Client

    api = Client(url, verbose=False)
    for question in questions:
        started = time.perf_counter()
        shown = api.predict(question, [], api_name="/echo")[0]
        history = api.predict(history=shown, api_name="/respond")
        if not history or history[-1].get("role") != "assistant":
            raise SystemExit(f"no answer to {question!r}")
        latencies.append(time.perf_counter() - started)


def load(url: str, clients: int, questions: int) -> dict:
    """``clients`` clients at once, ``questions`` each: latency p50/p95 and questions per second."""
    latencies: list[float] = []
    asked = [[QUESTIONS[(c + q) % len(QUESTIONS)] for q in range(questions)] for c in range(clients)]
    threads = [threading.Thread(target=ask_all, args=(url, a, latencies)) for a in asked]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": statistics.median(ordered), "p95": p95, "per_s": len(ordered) / seconds, "n": len(ordered),
            "load": os.getloadavg()[0]}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--questions", type=int, default=10, help="per client")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8], help="server settings to compare")
    parser.add_argument("--out", type=Path, help="write the results into this RESULTS.md section")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="chat-load-"))
    shutil.copytree(ROOT / "seeds", work / "docs")
    rows = []
    try:
        for concurrency in args.concurrency:
            proc, url = start(work, concurrency)
            try:
                load(url, 1, 2)  # warm: models, caches, the first session
                alone = load(url, 1, args.questions)
                together = load(url, args.clients, args.questions)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            rows.append((concurrency, alone, together))
            print(f"concurrency {concurrency}: alone p50 {alone['p50']:.2f} s, {args.clients} clients p50 "
                  f"{together['p50']:.2f} s p95 {together['p95']:.2f} s, {together['per_s']:.2f} q/s "
                  f"(alone {alone['per_s']:.2f} q/s; load {together['load']:.1f})", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = "\n".join(
        f"| {c} | {a['p50']:.2f} s | {a['per_s']:.2f} | {t['p50']:.2f} s | {t['p95']:.2f} s | {t['per_s']:.2f} | "
        f"{t['per_s'] / rows[0][2]['per_s']:.2f}x | {t['load']:.1f} |"
        for c, a, t in rows
    )
    text = f"""### Concurrent chat questions (bench/chat_load.py)

`rag ui` over seeds/ on loopback, questions asked through the chat's own API (echo, then answer),
{args.clients} clients at once asking {args.questions} questions each, against one client alone.
{os.cpu_count()} cores; the load average is the 1-minute one when the clients finished.

| --concurrency | alone p50 | alone q/s | {args.clients} clients p50 | p95 | q/s | q/s vs one at a time | load |
|---|---|---|---|---|---|---|---|
{table}
"""
    if args.out:
        write_section(args.out, "chat-load", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
