"""Faults and attacks (issue #13): each test is one case that once failed, reproduced on small files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.documents import load_documents, path_of, text_of
from rag.indexer import update_index

from .conftest import SEED_FILE

SECRET = "The vault code of Port Elira is 4711.\n"


@pytest.fixture
def outside_secret(tmp_path: Path) -> Path:
    """A file next to, never inside, the docs folder."""
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text(SECRET, encoding="utf-8")
    return secret


def test_link_to_a_file_outside_the_docs_is_skipped_with_a_warning(docs, tmp_path, embedder, outside_secret, capsys):
    (docs / "p.txt").symlink_to(outside_secret)
    (docs / "inner.txt").symlink_to(docs / SEED_FILE)  # a link that stays inside is fine

    index, report = update_index(docs, tmp_path / "index", embedder)

    assert "p.txt" in report.skipped and "outside the docs folder" in report.skipped["p.txt"]
    assert "warning: skipped p.txt: a link to a file outside the docs folder" in capsys.readouterr().err
    assert {c.source for c in index.chunks} == {SEED_FILE, "inner.txt"}
    assert not any("4711" in c.text for c in index.chunks)
    loaded, skipped = load_documents(docs, warn=False)
    assert [d.source for d in loaded] == ["inner.txt", SEED_FILE] and [s.source for s in skipped] == ["p.txt"]


def test_link_through_a_folder_outside_is_refused(docs, tmp_path, outside_secret):
    (docs / "sub").mkdir()
    (docs / "sub" / "q.txt").symlink_to(outside_secret)
    assert [s.source for s in load_documents(docs, warn=False)[1]] == ["sub/q.txt"]


def test_text_of_never_reads_outside_the_docs(docs, outside_secret):
    (docs / "p.txt").symlink_to(outside_secret)
    for source in ("p.txt", "../outside/secret.txt", str(outside_secret)):
        with pytest.raises(ValueError, match="outside the docs folder"):
            text_of(docs, source)
    assert path_of(docs, SEED_FILE) == docs / SEED_FILE


def test_file_name_that_is_not_utf8_is_skipped_and_the_rest_answers(docs, tmp_path, embedder, capsys):
    fd = os.open(os.fsencode(docs) + b"/caf\xe9.txt", os.O_WRONLY | os.O_CREAT)
    os.write(fd, b"The cafe opens at nine.\n")
    os.close(fd)

    index, report = update_index(docs, tmp_path / "index", embedder)

    assert {c.source for c in index.chunks} == {SEED_FILE}
    assert "caf\\xe9.txt" in report.skipped and "not valid UTF-8" in report.skipped["caf\\xe9.txt"]
    assert "warning: skipped caf\\xe9.txt" in capsys.readouterr().err


def run_ask(docs: Path, index: Path, *args: bytes | str, stdin: bytes | None = None, env: dict | None = None):
    import subprocess
    import sys

    from .conftest import ROOT

    cmd = [sys.executable.encode(), b"-m", b"rag.ask", b"--docs", os.fsencode(docs), b"--index", os.fsencode(index),
           b"--reader", b"baseline", *[a if isinstance(a, bytes) else a.encode() for a in args]]  # fmt: skip
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(cmd, input=stdin, capture_output=True, env=full_env, timeout=300)


def test_question_argument_that_is_not_utf8_is_exit_2(docs, tmp_path):
    done = run_ask(docs, tmp_path / "i", b"who \xff?")
    err = done.stderr.decode()
    assert done.returncode == 2 and err.strip().splitlines()[-1] == "error: the question is not valid UTF-8 text"
    assert "Traceback" not in err


@pytest.mark.parametrize("io_encoding", ["", "utf-8:strict"])
def test_batch_line_that_is_not_utf8_is_a_json_error_and_the_batch_goes_on(docs, tmp_path, io_encoding):
    import json

    lines = b"who supplies GPUs in the deal?\nwho \xff is \xed\xa0\x80?\nWhen did OpenAI finalize the agreement?\n"
    env = {"PYTHONIOENCODING": io_encoding} if io_encoding else {}
    done = run_ask(docs, tmp_path / "i", "--json", stdin=lines, env=env)
    out = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert len(out) == 3 and "Traceback" not in done.stderr.decode()
    assert out[0]["answer"]["text"] == "CoreWeave" and out[2]["answer"] is not None
    assert out[1] == {"question": "who \\xff is \\xed\\xa0\\x80?", "error": "the question is not valid UTF-8 text"}
    assert done.returncode == 2  # a bad line makes the exit code 2; the others were still answered
