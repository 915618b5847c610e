"""Reliability, third pass (issue #21): each test is one case a red team found, reproduced small.

Document actions as transactions are in ``test_transactions.py``, the Ray address check in
``test_cluster.py``, chunks on whole grapheme clusters in ``test_chunking.py``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import regex

from rag.errors import UsageError
from rag.pipeline import Pipeline, validate_question
from rag.reader.decoding import grapheme_span
from rag.settings import Settings

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # man ZWJ woman ZWJ girl: one grapheme cluster


def clusters(text: str) -> set[int]:
    """Every offset where a grapheme cluster of ``text`` begins, and its end."""
    return {m.start() for m in regex.finditer(r"\X", text)} | {len(text)}


# --- answers on whole grapheme clusters ----------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Cafe" + "\u0301" * 30 + " noir",  # one cluster longer than any fixed look-back
        "Go " + "\U0001f1eb\U0001f1f7\U0001f1e9\U0001f1ea" * 12 + " ok",  # flags: pairs of regional indicators
        "x " + FAMILY * 20 + " end",
    ],
)
def test_a_widened_span_is_whole_clusters_wherever_it_starts(text):
    whole = clusters(text)
    for start in range(len(text)):
        for end in range(start + 1, min(len(text), start + 8) + 1):
            a, b = grapheme_span(text, start, end)
            assert a <= start and b >= end and a in whole and b in whole, (start, end, a, b)


def test_an_answer_never_starts_inside_a_zwj_emoji_cluster(tmp_path, embedder):
    """The red team's case: 6,000 family emoji, then " the end.", asked "what is the end?"."""
    docs = tmp_path / "docs"
    docs.mkdir()
    text = "A story.\n\n" + FAMILY * 6000 + " the end."
    (docs / "e.txt").write_text(text, encoding="utf-8")
    pipe = Pipeline(Settings(docs=docs, index=tmp_path / "index"), embedder=embedder, log=io.StringIO())

    result = pipe.ask("what is the end?")

    whole = clusters(text)
    for span in (result.candidate, *result.passages):
        assert span is not None and span.start in whole and span.end in whole, (span.start, span.end)
        assert text[span.start : span.end] == span.text


# --- questions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    ["\u0301\u0308", "\u200d", "\u200b\u200b", " \u200d\u0301 \u200b ", "\ufeff", "\u2060\u00ad"],
    ids=["combining", "zwj", "zero-width-space", "mixed", "bom", "word-joiner-soft-hyphen"],
)
def test_a_question_of_invisible_characters_is_empty(question):
    with pytest.raises(UsageError, match="the question is empty"):
        validate_question(question)


def test_a_question_with_a_visible_character_among_invisible_ones_is_a_question():
    assert validate_question("\u200bwho?\u200d") == "\u200bwho?\u200d"


def test_a_nul_in_a_stdin_question_is_a_one_line_error_and_the_batch_goes_on(tmp_path, embedder):
    from rag.commands.ask import reply

    pipe = Pipeline(Settings(docs=tmp_path / "docs", index=tmp_path / "index", reader="baseline"), embedder=embedder)
    answered = reply(pipe, b"who supplies\x00 GPUs?\n", as_json=True)
    assert answered.status == 2 and answered.err == "error: the question contains a NUL character"
    assert json.loads(answered.out) == {
        "question": "who supplies\x00 GPUs?",
        "error": "the question contains a NUL character",
    }


# --- the index folder ----------------------------------------------------------------------


def test_a_pointer_left_by_a_kill_before_its_rename_is_removed_by_the_next_build(docs, tmp_path, embedder):
    from rag.index.build import update_index

    index = tmp_path / "index"
    update_index(docs, index, embedder)
    left = index / ".CURRENT.0123456789abcdef0123456789abcdef"  # what _write_atomic writes, then renames
    left.write_text("build-000000000000 0\n", encoding="utf-8")
    (docs / "new.txt").write_text("The ferry leaves at noon.\n", encoding="utf-8")

    update_index(docs, index, embedder)

    assert not left.exists()
    assert sorted(p.name for p in index.iterdir() if p.is_file()) == [".lock", "CURRENT"]


def test_a_pointer_left_behind_is_removed_even_when_nothing_changed(docs, tmp_path, embedder):
    from rag.index.build import update_index

    index = tmp_path / "index"
    update_index(docs, index, embedder)
    left = Path(index / ".CURRENT.feedface")
    left.write_text("half", encoding="utf-8")
    update_index(docs, index, embedder)
    assert not left.exists()


# --- the chat server's log -----------------------------------------------------------------


def test_a_refused_request_is_one_log_line_not_a_traceback(tmp_path, monkeypatch, caplog, capfd):
    """A real chat server on loopback, probed through its API with input Gradio refuses itself."""
    import logging
    import socket

    import gradio.queueing
    import gradio.routes
    from gradio_client import Client

    from ui.app import build, quiet_refusals
    from ui.core import Assistant

    from .test_ui import FakePipeline, docs_with

    for module in (gradio.queueing, gradio.routes):
        monkeypatch.setattr(module, "traceback", module.traceback)  # put back after the test
    quiet_refusals()
    demo = build(Assistant(FakePipeline(docs_with(tmp_path, a_txt="A.", b_txt="B."))))  # type: ignore[arg-type]
    demo.queue()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    caplog.set_level(logging.WARNING, logger="ui.app")
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, show_error=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        with pytest.raises(Exception, match="not in the list of choices"):
            client.predict("../../etc/passwd", api_name="/remove_document")
        with pytest.raises(Exception, match="validation error"):
            client.predict("q?", "not a chat", 3, 0.5, False, "baseline", api_name="/respond")
    finally:
        demo.close()

    assert "Traceback" not in capfd.readouterr().err
    refusals = [r.getMessage() for r in caplog.records if r.name == "ui.app"]
    assert len(refusals) == 2 and all(m.startswith("refused a request: ") for m in refusals), refusals
    assert all("\n" not in m for m in refusals)
