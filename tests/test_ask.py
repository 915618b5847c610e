"""rag.ask end to end: the seed question, abstention, the JSON interface, batch mode, bad input."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.commands.ask import main as ask_main
from rag.documents.folder import file_text

from .conftest import ROOT, SEED_FILE, SEEDS

SEED_QUESTION = "who supplies GPUs in the deal?"
OUT_OF_SCOPE = "What is the capital of France?"


def check_offsets(payload: dict, docs: Path) -> None:
    for item in [payload["answer"]] + payload["passages"] if payload["answer"] else payload["passages"]:
        assert file_text(docs, item["source"])[item["start"] : item["end"]] == item["text"]


def test_seed_question_answers_coreweave_with_exact_offsets(seed_pipeline):
    result = seed_pipeline.ask(SEED_QUESTION)
    assert result.answer is not None and result.answer.text == "CoreWeave"
    assert result.answer.source == SEED_FILE
    check_offsets(result.to_dict(), SEEDS)
    assert result.answer.passage is not None and result.answer.passage.span.contains(result.answer.span)


def test_out_of_scope_question_abstains(seed_pipeline):
    result = seed_pipeline.ask(OUT_OF_SCOPE)
    assert result.abstained and result.answer is None
    assert result.passages  # the closest passages are still given


def run_ask(argv, capsys, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = ask_main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_json_schema(docs, tmp_path, capsys):
    argv = ["--docs", str(docs), "--index", str(tmp_path / "ix"), "--json", "--top-k", "3", SEED_QUESTION]
    code, out, err = run_ask(argv, capsys)
    assert code == 0 and "building" in err  # a missing index is built first, said on stderr
    payload = json.loads(out)
    assert set(payload) == {"question", "answer", "abstained", "passages"}
    assert payload["question"] == SEED_QUESTION and payload["abstained"] is False
    assert set(payload["answer"]) == {"text", "source", "start", "end", "score", "page", "location"}
    assert payload["answer"]["page"] is None  # pages are for PDFs; the key is always there
    assert payload["answer"]["text"] == "CoreWeave"
    assert len(payload["passages"]) == 3
    for p in payload["passages"]:
        assert set(p) == {"text", "source", "start", "end", "score", "page", "location"} and p["page"] is None
        assert isinstance(p["start"], int) and isinstance(p["score"], float)
    check_offsets(payload, docs)


def test_human_output_marks_the_answer_and_says_not_found(docs, tmp_path, capsys):
    base = ["--docs", str(docs), "--index", str(tmp_path / "ix")]
    code, out, _ = run_ask(base + [SEED_QUESTION], capsys)
    assert code == 0 and out.startswith("CoreWeave") and "**CoreWeave**" in out and SEED_FILE in out
    code, out, _ = run_ask(base + [OUT_OF_SCOPE], capsys)
    assert code == 0 and "not found in the documents" in out.lower()


def test_stdin_batch_one_json_object_per_line(docs, tmp_path, capsys, monkeypatch):
    argv = ["--docs", str(docs), "--index", str(tmp_path / "ix"), "--json"]
    code, out, _ = run_ask(argv, capsys, f"{SEED_QUESTION}\n\n{OUT_OF_SCOPE}\n", monkeypatch)
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(lines) == 2
    assert lines[0]["answer"]["text"] == "CoreWeave" and lines[1]["abstained"] is True
    for payload in lines:
        check_offsets(payload, docs)


def test_a_stale_index_is_updated_before_answering(docs, tmp_path, capsys):
    base = ["--docs", str(docs), "--index", str(tmp_path / "ix"), "--json"]
    run_ask(base + [SEED_QUESTION], capsys)
    (docs / "fruit.txt").write_text("The Zanzibar mango harvest is led by Amina Juma every March.", encoding="utf-8")
    code, out, err = run_ask(base + ["Who leads the Zanzibar mango harvest?"], capsys)
    assert code == 0 and "out of date" in err
    payload = json.loads(out)
    assert payload["answer"]["text"] == "Amina Juma" and payload["answer"]["source"] == "fruit.txt"
    check_offsets(payload, docs)


@pytest.mark.parametrize("question", ["", "   \t "])
def test_empty_question_is_exit_2(question, docs, capsys):
    code, out, err = run_ask(["--docs", str(docs), question], capsys)
    assert code == 2 and out == "" and err.startswith("error:") and err.count("\n") == 1


def test_huge_question_is_exit_2(docs, capsys):
    code, _, err = run_ask(["--docs", str(docs), "why " * 600], capsys)
    assert code == 2 and "2000" in err and err.count("\n") == 1


def test_missing_and_empty_docs_folder_are_exit_2(tmp_path, capsys):
    code, _, err = run_ask(["--docs", str(tmp_path / "nope"), SEED_QUESTION], capsys)
    assert code == 2 and "not found" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run_ask(["--docs", str(tmp_path / "empty"), SEED_QUESTION], capsys)
    assert code == 2 and "no documents" in err


def test_corrupt_index_is_rebuilt_not_a_traceback(docs, tmp_path, capsys):
    index_dir = tmp_path / "ix"
    base = ["--docs", str(docs), "--index", str(index_dir), "--json", SEED_QUESTION]
    run_ask(base, capsys)
    build = index_dir / (index_dir / "CURRENT").read_text().split()[0]
    (build / "vectors.faiss").write_bytes(b"\x00garbage")
    code, out, err = run_ask(base, capsys)
    assert code == 0 and "corrupt" in err and "Traceback" not in err
    assert json.loads(out)["answer"]["text"] == "CoreWeave"


@pytest.mark.slow
def test_module_runs_as_a_real_process(docs, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "rag.ask", "--docs", str(docs), "--index", str(tmp_path / "ix"), "--json"]
    done = subprocess.run(cmd + [SEED_QUESTION], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answer"]["text"] == "CoreWeave"
    bad = subprocess.run(cmd + [" "], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error:") and "Traceback" not in bad.stderr


def test_read_context_flag(docs, tmp_path, capsys):
    base = ["--docs", str(docs), "--index", str(tmp_path / "ix")]
    code, _, err = run_ask([*base, "--read-context", "-1", SEED_QUESTION], capsys)
    assert code == 2 and "--read-context" in err and err.count("\n") == 1
    code, out, _ = run_ask([*base, "--json", "--read-context", "300", SEED_QUESTION], capsys)
    payload = json.loads(out)
    assert code == 0 and payload["answer"]["text"] == "CoreWeave"
    check_offsets(payload, docs)


# --- follow-ups from the command line (#24): a "history" on a stdin JSON line, or --after ---------------


def test_stdin_json_lines_carry_a_history_and_old_lines_still_work(docs, tmp_path, capsys, monkeypatch):
    (docs / "fruit.txt").write_text("The Zanzibar mango harvest is led by Amina Juma every March.", encoding="utf-8")
    follow = {"question": "and when is it?", "history": [SEED_QUESTION, "Who leads the Zanzibar mango harvest?"]}
    lines = [
        SEED_QUESTION,  # a plain line, as before
        json.dumps(follow),
        json.dumps({"question": SEED_QUESTION}),  # no history: the answer exactly as for a plain line
        '{"question": 3}',
        '{"question": "and who?", "history": "not a list"}',
        "{not json}",
        json.dumps({"question": "and who?", "history": ["  "]}),
    ]
    argv = ["--docs", str(docs), "--index", str(tmp_path / "ix"), "--json"]
    code, out, err = run_ask(argv, capsys, "\n".join(lines) + "\n", monkeypatch)
    got = [json.loads(line) for line in out.splitlines()]
    assert code == 2 and len(got) == len(lines) and err.count("error:") == 4
    assert got[0] == got[2] and set(got[0]) == {"question", "answer", "abstained", "passages"}
    assert got[1]["question"] == "and when is it?" and got[1]["searched_as"] == "and when is it? Zanzibar"
    assert got[1]["passages"][0]["source"] == "fruit.txt"  # searched with the subject: the mango file
    check_offsets(got[1], docs)
    assert all(set(g) == {"question", "error"} for g in got[3:])
    assert got[3]["question"] == '{"question": 3}' and '"question" string' in got[3]["error"]
    assert "list of the earlier questions" in got[4]["error"] and "JSON object" in got[5]["error"]
    assert got[6]["question"] == "and who?" and "history question 1: the question is empty" in got[6]["error"]


def test_after_flag_reads_a_follow_up_and_needs_a_question(docs, tmp_path, capsys, monkeypatch):
    base = ["--docs", str(docs), "--index", str(tmp_path / "ix")]
    code, out, _ = run_ask([*base, "--after", "How much is Stargate worth?", "and who is in it?"], capsys)
    assert code == 0 and out.startswith("Read as: Who is in Stargate?\n")
    code, out, _ = run_ask([*base, "--json", "--after", "How much is Stargate worth?", "and who is in it?"], capsys)
    shown = json.loads(out)
    assert code == 0 and shown["searched_as"] == "and who is in it? Stargate"
    assert shown["read_as"] == "Who is in Stargate?" and shown["question"] == "and who is in it?"
    code, out, err = run_ask([*base, "--after", "x"], capsys, "and who?\n", monkeypatch)
    assert code == 2 and out == "" and "--after goes with a question argument" in err
