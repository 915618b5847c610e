"""Indexing and batch answering on a real Ray cluster (#16): a head and a worker on 127.0.0.1, one CPU each.

The cluster tests are slow (a cluster starts in about 20 s). Without Ray they are skipped, except under CI
(env CI set), where they fail: CI installs the extra. The tests of errors, ordering and the row format run
in the fast lane.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag.cluster.connect import host_port
from rag.cluster.index import HEADER, Row, file_rows, in_file_order
from rag.index.build import embed_here, update_index
from rag.index.store import Index

from .builders import make_docx, make_pdf
from .conftest import ROOT
from .ray_cluster import LocalCluster, free_port

MIN_COSINE = 0.9999
GOLD = ROOT / "eval" / "gold.jsonl"


def require_ray() -> None:
    try:
        import ray.data  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("Ray is not installed; CI must run the cluster tests (python3 tasks.py setup installs it)")
        pytest.skip("Ray is not installed (pip install .[ray])")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Head and one worker, each ``--num-cpus 1``, under a private temp dir; stopped by their own PIDs."""
    require_ray()
    started = LocalCluster(tmp_path_factory.mktemp("ray")).start(workers=1)
    yield started
    started.stop()
    assert not any(node.processes() for node in started.nodes), "a process of the test cluster outlived it"


def run_cli(module: str, *args: str, env: dict | None = None, stdin: bytes | None = None, timeout: float = 900):
    """``python -m module args`` in a fresh process: (exit code, stdout, stderr)."""
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env=env or {**os.environ, "RAY_AUTH_MODE": "disabled"},
        timeout=timeout,
    )
    return result.returncode, result.stdout.decode("utf-8", "replace"), result.stderr.decode("utf-8", "replace")


SUBJECTS = ("The harbour board", "A river survey", "The county archive", "Our field team", "The weather station")
VERBS = ("recorded", "reported", "counted", "measured", "listed")
THINGS = ("ferries", "millimetres of rain", "nesting herons", "visitors", "salmon", "storm warnings")
PLACES = ("Aldmouth", "Bracken Fell", "Corrie Bay", "Dunmore", "Eskdale", "Fenwick")


def write_corpus(folder: Path, files: int, paragraphs: int, seed: int = 0) -> None:
    """``files`` text files of ``paragraphs`` paragraphs each, deterministic (about 2 chunks a paragraph),
    plus one file of each other kind, a file in a sub-folder and a file no text encoding fits (skipped)."""
    rng = random.Random(seed)

    def paragraph() -> str:
        return " ".join(
            f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.randint(2, 9000)} {rng.choice(THINGS)} near "
            f"{rng.choice(PLACES)} in {rng.randint(1890, 2030)}."
            for _ in range(rng.randint(6, 12))
        )

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (folder / f"log-{i:03d}.txt").write_text("\n\n".join(paragraph() for _ in range(paragraphs)), encoding="utf-8")
    (folder / "notes.md").write_text(f"# Notes\n\n{paragraph()}\n", encoding="utf-8")
    (folder / "page.html").write_text(f"<html><body><h1>Page</h1><p>{paragraph()}</p></body></html>", encoding="utf-8")
    (folder / "report.pdf").write_bytes(make_pdf([[paragraph()[:90]], [paragraph()[:90]]]))
    (folder / "memo.docx").write_bytes(make_docx([paragraph(), paragraph()]))
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "sub" / "inner.txt").write_text(paragraph(), encoding="utf-8")
    (folder / "garbled.txt").write_bytes(bytes(range(0x80, 0x100)) * 3)


def assert_same_index(local_dir: Path, other_dir: Path) -> None:
    """The same chunks, offsets, kept texts and manifest entries, and vectors within MIN_COSINE per chunk."""
    local, other = Index.load(local_dir), Index.load(other_dir)
    assert other.chunks == local.chunks
    assert other.texts == local.texts
    assert other.manifest["files"] == local.manifest["files"]
    for key in ("model", "dim", "tokenizer", "chunk_tokens", "chunk_overlap", "indexed_text", "n_chunks", "lexical"):
        assert other.manifest[key] == local.manifest[key], key
    n = len(local.chunks)
    cosine = np.sum(local.vectors_of(0, n) * other.vectors_of(0, n), axis=1)
    assert cosine.min() >= MIN_COSINE, f"chunk {int(cosine.argmin())}: cosine {cosine.min():.6f}"


# ---------------------------------------------------------------- fast: no cluster needed


