"""Document actions of the chat are transactions (issue #21): "done" only once the new index is live;
on a failure the docs folder is put back and the message says why; a kill at any step is undone, or
completed, at the next start (``ui.uploads.recover``)."""

from __future__ import annotations

import errno
import io
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rag.index.store import BuildWriter, Index
from rag.pipeline import Pipeline
from rag.settings import Settings
from ui.core import Assistant
from ui.text import DocumentError
from ui.uploads import not_done, recover

from .conftest import ROOT

HARBOUR = "The harbour master of Port Elira is Tomasz Wren.\n"
BAKERY = "The bakery on Mill Street sells rye bread every morning.\n"
NEW_HARBOUR = "The harbour master of Port Elira is Li Wei.\n"
QUESTION = "Who is the harbour master of Port Elira?"


def harbour(pipe: Pipeline) -> str:
    """The text of a.txt that the index searches ("" when it has none)."""
    return "".join(p.text for p in pipe.retrieve(QUESTION, 2) if p.source == "a.txt")


def folder(docs: Path) -> dict[str, bytes]:
    """Every entry of the docs folder, hidden ones included, with its bytes (folders as b"/")."""
    return {p.relative_to(docs).as_posix(): (p.read_bytes() if p.is_file() else b"/") for p in docs.rglob("*")}


@pytest.fixture
def chat(tmp_path: Path, embedder) -> Assistant:
    """The chat's document actions over a real pipeline and index: a.txt (harbour), b.txt (lighthouse)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(HARBOUR, encoding="utf-8")
    (docs / "b.txt").write_text(BAKERY, encoding="utf-8")
    pipe = Pipeline(
        Settings(docs=docs, index=tmp_path / "index", reader="baseline"), embedder=embedder, log=io.StringIO()
    )
    pipe.refresh()
    return Assistant(pipe)


def full_disk(monkeypatch: pytest.MonkeyPatch) -> str:
    """The index's disk fills up as the build writes its manifest (after the vectors and BM25)."""
    import rag.index.store as store

    def write(path: Path, text: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(store, "_write_atomic", write)
    return "No space left on device"


def read_only(monkeypatch: pytest.MonkeyPatch) -> str:
    """The index folder is read-only: a build cannot even start its folder (tests run as root, which
    chmod does not stop, so the error the file system gives is raised where it would be)."""

    def start(self: BuildWriter, index_dir: Path, dim: int) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(index_dir))

    monkeypatch.setattr(BuildWriter, "__init__", start)
    return "Read-only file system"


