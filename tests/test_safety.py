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
    from rag.formats import docx_text

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

    from rag.formats import docx_text

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