class StubEncoder:
    """Vectors that depend only on the text: enough to follow rows through the cluster's row format."""

    name, dim = "stub", 8

    def encode(self, texts, batch_size=32, progress=False):
        out = np.array([[len(t), t.count(" "), sum(map(ord, t)) % 97, 1, 0, 0, 0, 0] for t in texts], np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def cluster_rows(files, config, encoder) -> list[Row]:
    """What the cluster's stages make of ``files`` (file_rows, then vectors as the embed actors add them)."""
    from rag.index.store import indexed_text
    from rag.types import Chunk

    rows = []
    for seq, (source, path, digest) in enumerate(files):
        item = {"seq": seq, "source": source, "path": str(path), "digest": digest}
        for r in file_rows(item, config.size, config.overlap):
            chunk = Chunk(r["source"], r["start"], r["end"], r["text"], r["n_tokens"])
            header = r["row"] == HEADER
            vector = np.zeros(encoder.dim, np.float32) if header else encoder.encode([indexed_text(chunk)])[0]
            rows.append(Row(**r, vector=vector))
    return rows


def drawn(embedded) -> list:
    """(file, its rows) for each file, each file's rows drawn before the next file is asked for."""
    return [(e, list(e.rows)) for e in embedded]


def test_cluster_rows_regroup_into_what_a_local_build_embeds(tmp_path):
    from rag.chunking.chunker import ChunkConfig
    from rag.documents.folder import scan

    write_corpus(tmp_path / "docs", files=3, paragraphs=4)
    files = [(source, path, "") for source, path in scan(tmp_path / "docs")[0]]
    config, encoder = ChunkConfig(), StubEncoder()
    here = drawn(embed_here(encoder)(files, config))
    there = drawn(in_file_order(iter(cluster_rows(files, config, encoder)), files))
    assert [e.source for e, _ in there] == [e.source for e, _ in here]
    for (a, rows_a), (b, rows_b) in zip(here, there):
        assert (b.entry, b.kept) == (a.entry, a.kept)
        assert [c for chunks, _ in rows_b for c in chunks] == [c for chunks, _ in rows_a for c in chunks]
        if rows_a:
            assert np.allclose(np.vstack([v for _, v in rows_b]), np.vstack([v for _, v in rows_a]))
    assert any(e.entry.skipped for e, _ in there) and any(e.kept for e, _ in there)  # garbled.txt; page.html, ...


def test_rows_out_of_order_stop_the_build(tmp_path):
    from rag.chunking.chunker import ChunkConfig
    from rag.documents.folder import scan

    write_corpus(tmp_path / "docs", files=2, paragraphs=4)
    files = [(source, path, "") for source, path in scan(tmp_path / "docs")[0]][:2]
    rows = cluster_rows(files, ChunkConfig(), StubEncoder())
    swapped = [rows[0], rows[2], rows[1], *rows[3:]]  # two chunks of the first file swapped
    with pytest.raises(RuntimeError, match="out of order"):
        for embedded in in_file_order(iter(swapped), files):
            list(embedded.rows)
    second_first = [r for r in rows if r.seq == 1] + [r for r in rows if r.seq == 0]
    with pytest.raises(RuntimeError, match="out of order"):
        list(in_file_order(iter(second_first), files))


def test_addresses():
    assert host_port("10.0.0.5:6379") == ("10.0.0.5", 6379)
    assert host_port("[::1]:6379") == ("::1", 6379)
    assert host_port("auto") is None and host_port("head:port") is None


def test_unreachable_cluster_is_one_line_exit_2_and_the_index_is_untouched(docs, tmp_path, embedder):
    require_ray()
    index = tmp_path / "index"
    update_index(docs, index, embedder)
    before = {p: p.stat().st_mtime_ns for p in index.rglob("*")}
    pointer = (index / "CURRENT").read_text()
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    common = ["--docs", str(docs), "--index", str(index), "--ray", address]
    (docs / "new.txt").write_text("A new file that a build would have to embed.", encoding="utf-8")
    runs = [
        run_cli("rag.index", *common),
        run_cli("rag.ask", "--json", *common, stdin=b"who supplies GPUs?\n"),
        run_cli("rag.eval", "--gold", str(GOLD), "--limit", "2", "--no-save", *common),
    ]
    for code, out, err in runs:
        assert code == 2, err
        assert out == ""
        assert err.splitlines() == [f"error: cannot reach the Ray cluster at {address} (Connection refused)"]
    assert (index / "CURRENT").read_text() == pointer
    assert {p: p.stat().st_mtime_ns for p in index.rglob("*")} == before


class Listener:
    """A TCP server on 127.0.0.1 that accepts connections and never answers (a port that hangs)."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.connected = threading.Event()
        self.held: list = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.held.append(self.sock.accept()[0])
                self.connected.set()

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.fixture
def http_server():
    """A real HTTP server (http.server) on 127.0.0.1: something listens, but it is no Ray head."""
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_http_server_is_no_ray_head_one_line_exit_2_and_the_index_is_untouched(docs, tmp_path, http_server):
    """Issue #21: ``--ray`` at an HTTP server hung for minutes in ray.init; it is refused before Ray starts."""
    index = tmp_path / "index"
    code, out, err = run_cli("rag.index", "--docs", str(docs), "--index", str(index), "--ray", http_server)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"error: no Ray cluster at {http_server}: something else listens there (not Ray's gRPC head)"
    ]
    assert not index.exists()