def upload(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / "uploads" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


ACTIONS = {
    "add": lambda chat, tmp: chat.add_document(upload(tmp, "c.txt", "The mayor of Port Elira is Jon Park.\n")),
    "replace": lambda chat, tmp: chat.replace_document("a.txt", upload(tmp, "a.txt", NEW_HARBOUR)),
    "remove": lambda chat, tmp: chat.remove_document("a.txt"),
}


@pytest.mark.parametrize("fault", [full_disk, read_only], ids=["full-disk", "read-only-index"])
@pytest.mark.parametrize("action", list(ACTIONS))
def test_an_action_the_index_cannot_take_is_undone_and_says_why(chat, tmp_path, monkeypatch, action, fault):
    before, live = folder(chat.docs_dir), chat.pipe.index
    why = fault(monkeypatch)

    with pytest.raises(DocumentError) as failed:
        ACTIONS[action](chat, tmp_path)

    assert why in str(failed.value) and "cannot update the index" in str(failed.value)
    assert not_done("removed", "a.txt", str(failed.value)).endswith("Nothing was changed.")
    assert folder(chat.docs_dir) == before  # put back, nothing left aside or half-written
    assert chat.pipe.index is live
    assert harbour(chat.pipe) == HARBOUR.strip()  # the old text still answers
    monkeypatch.undo()  # the disk is freed: nothing is stale, the index is in step with the folder
    assert chat.pipe.refresh() is None


@pytest.mark.parametrize("action", list(ACTIONS))
def test_an_action_is_done_only_when_its_index_is_live(chat, tmp_path, action):
    message = ACTIONS[action](chat, tmp_path)
    files = chat.pipe.index.manifest["files"]
    assert {"add": "Added", "replace": "Replaced", "remove": "Removed"}[action] in message
    assert sorted(files) == sorted(name for name in folder(chat.docs_dir))  # nothing hidden left
    assert harbour(chat.pipe) == {"add": HARBOUR, "replace": NEW_HARBOUR, "remove": ""}[action].strip()


# --- a kill at each step --------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import hashlib, os, pathlib, signal, sys
    from types import SimpleNamespace

    import ui.uploads
    from rag.documents.folder import doc_paths
    from ui.core import Assistant

    docs, uploads, action, step = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4]

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    class Pipe:  # indexes by recording each document's SHA-256, as a build's manifest does
        def __init__(self):
            self.docs_dir, self.reader, self.index = docs, SimpleNamespace(name="baseline", threshold=0.5), None

        def refresh(self, strict=False):
            if step == "indexing":
                die()
            files = {s: {"sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for s, p in doc_paths(docs)}
            self.index = SimpleNamespace(manifest={"files": files})

    if step == "writing":
        ui.uploads.place_new = die  # the upload is written, not yet in place
    if step == "indexed":
        pathlib.Path.touch = die  # the new index is live, the set-aside folder not yet marked
    if step == "committed":
        ui.uploads.shutil.rmtree = die  # marked, not yet deleted
    chat = Assistant(Pipe())
    if action == "add":
        chat.add_document(uploads / "c.txt")
    elif action == "replace":
        chat.replace_document("a.txt", uploads / "a.txt")
    else:
        chat.remove_document("a.txt")
    """
)

OLD, NEW = HARBOUR.encode(), NEW_HARBOUR.encode()
B = BAKERY.encode()
KILLS = [  # action, step killed at, the docs folder after recover()
    ("remove", "indexing", {"a.txt": OLD, "b.txt": B}),
    ("remove", "indexed", {"a.txt": OLD, "b.txt": B}),  # never said "done": put back
    ("remove", "committed", {"b.txt": B}),  # the change completes
    ("replace", "writing", {"a.txt": OLD, "b.txt": B}),
    ("replace", "indexing", {"a.txt": OLD, "b.txt": B}),
    ("replace", "indexed", {"a.txt": OLD, "b.txt": B}),
    ("replace", "committed", {"a.txt": NEW, "b.txt": B}),
    ("add", "writing", {"a.txt": OLD, "b.txt": B}),
    ("add", "indexing", {"a.txt": OLD, "b.txt": B, "c.txt": NEW}),  # whole: the next index takes it in
]


@pytest.mark.parametrize("action, step, after", KILLS, ids=[f"{a}-{s}" for a, s, _ in KILLS])
def test_a_kill_at_any_step_is_undone_or_completed_at_the_next_start(tmp_path, action, step, after):
    docs, uploads = tmp_path / "docs", tmp_path / "uploads"
    docs.mkdir()
    uploads.mkdir()
    (docs / "a.txt").write_bytes(OLD)
    (docs / "b.txt").write_bytes(B)
    (uploads / "a.txt").write_bytes(NEW)
    (uploads / "c.txt").write_bytes(NEW)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-c", CHILD, str(docs), str(uploads), action, step]
    killed = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()

    notes = recover(docs)

    assert folder(docs) == after
    put_back = after.get("a.txt") == OLD and action != "add"
    assert notes == (["put back a.txt: a change to it was interrupted before its index was live"] if put_back else [])
    assert recover(docs) == []  # nothing left to do


def test_a_removal_killed_after_its_index_was_live_is_searched_again_after_restart(chat, tmp_path):
    """The worst case with the real index: the new index (without a.txt) is live when the kill comes."""
    docs = chat.docs_dir
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = textwrap.dedent(
        f"""
        import io, os, pathlib, signal
        from rag.pipeline import Pipeline
        from rag.settings import Settings
        from ui.core import Assistant
        settings = Settings(docs=pathlib.Path({str(docs)!r}), index=pathlib.Path({str(chat.pipe.index_dir)!r}),
                            reader="baseline")
        pipe = Pipeline(settings, log=io.StringIO())
        pipe.refresh()
        pathlib.Path.touch = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
        Assistant(pipe).remove_document("a.txt")
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    assert sorted(Index.load(chat.pipe.index_dir).manifest["files"]) == ["b.txt"]  # live, without a.txt
    restarted = Pipeline(
        Settings(docs=docs, index=chat.pipe.index_dir, reader="baseline"),
        embedder=chat.pipe.embedder,
        log=io.StringIO(),
    )

    assert recover(docs) == ["put back a.txt: a change to it was interrupted before its index was live"]
    restarted.refresh()

    assert sorted(restarted.index.manifest["files"]) == ["a.txt", "b.txt"] == sorted(folder(docs))
    assert harbour(restarted) == HARBOUR.strip()
