"""Chaos bench (#21): the chat server on loopback under a mixed load while faults are injected at random.

    python bench/chaos.py --minutes 60            # the report's run; CI runs a short one (tests/test_chaos.py)

Load: 4 clients asking questions through the chat's API, and one more adding, replacing and removing
documents through the same API. Faults, one at a time at random: ``kill -9`` of the server and a
restart; the index folder's disk filled, then freed (the index folder is a small tmpfs when this runs
as root, else this fault is left out); a concurrent ``python -m rag.index``; a file of the live build
truncated. At each restart and at the end: every cited span's offsets slice its document (checked as
each answer arrives, on documents that never change); the index on disk matches the docs folder; no
document is lost or left in a hidden folder, and every "done" message holds (a document action
interrupted by a kill may go either way).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

from rag.documents.folder import doc_paths  # noqa: E402
from rag.index.store import Index  # noqa: E402
from ui.reply import digest  # noqa: E402

PLACES = ("Aldmouth", "Bracken Fell", "Corrie Bay", "Dunmore", "Eskdale", "Fenwick", "Glenholm", "Harrow Point")
NAMES = ("Tomasz Wren", "Amina Juma", "Li Wei", "Maria Lopez", "Jon Park", "Ines Duarte", "Oskar Lind", "Ruth Okafor")
CLIENTS = 4
HREF = re.compile(r'href="(document\?[^"]+)"')
TMPFS_BYTES = 96 * 2**20


@dataclass
class Tally:
    """What happened: load held, faults injected, and anything wrong."""

    answers: int = 0
    unavailable: int = 0  # requests that met a server being restarted
    spans_checked: int = 0
    bad_offsets: list[str] = field(default_factory=list)
    actions: dict[str, int] = field(default_factory=dict)
    refused_actions: int = 0
    refusals: dict[str, int] = field(default_factory=dict)  # why, by the message's reason
    faults: dict[str, int] = field(default_factory=dict)
    checks: int = 0
    problems: list[str] = field(default_factory=list)  # lost or hidden files, index != folder, stale "done"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, key: str) -> None:
        with self.lock:
            counts = getattr(self, name)
            counts[key] = counts.get(key, 0) + 1


class Server:
    """``python -m ui.app`` in a session of its own: killed with ``kill -9``, restarted on the same port."""

    def __init__(self, docs: Path, index: Path, port: int, log: Path) -> None:
        self.docs, self.index, self.port, self.log = docs, index, port, log
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{port}/"

    def start(self) -> None:
        cmd = [sys.executable, "-m", "ui.app", "--docs", str(self.docs), "--index", str(self.index)]
        cmd += ["--port", str(self.port), "--reader", "baseline"]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the chat server exited with {self.proc.returncode}; see {self.log}")
            with contextlib.suppress(OSError), urllib.request.urlopen(self.url, timeout=5) as page:
                if page.status == 200:
                    return
            time.sleep(0.5)
        raise RuntimeError("the chat server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def fact(place: str, name: str) -> str:
    return f"The harbour master of {place} is {name}.\n"


def make_docs(docs: Path) -> dict[str, str]:
    """The documents that never change (their spans are checked as answers arrive): source -> text."""
    docs.mkdir(parents=True)
    for path in (ROOT / "seeds").iterdir():
        shutil.copy(path, docs / path.name)
    static = {}
    for i, (place, name) in enumerate(zip(PLACES, NAMES, strict=True)):
        text = f"Records of {place}.\n\n" + fact(place, name) + f"The ferry to {place} leaves at {i + 6} o'clock.\n"
        (docs / f"static-{i}.txt").write_text(text, encoding="utf-8")
        static[f"static-{i}.txt"] = text
    return static


def client(url: str):  # noqa: ANN201 - gradio_client's Client, imported late
    from gradio_client import Client

    return Client(url, verbose=False)


def respond_params(url: str) -> set[str]:
    """The names of ``/respond``'s parameters (the question itself is this session's, set by ``/echo``);
    the others keep their defaults, so the bench follows the page's settings as they change."""
    endpoint = client(url).view_api(return_format="dict", print_info=False)["named_endpoints"]["/respond"]
    return {p["parameter_name"] for p in endpoint["parameters"]}