def test_a_port_that_never_answers_is_refused_within_the_timeout():
    from rag.cluster.connect import ClusterUnreachable, check_reachable

    silent = Listener()
    try:
        with pytest.raises(ClusterUnreachable, match=r"cannot reach the Ray cluster at .* \(no answer in 0.5 s\)"):
            check_reachable(silent.address, timeout=0.5)
    finally:
        silent.close()


def test_sigterm_stops_the_address_check(docs, tmp_path):
    import signal

    silent = Listener()
    cmd = [
        sys.executable,
        "-m",
        "rag.index",
        "--docs",
        str(docs),
        "--index",
        str(tmp_path / "i"),
        "--ray",
        silent.address,
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert silent.connected.wait(120), "rag.index never reached the address"
        proc.terminate()
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        silent.close()
    assert proc.returncode == -signal.SIGTERM and b"Traceback" not in err


def test_without_ray_the_flag_says_how_to_install_it(docs, tmp_path):
    code = (
        "import sys; sys.modules['ray'] = None; from rag.commands.index import main; "
        f"sys.exit(main(['--docs', {str(docs)!r}, '--index', {str(tmp_path / 'index')!r}, '--ray', 'local']))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: --ray needs Ray, which is not installed (ray): pip install 'rag-extractive[ray]'"
    ]
    assert not (tmp_path / "index").exists()


def test_ray_answers_a_batch_not_one_question(docs, tmp_path):
    code, out, err = run_cli("rag.ask", "--docs", str(docs), "--index", str(tmp_path / "i"), "--ray", "local", "why?")
    assert (code, out) == (2, "")
    assert err.splitlines() == ["error: --ray answers a batch of questions read from stdin; give no question argument"]


def test_ray_actors_must_be_positive(docs, tmp_path):
    code, _, err = run_cli("rag.index", "--docs", str(docs), "--index", str(tmp_path / "i"), "--ray-actors", "0")
    assert code == 2 and "--ray-actors: must be a whole number of at least 1, not '0'" in err


# ---------------------------------------------------------------- slow: a real two-node cluster


@pytest.mark.slow
def test_index_on_the_cluster_is_the_local_index_and_stays_incremental(cluster, tmp_path, embedder):
    docs = tmp_path / "docs"
    write_corpus(docs, files=6, paragraphs=5)
    local, remote = tmp_path / "local", tmp_path / "remote"
    _, report = update_index(docs, local, embedder)
    code, out, err = run_cli("rag.index", "--docs", str(docs), "--index", str(remote), "--ray", cluster.address,
                             env=cluster.env())  # fmt: skip
    assert code == 0, err
    assert f"({report.summary()})" in out and report.skipped and report.added
    assert_same_index(local, remote)

    # Incremental: only the changed and added files are embedded on the cluster.
    with open(docs / "log-000.txt", "a", encoding="utf-8") as f:
        f.write("\n\nThe harbour board closed the pier in 2031.")
    (docs / "log-001.txt").unlink()
    (docs / "zz-new.txt").write_text("Dunmore opened a ferry terminal in 1999. " * 30, encoding="utf-8")
    old_build = (remote / "CURRENT").read_text().split()[0]
    code, out, err = run_cli("rag.index", "--docs", str(docs), "--index", str(remote), "--ray", cluster.address,
                             env=cluster.env())  # fmt: skip
    assert code == 0, err
    _, report = update_index(docs, local, embedder)
    assert (len(report.added), len(report.changed), len(report.removed)) == (1, 1, 1)
    assert f"({report.summary()})" in out
    assert_same_index(local, remote)
    builds = [p.name for p in remote.iterdir() if p.name.startswith("build-")]
    assert builds == [(remote / "CURRENT").read_text().split()[0]] and old_build not in builds

    # The query side is unchanged: the cluster's index is used as it is, and answers as the local one.
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    pipes = [Pipeline(Settings(docs=docs, index=d, reader="baseline"), embedder=embedder) for d in (local, remote)]
    assert [p.refresh() for p in pipes] == [None, None]  # fresh: nothing to rebuild
    here, there = (p.retrieve("How many ferries did the harbour board count near Corrie Bay?") for p in pipes)
    assert [(p.source, p.start, p.end, p.text) for p in there] == [(p.source, p.start, p.end, p.text) for p in here]
    assert [p.score for p in there] == pytest.approx([p.score for p in here], abs=1e-4)


def answers(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def assert_same_answers(local: list[dict], remote: list[dict]) -> None:
    """The same fields, texts and offsets, line by line; scores equal to 1e-3 (other thread counts)."""
    assert [r.get("question") for r in remote] == [r.get("question") for r in local]
    for a, b in zip(local, remote):
        assert b.keys() == a.keys()
        if "error" in a:
            assert b == a
            continue
        assert b["abstained"] == a["abstained"]
        for x, y in [(a["answer"], b["answer"]), *zip(a["passages"], b["passages"])]:
            if x is None or y is None:
                assert x == y
                continue
            assert {k: v for k, v in y.items() if k != "score"} == {k: v for k, v in x.items() if k != "score"}
            assert y["score"] == pytest.approx(x["score"], abs=1e-3)
        assert len(b["passages"]) == len(a["passages"])


@pytest.mark.slow
def test_batch_answers_on_the_cluster_come_in_input_order(cluster, docs, tmp_path):
    gold = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines()[:10]]
    lines = [g["question"].encode() for g in gold]
    lines[3:3] = [b"   ", b"x" * 2001, b"caf\xe9?"]  # blank (skipped), too long, not UTF-8: error lines
    stdin = b"\n".join(lines) + b"\n"
    common = ["--json", "--docs", str(docs), "--index", str(tmp_path / "index")]
    code_here, out_here, err_here = run_cli("rag.ask", *common, stdin=stdin, env=cluster.env())
    code, out, err = run_cli("rag.ask", *common, "--ray", cluster.address, "--ray-actors", "2", stdin=stdin,
                             env=cluster.env())  # fmt: skip
    assert code == code_here == 2, err
    remote = answers(out)
    assert len(remote) == 12
    assert [r["question"] for r in remote[:3]] == [g["question"] for g in gold[:3]]
    assert "error" in remote[3] and "error" in remote[4]
    assert_same_answers(answers(out_here), remote)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [line for line in err_here.splitlines() if line.startswith("error:")] and len(errors) == 2


@pytest.mark.slow
def test_evaluation_on_the_cluster_scores_as_here(cluster, docs, tmp_path):
    common = ["--gold", str(GOLD), "--limit", "12", "--json", "--no-save", "--docs", str(docs)]
    common += ["--index", str(tmp_path / "index")]
    code_here, out_here, err_here = run_cli("rag.eval", *common, env=cluster.env())
    code, out, err = run_cli("rag.eval", *common, "--ray", cluster.address, env=cluster.env())
    assert code == code_here == 0, err
    here, remote = json.loads(out_here), json.loads(out)
    assert remote["settings"]["ray_actors"] == 2
    for key in ("n_questions", "em", "f1", "answerable", "unanswerable", "retrieval", "offsets", "n_wrong"):
        assert remote[key] == here[key], key
    assert [w["id"] for w in remote["wrong"]] == [w["id"] for w in here["wrong"]]


@pytest.mark.slow
def test_a_worker_killed_mid_build_leaves_the_build_complete_and_equal(cluster, tmp_path, embedder):
    docs = tmp_path / "docs"
    write_corpus(docs, files=24, paragraphs=8, seed=1)
    local, remote = tmp_path / "local", tmp_path / "remote"
    update_index(docs, local, embedder)
    doomed = cluster.add_worker()
    build = subprocess.Popen(
        [sys.executable, "-m", "rag.index", "--docs", str(docs), "--index", str(remote), "--ray", cluster.address],
        cwd=ROOT,
        env=cluster.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300
        while not any("MapWorker" in cmd or "FlatMap" in cmd for cmd in doomed.processes().values()):
            assert build.poll() is None, "the build ended before the third node took any of its work"
            assert time.monotonic() < deadline, "the third node never took part in the build"
            time.sleep(0.5)
        time.sleep(3)  # let it take a share of the work
        assert build.poll() is None, "the build ended before the node could be killed"
        cluster.kill(doomed)
        out, err = build.communicate(timeout=900)
    finally:
        if build.poll() is None:
            build.kill()
    assert build.returncode == 0, err.decode()
    assert b"Traceback" not in err
    assert_same_index(local, remote)


@pytest.mark.slow
def test_ray_local_starts_a_cluster_in_process(docs, tmp_path, embedder):
    require_ray()
    local, remote = tmp_path / "local", tmp_path / "remote"
    update_index(docs, local, embedder)
    code, out, err = run_cli("rag.index", "--docs", str(docs), "--index", str(remote), "--ray", "local")
    assert code == 0, err
    assert "1 added" in out
    assert_same_index(local, remote)
