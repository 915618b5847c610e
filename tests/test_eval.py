"""rag.eval end to end on small files the test writes, and on SQuAD when ../shared has it."""

import json
import re

import pytest

from rag.commands.evaluate import main as eval_main
from rag.eval.gold import load_squad, materialise_squad

from .conftest import SHARED

SQUAD_DEV = SHARED / "data" / "squad-v1.1" / "dev-v1.1.json"


def write_gold(path, items):
    path.write_text("\n".join(json.dumps(i) for i in items) + "\n", encoding="utf-8")


def test_gold_run_scores_every_question_and_saves(docs, tmp_path, capsys):
    gold = tmp_path / "gold.jsonl"
    write_gold(
        gold,
        [
            {"id": "a", "question": "who supplies GPUs in the deal?", "answers": ["CoreWeave"], "unanswerable": False},
            {"id": "b", "question": "What is the capital of France?", "answers": [], "unanswerable": True},
            {"id": "c", "question": "Who is the CEO of CoreWeave?", "answers": [], "unanswerable": True},
        ],
    )
    saved = tmp_path / "run.json"
    argv = ["--gold", str(gold), "--docs", str(docs), "--index", str(tmp_path / "ix"), "--json", "--save", str(saved)]
    assert eval_main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_questions"] == 3 and report["answerable"]["n"] == 1 and report["unanswerable"]["n"] == 2
    assert report["answerable"]["em"] == 100.0
    # an unanswerable question scores 100 when abstained on, 0 when answered, and stays in the mean:
    # the France question abstains; "c" may go either way, but never leaves the denominator
    assert report["unanswerable"]["em"] in (50.0, 100.0)
    assert report["em"] == pytest.approx((100.0 + 2 * report["unanswerable"]["em"]) / 3, abs=0.01)
    assert report["offsets"]["answers_valid"] == 1.0 and report["offsets"]["passages_valid"] == 1.0
    assert report["retrieval"]["recall@20"] == 1.0
    assert set(report["latency"]) == {"p50_ms", "p95_ms"}
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", json.loads(saved.read_text())["commit"])  # not "unknown"


def test_human_report_lists_wrong_answers(docs, tmp_path, capsys):
    gold = tmp_path / "gold.jsonl"
    write_gold(gold, [{"id": "x", "question": "Who supplies GPUs?", "answers": ["Nobody Inc"], "unanswerable": False}])
    argv = ["--gold", str(gold), "--docs", str(docs), "--index", str(tmp_path / "ix"), "--no-save"]
    assert eval_main(argv) == 0
    out = capsys.readouterr().out
    assert "EM 0.0" in out and "Wrong answers (1" in out and "Nobody Inc" in out


def test_bad_gold_file_is_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "no id"}\n')
    assert eval_main(["--gold", str(bad), "--no-save"]) == 2
    assert eval_main(["--gold", str(tmp_path / "missing.jsonl"), "--no-save"]) == 2
    assert eval_main(["--gold", str(bad), "--mode", "reader", "--no-save"]) == 2
    assert capsys.readouterr().err.count("error:") == 3


def tiny_squad(path):
    data = {
        "data": [
            {
                "title": "Deal",
                "paragraphs": [
                    {
                        "context": "日本の notes — ça va. The café in Lyon is owned by Pierre Dubois since 1999.",
                        "qas": [
                            {
                                "id": "q1",
                                "question": "Who owns the café in Lyon?",
                                "answers": [{"text": "Pierre Dubois", "answer_start": 48}],
                            }
                        ],
                    },
                    {
                        "context": "The harvest was led by Amina Juma in March 2024.",
                        "qas": [
                            {
                                "id": "q2",
                                "question": "When was the harvest led by Amina Juma?",
                                "answers": [{"text": "March 2024", "answer_start": 38}],
                            }
                        ],
                    },
                ],
            }
        ]
    }
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def test_squad_reader_and_open_modes_on_a_tiny_file(tmp_path, capsys, monkeypatch):
    squad = tmp_path / "tiny.json"
    tiny_squad(squad)
    monkeypatch.setattr("rag.commands.evaluate.squad_cache", lambda: tmp_path / "cache")
    assert eval_main(["--squad", str(squad), "--mode", "reader", "--json", "--no-save"]) == 0
    reader = json.loads(capsys.readouterr().out)
    assert reader["kind"] == "squad-reader" and reader["forced"]["em"] == 100.0 and "retrieval" not in reader
    assert eval_main(["--squad", str(squad), "--mode", "open", "--json", "--no-save"]) == 0
    open_ = json.loads(capsys.readouterr().out)
    assert open_["retrieval"]["recall@1"] == 1.0 and open_["offsets"]["passages_valid"] == 1.0
    docs = materialise_squad(squad, tmp_path / "cache")
    for q in load_squad(squad):
        assert (docs / q.source).read_text(encoding="utf-8") == q.context


@pytest.mark.skipif(not SQUAD_DEV.exists(), reason="needs ../shared/data/squad-v1.1 (absent on a user's machine)")
def test_squad_dev_reader_mode_sample(capsys):
    assert eval_main(["--squad", str(SQUAD_DEV), "--mode", "reader", "--limit", "20", "--json", "--no-save"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_questions"] == 20 and report["offsets"]["answers_valid"] in (1.0, None)
    assert report["forced"]["f1"] > 10.0  # far from perfect, but the baseline reads real answers