def asker(server: Server, static: dict[str, str], tally: Tally, stop: threading.Event, seed: int) -> None:
    """One chat client: questions about the static documents; each cited span is checked on arrival."""
    rng = random.Random(seed)
    api, params = None, set()
    while not stop.is_set():
        place = rng.choice(PLACES)
        try:
            if api is None:
                api, params = client(server.url), respond_params(server.url)
            shown = api.predict(f"Who is the harbour master of {place}?", [], api_name="/echo")[0]
            given = {"history": shown, "k": 3, "threshold": 0.5, "reader": "baseline"}
            history = api.predict(**{k: v for k, v in given.items() if k in params}, api_name="/respond")
        except Exception:  # the server is being killed or restarted
            api = None
            with tally.lock:
                tally.unavailable += 1
            time.sleep(1)
            continue
        content = history[-1]["content"] if history else ""
        reply = "".join(part.get("text", "") for part in content) if isinstance(content, list) else str(content)
        with tally.lock:
            tally.answers += 1
        for href in HREF.findall(reply):
            query = urllib.parse.parse_qs(urllib.parse.urlparse(href.replace("&amp;", "&")).query)
            source, start, end = query["source"][0], int(query["start"][0]), int(query["end"][0])
            if source not in static:
                continue
            with tally.lock:
                tally.spans_checked += 1
                if digest(static[source][start:end]) != query.get("check", [""])[0]:
                    tally.bad_offsets.append(f"{source}[{start}:{end}]")


@dataclass
class Churn:
    """The documents the action client changes, and what each should hold after the last "done"."""

    expected: dict[str, bytes | None] = field(default_factory=dict)  # None: removed
    # What a file may hold after actions whose reply never came (killed meanwhile): the content before
    # the first of them and each one's outcome, since any of them may have completed before the kill.
    uncertain: dict[str, set[bytes | None]] = field(default_factory=dict)


def act(server: Server, churn: Churn, uploads: Path, tally: Tally, rng: random.Random, pause: threading.Lock) -> None:
    """One document action through the chat's API; its message decides what the folder must hold."""
    present = sorted(s for s, data in churn.expected.items() if data is not None)
    kind = rng.choice(["add", "replace", "remove"] if present else ["add"])
    name = f"churn-{rng.randrange(6)}.txt" if kind == "add" else rng.choice(present)
    if kind == "add" and churn.expected.get(name) is not None:
        kind = "replace"
    data = fact(rng.choice(PLACES) + " Marina", rng.choice(NAMES)).encode()
    upload = uploads / name
    upload.write_bytes(data)
    before = churn.expected.get(name)
    after = None if kind == "remove" else data
    with pause:
        possible = churn.uncertain.setdefault(name, {before})  # earlier unanswered actions stay possible
        possible.add(after)
        try:
            message = call(server, kind, name, upload)
        except Exception:  # killed meanwhile: either outcome is allowed, checked at the restart
            return
        del churn.uncertain[name]
    done = {"add": "Added", "replace": "Replaced", "remove": "Removed"}[kind]
    if message.startswith(done):
        churn.expected[name] = after
        tally.add("actions", kind)
    else:
        with tally.lock:
            tally.refused_actions += 1
        why = re.sub(r"^.*?: |\\|/\S+|\. Nothing was changed\.$", "", message.split("\n")[0])
        tally.add("refusals", why[:80])


def call(server: Server, kind: str, name: str, upload: Path) -> str:
    from gradio_client import handle_file

    api = client(server.url)
    if kind == "add":
        return str(api.predict(handle_file(str(upload)), api_name="/add_document")[1])
    api.predict(api_name="/listed")  # this session's chooser gets the document list
    if kind == "replace":
        return str(api.predict(handle_file(str(upload)), name, api_name="/replace_document")[1])
    return str(api.predict(name, api_name="/remove_document")[0])


def check(docs: Path, index_dir: Path, static: dict[str, str], churn: Churn, tally: Tally) -> None:
    """The index matches the folder; nothing hidden is left; static documents intact; every "done" holds."""
    problems = []
    hidden = [p.name for p in docs.iterdir() if p.name.startswith((".set-aside-", ".upload-"))]
    if hidden:
        problems.append(f"left hidden: {hidden}")
    files = {s: hashlib.sha256(p.read_bytes()).hexdigest() for s, p in doc_paths(docs)}
    try:
        manifest = Index.load(index_dir).manifest["files"]
        indexed = {s: st["sha256"] for s, st in manifest.items() if not st.get("skipped")}
        if indexed != files:
            problems.append(f"index != docs folder: {sorted(set(indexed) ^ set(files))} differ")
    except Exception as exc:  # noqa: BLE001 - an unusable index is itself the finding
        problems.append(f"index unusable: {exc}")
    for source, text in static.items():
        if not (docs / source).is_file() or (docs / source).read_text(encoding="utf-8") != text:
            problems.append(f"static document lost or changed: {source}")
    for source, data in churn.expected.items():
        have = (docs / source).read_bytes() if (docs / source).is_file() else None
        allowed = {data, *churn.uncertain.get(source, ())}
        if have not in allowed:
            problems.append(f"{source}: a 'done' message does not hold ({shown(have)}, expected {shown(data)})")
    for source, possible in list(churn.uncertain.items()):
        have = (docs / source).read_bytes() if (docs / source).is_file() else None
        if have not in possible:
            problems.append(f"{source}: interrupted actions left none of their versions ({shown(have)})")
        churn.expected[source] = have  # settled by the restart
    churn.uncertain.clear()
    with tally.lock:
        tally.checks += 1
        tally.problems += problems


