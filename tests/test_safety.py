"""Faults and attacks (issue #13): each test is one case that once failed, reproduced on small files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.documents.folder import file_text, path_of, scan
from rag.index.build import update_index

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
    found, refused = scan(docs)
    assert [source for source, _ in found] == ["inner.txt", SEED_FILE] and [s.source for s in refused] == ["p.txt"]


def test_link_through_a_folder_outside_is_refused(docs, tmp_path, outside_secret):
    (docs / "sub").mkdir()
    (docs / "sub" / "q.txt").symlink_to(outside_secret)
    assert [s.source for s in scan(docs)[1]] == ["sub/q.txt"]


def test_file_text_never_reads_outside_the_docs(docs, outside_secret):
    (docs / "p.txt").symlink_to(outside_secret)
    for source in ("p.txt", "../outside/secret.txt", str(outside_secret)):
        with pytest.raises(ValueError, match="outside the docs folder"):
            file_text(docs, source)
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


@pytest.mark.slow
def test_question_argument_that_is_not_utf8_is_exit_2(docs, tmp_path):
    done = run_ask(docs, tmp_path / "i", b"who \xff?")
    err = done.stderr.decode()
    assert done.returncode == 2 and err.strip().splitlines()[-1] == "error: the question is not valid UTF-8 text"
    assert "Traceback" not in err


@pytest.mark.slow
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


def docx_of(document: bytes, header_size: int | None = None) -> bytes:
    """A .docx whose word/document.xml is ``document``; ``header_size`` makes its zip header lie."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", document)
    data = out.getvalue()
    if header_size is not None:  # patch the uncompressed size in the local and central headers
        import struct

        real = struct.pack("<I", len(document))
        data = data.replace(real, struct.pack("<I", header_size))
    return data


W = b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'


def test_deeply_nested_docx_is_skipped_not_a_recursion_error(docs, tmp_path, embedder, capsys):
    nested = W + b"<w:sdt>" * 100_000 + b"<w:p><w:r><w:t>deep</w:t></w:r></w:p>" + b"</w:sdt>" * 100_000
    (docs / "deep.docx").write_bytes(docx_of(nested + b"</w:body></w:document>"))
    assert len((docs / "deep.docx").read_bytes()) < 10_000
    from rag.documents.formats import docx_text

    assert docx_text((docs / "deep.docx").read_bytes()) == "deep"  # read without recursion
    index, report = update_index(docs, tmp_path / "index", embedder)
    assert "deep.docx" in {c.source for c in index.chunks}


@pytest.mark.parametrize(
    "document, header, reason",
    [
        (W + b"<w:p/>" * 2_100_000 + b"</w:body></w:document>", None, "over 2,000,000 elements"),
        (W + b"<w:p><w:r><w:t>" + b"a" * (70 << 20) + b"</w:t></w:r></w:p></w:body></w:document>", None, "over 64 MB"),
        (W + b"<w:p><w:r><w:t>" + b"a" * (70 << 20) + b"</w:t></w:r></w:p></w:body></w:document>", 200, "readable"),
    ],
    ids=["millions-of-paragraphs", "huge-text", "header-understates-size"],
)
def test_zip_bombs_in_docx_are_refused_with_a_reason(docs, tmp_path, embedder, capsys, document, header, reason):
    import resource

    from rag.documents.formats import docx_text

    bomb = docx_of(document, header)
    assert len(bomb) < 300_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ValueError, match=reason):
        docx_text(bomb)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 600, f"reading the bomb grew the process by {grown_mb:.0f} MB"
    (docs / "bomb.docx").write_bytes(bomb)
    _, report = update_index(docs, tmp_path / "index", embedder)
    assert "bomb.docx" in report.skipped and "warning: skipped bomb.docx" in capsys.readouterr().err


@pytest.mark.slow
def test_concurrent_builders_take_turns_and_leave_one_complete_index(docs, tmp_path):
    import subprocess
    import sys

    from rag.index.store import Index

    from .conftest import ROOT

    index = tmp_path / "index"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "rag.index", "--docs", str(docs), "--index", str(index)]
    for round_ in range(2):
        (docs / "extra.txt").write_text(f"Round {round_}: the harbour master is Tomasz Wren.\n", encoding="utf-8")
        procs = [subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE) for _ in range(3)]
        errors = [p.communicate(timeout=300)[1].decode() for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], errors
        assert not any("Traceback" in e for e in errors)
        loaded = Index.load(index)
        assert any(f"Round {round_}" in c.text for c in loaded.chunks)
        live = (index / "CURRENT").read_text().split()[0]
        assert sorted(p.name for p in index.iterdir() if p.is_dir()) == [live]


