"""Fuzzing rag.ask --json and the indexer with hypothesis (issue #13): whatever the question, the
file name or the file's bytes, the outcome is an answer, an abstention, a JSON error line or a
one-line error with exit 2, and never a traceback."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.commands.ask import main as ask_main
from rag.commands.index import main as index_main

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NOTE = "The harbour master of Port Elira is Tomasz Wren. The lighthouse was built in 1890.\n"

questions = st.text(
    st.characters(blacklist_categories=(), min_codepoint=0, max_codepoint=0x10FFFF), min_size=0, max_size=300
) | st.sampled_from(["who \udcff?", "\x00", " " * 50, "é" * 2001, "Who is the harbour master?"])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("fuzz")
    docs = root / "docs"
    docs.mkdir()
    (docs / "harbour.txt").write_text(NOTE, encoding="utf-8")
    assert index_main(["--docs", str(docs), "--index", str(root / "index")]) == 0
    return docs, root / "index"


def check_outcome(code: int, out: str, err: str) -> None:
    assert "Traceback" not in err and "Traceback" not in out
    if code == 0:
        payload = json.loads(out)
        assert payload["abstained"] == (payload["answer"] is None)
    else:
        assert code == 2, err
        assert out == "" and len(err.strip().splitlines()) == 1 and err.startswith("error: ")


@FUZZ
@given(question=questions)
def test_any_question_is_answered_abstained_or_refused_in_one_line(corpus, capsys, question):
    docs, index = corpus
    code = ask_main(["--docs", str(docs), "--index", str(index), "--json", "--", question])
    out, err = capsys.readouterr()
    check_outcome(code, out, err)


NAMES = st.binary(min_size=1, max_size=24).filter(lambda b: b"/" not in b and b"\x00" not in b and b.strip(b"."))


@FUZZ
@given(
    name=NAMES, suffix=st.sampled_from([b".txt", b".md", b".html", b".pdf", b".docx"]), data=st.binary(max_size=3000)
)
def test_any_file_is_indexed_or_skipped_with_a_warning(tmp_path_factory, capsys, name, suffix, data):
    root = tmp_path_factory.mktemp("files")
    docs = root / "docs"
    docs.mkdir()
    (docs / "harbour.txt").write_text(NOTE, encoding="utf-8")
    with open(os.fsencode(docs) + b"/" + name + suffix, "wb") as f:
        f.write(data)
    code = index_main(["--docs", str(docs), "--index", str(root / "index")])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in err
    unexpected = [
        ln for ln in err.splitlines() if ln and not ln.startswith(("warning: skipped", "rebuilding", "no index"))
    ]
    assert not unexpected, err
    code = ask_main(["--docs", str(docs), "--index", str(root / "index"), "--json", "Who is the harbour master?"])
    out, err = capsys.readouterr()
    check_outcome(code, out, err)
    shutil.rmtree(root)