def shown(data: bytes | None) -> str:
    """A document's content in a problem report: absent, or its first words."""
    return "absent" if data is None else repr(data[:60].decode("utf-8", "replace"))


@contextlib.contextmanager
def small_disk(index_dir: Path):  # noqa: ANN201
    """``index_dir`` on a tmpfs of its own (True) when this may mount one, else a plain folder (False)."""
    index_dir.mkdir(parents=True)
    mounted = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(index_dir)], capture_output=True
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(index_dir)], check=False)


def fill(index_dir: Path) -> Path:
    """Fill the index folder's disk to the last byte; the filler file, to delete when done."""
    filler = index_dir / ".filler"
    with open(filler, "wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 2**20)
            f.flush()
    return filler


def run(minutes: float, seed: int, work: Path, fault_every: float = 30.0) -> Tally:
    rng, tally, stop, pause = random.Random(seed), Tally(), threading.Event(), threading.Lock()
    docs, index_dir, uploads = work / "docs", work / "index", work / "uploads"
    static, churn = make_docs(docs), Churn()
    uploads.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with small_disk(index_dir) as can_fill:
        server = Server(docs, index_dir, port, work / "server.log")
        server.start()
        threads = [threading.Thread(target=asker, args=(server, static, tally, stop, seed + i)) for i in range(CLIENTS)]

        def actions() -> None:
            while not stop.is_set():
                act(server, churn, uploads, tally, rng, pause)
                stop.wait(rng.uniform(1, 4))

        threads.append(threading.Thread(target=actions))
        for t in threads:
            t.start()
        faults = ["kill", "index", "truncate"] + (["full"] if can_fill else [])
        end = time.monotonic() + minutes * 60
        try:
            while time.monotonic() < end:
                stop.wait(rng.uniform(fault_every / 2, fault_every * 1.5))
                fault = rng.choice(faults)
                tally.add("faults", fault)
                inject(fault, server, docs, index_dir, static, churn, tally, pause, rng)
        finally:
            stop.set()
            for t in threads:
                t.join(300)
            with pause:
                server.kill()
                server.start()  # a last restart: recovery and the index brought in step
                check(docs, index_dir, static, churn, tally)
                server.stop()
    return tally


def inject(
    fault: str,
    server: Server,
    docs: Path,
    index_dir: Path,
    static: dict[str, str],
    churn: Churn,
    tally: Tally,
    pause: threading.Lock,
    rng: random.Random,
) -> None:
    """One fault; after a restart, the checks (with document actions paused)."""
    if fault == "kill":
        server.kill()
        server.start()
        with pause:
            check(docs, index_dir, static, churn, tally)
    elif fault == "full":
        filler = fill(index_dir)
        time.sleep(rng.uniform(3, 10))  # document actions meet the full disk meanwhile
        filler.unlink()
    elif fault == "index":
        cmd = [sys.executable, "-m", "rag.index", "--docs", str(docs), "--index", str(index_dir)]
        subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=600)
    elif fault == "truncate":
        live = (index_dir / "CURRENT").read_text().split()[0] if (index_dir / "CURRENT").is_file() else ""
        parts = [p for p in (index_dir / live).rglob("*") if p.is_file()] if live else []
        if parts:
            victim = rng.choice(parts)
            with open(victim, "r+b") as f:
                f.truncate(victim.stat().st_size // 2)
            server.kill()  # the running server holds the index in memory: a restart must notice the damage
            server.start()
            with pause:
                check(docs, index_dir, static, churn, tally)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fault-every", type=float, default=30.0, metavar="S", help="mean seconds between faults")
    parser.add_argument("--json", type=Path, default=None, help="also write the tally here")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="chaos-"))
    try:
        tally = run(args.minutes, args.seed, work, args.fault_every)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {k: v for k, v in vars(tally).items() if k != "lock"}
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 1 if tally.problems or tally.bad_offsets else 0


if __name__ == "__main__":
    sys.exit(main())
