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