def test_a_second_builder_waits_and_says_so(tmp_path):
    import io
    import threading
    import time

    from rag.index.store import build_lock

    order: list[str] = []
    held = threading.Event()

    def first() -> None:
        with build_lock(tmp_path, io.StringIO()):
            held.set()
            time.sleep(0.5)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    held.wait(5)
    log = io.StringIO()
    with build_lock(tmp_path, log) as waited:
        order.append("second in")
    thread.join()
    assert order == ["first done", "second in"] and waited
    assert "another build is running" in log.getvalue()


def test_leftovers_of_a_killed_build_are_removed_by_the_next_run(docs, tmp_path, embedder):
    index = tmp_path / "index"
    update_index(docs, index, embedder)
    (index / ".tmp-deadbeef").mkdir()
    (index / ".tmp-deadbeef" / "vectors.faiss").write_bytes(b"half")
    (index / "build-orphan").mkdir()
    update_index(docs, index, embedder)  # nothing changed: no new build, but the leftovers go
    live = (index / "CURRENT").read_text().split()[0]
    assert sorted(p.name for p in index.iterdir() if p.is_dir()) == [live]


def test_an_index_that_cannot_be_written_leaves_the_previous_one_answering(docs, tmp_path, embedder, monkeypatch):
    import errno
    import io

    from rag.index.store import BuildWriter
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    log = io.StringIO()
    pipe = Pipeline(Settings(docs=docs, index=tmp_path / "index", reader="baseline"), embedder=embedder, log=log)
    pipe.refresh()
    (docs / "new.txt").write_text("The lighthouse keeper is Tomasz Wren.\n", encoding="utf-8")

    def full_disk(self, manifest):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(BuildWriter, "finish", full_disk)
    assert pipe.refresh() is None
    assert "warning: cannot update the index" in log.getvalue() and "No space left on device" in log.getvalue()
    result = pipe.ask("who supplies GPUs in the deal?")
    assert result.answer is not None and result.answer.text == "CoreWeave"


def test_an_index_path_that_is_a_file_is_one_line_exit_1(docs, tmp_path, capsys):
    from rag.commands.ask import main as ask_main

    not_a_folder = tmp_path / "README.md"
    not_a_folder.write_text("# not an index\n", encoding="utf-8")
    code = ask_main(["--docs", str(docs), "--index", str(not_a_folder), "--reader", "baseline", "who?"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err


@pytest.mark.parametrize(
    "name, data",
    [
        ("utf16.txt", "\ufeffThe harbour master of Port Elira is Tomasz Wren.\n".encode("utf-16-le")),
        ("utf16be.md", "The harbour master of Port Elira is Tomasz Wren.\n".encode("utf-16")),
        ("bom.txt", "\ufeffThe harbour master of Port Elira is Tomasz Wren.\n".encode("utf-8")),
    ],
)
def test_utf16_is_read_and_a_bom_stays_out_of_passages(docs, tmp_path, embedder, name, data):
    (docs / name).write_bytes(data)
    index, report = update_index(docs, tmp_path / "index", embedder)
    assert name not in report.skipped
    chunks = [c for c in index.chunks if c.source == name]
    assert chunks and all("\ufeff" not in c.text for c in chunks)
    text = file_text(docs, name)
    assert all(text[c.start : c.end] == c.text for c in chunks)
    assert chunks[0].text.startswith("The harbour master")


def test_a_very_long_run_of_text_is_chunked_piece_by_piece_with_exact_offsets():
    from rag.chunking.chunker import ChunkConfig, iter_chunks, pieces
    from rag.types import Document, Span

    line = "The harbour of Port Elira has a lighthouse built by Tomasz Wren in 1890 and café lights. "
    text = "".join(line.replace("1890", str(1000 + i)) for i in range(6000))  # 530k chars, one line
    doc = Document("long.txt", text)
    cut = list(pieces(text, Span(0, len(text)), limit=100_000))
    assert cut[0].start == 0 and cut[-1].end == len(text)
    assert all(a.end == b.start for a, b in zip(cut, cut[1:])) and all(len(p) <= 100_000 for p in cut)
    assert all(text[p.end - 1] in ". " for p in cut[:-1])  # cut after a sentence or a space
    chunks = list(iter_chunks(doc, ChunkConfig()))
    assert all(text[c.start : c.end] == c.text and c.n_tokens <= 128 for c in chunks)
    assert all(a.start < b.start for a, b in zip(chunks, chunks[1:]))
