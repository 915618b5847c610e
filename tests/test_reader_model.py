"""--reader-model: any local Hugging Face extractive-QA folder reads, with exact offsets and abstention."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from rag.commands.ask import main as ask_main
from rag.documents.folder import file_text
from rag.errors import UsageError
from rag.reader.folder import SETTINGS
from rag.reader.hf import load_folder


@pytest.fixture(scope="module")
def tiny_bert_qa(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer BERT QA checkpoint with the bundled tokenizer, made here."""
    from transformers import BertConfig, BertForQuestionAnswering

    from rag.reader.model import load_tokenizer

    folder = tmp_path_factory.mktemp("tiny-bert-qa")
    tokenizer = load_tokenizer()
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=512,
    )  # fmt: skip
    config.architectures = ["BertForQuestionAnswering"]
    BertForQuestionAnswering(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def test_a_tiny_random_bert_answers_with_exact_offsets(docs, tmp_path, tiny_bert_qa, capsys):
    code = ask_main(["--docs", str(docs), "--index", str(tmp_path / "i"), "--reader-model", str(tiny_bert_qa),
                     "--threshold", "0", "--json", "who supplies GPUs in the deal?"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["abstained"] is False
    a = out["answer"]
    assert file_text(docs, a["source"])[a["start"] : a["end"]] == a["text"] and 0 <= a["score"] <= 1
    for p in out["passages"]:
        assert file_text(docs, p["source"])[p["start"] : p["end"]] == p["text"]


def test_a_high_threshold_abstains_the_same_way(docs, tmp_path, tiny_bert_qa, capsys):
    code = ask_main(["--docs", str(docs), "--index", str(tmp_path / "i"), "--reader-model", str(tiny_bert_qa),
                     "--threshold", "1.01", "--json", "who supplies GPUs in the deal?"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["abstained"] is True and out["answer"] is None and out["passages"]


def test_settings_file_sets_the_threshold(tiny_bert_qa, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(tiny_bert_qa, folder)
    assert load_folder(folder)[1]["threshold"] == 0.5  # no settings: span must beat no-answer
    (folder / SETTINGS).write_text(json.dumps({"threshold": 0.9, "max_length": 128}), encoding="utf-8")
    _, settings, _ = load_folder(folder)
    assert settings["threshold"] == 0.9 and settings["max_length"] == 128


def broken(folder: Path, tmp_path: Path, how: str) -> Path:
    target = tmp_path / how
    if how == "missing":
        return target
    shutil.copytree(folder, target)
    if how == "not-qa":
        config = json.loads((target / "config.json").read_text())
        (target / "config.json").write_text(json.dumps({**config, "architectures": ["BertModel"]}))
    elif how == "no-tokenizer":
        for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
            (target / name).unlink(missing_ok=True)
    elif how == "no-config":
        (target / "config.json").unlink()
    return target


@pytest.mark.parametrize(
    "how, message",
    [
        ("missing", "reader model folder not found"),
        ("not-qa", "not an extractive question-answering model"),
        ("no-tokenizer", "has no tokenizer files"),
        ("no-config", "not a Hugging Face model folder"),
    ],
)
def test_bad_folders_are_one_line_and_exit_2(docs, tmp_path, tiny_bert_qa, capsys, how, message):
    folder = broken(tiny_bert_qa, tmp_path, how)
    with pytest.raises(UsageError, match=message):
        load_folder(folder)
    code = ask_main(["--docs", str(docs), "--index", str(tmp_path / "i"), "--reader-model", str(folder), "who?"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_eval_records_the_model_folder(docs, tmp_path, tiny_bert_qa, capsys):
    from rag.commands.evaluate import main as eval_main

    gold = tmp_path / "gold.jsonl"
    line = {"id": "q1", "question": "who supplies GPUs in the deal?", "answers": ["CoreWeave"], "unanswerable": False}
    gold.write_text(json.dumps(line) + "\n", encoding="utf-8")
    code = eval_main(["--gold", str(gold), "--docs", str(docs), "--index", str(tmp_path / "i"),
                      "--reader-model", str(tiny_bert_qa), "--json",
                      "--save", str(tmp_path / "run.json")])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["settings"]["reader"] == "neural"
    assert report["settings"]["reader_model"] == str(tiny_bert_qa)
