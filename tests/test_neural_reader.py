"""The neural reader: training learns, shipped weights answer the seed question, offsets slice exactly.

Window and offset tests use an "oracle" stand-in for the network (it points at the answer's word
pieces wherever they occur), so they check the windowing, span decoding and de-duplication
without depending on what the trained weights happen to predict.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
import torch

from rag.reader.neural import MODEL_DIR, NeuralReader
from rag.reader.windows import encode
from rag.training import data
from rag.types import Passage

from .conftest import ROOT, SEED_FILE, SEEDS

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SEED_QUESTION = "who supplies GPUs in the deal?"


@pytest.fixture(scope="module")
def tokenizer():
    from rag.reader.model import load_tokenizer

    return load_tokenizer()


class Oracle(torch.nn.Module):
    """Puts nearly all start/end probability on every occurrence of ``answer_ids`` in a window."""

    def __init__(self, answer_ids: list[int]) -> None:
        super().__init__()
        self.answer_ids = answer_ids

    def forward(self, input_ids, token_type_ids, attention_mask, context_mask):
        start = torch.zeros(input_ids.shape)
        end = torch.zeros(input_ids.shape)
        n = len(self.answer_ids)
        for row, ids in enumerate(input_ids.tolist()):
            for i in range(len(ids) - n + 1):
                if ids[i : i + n] == self.answer_ids and context_mask[row, i]:
                    start[row, i], end[row, i + n - 1] = 20.0, 20.0
        start = start.masked_fill(~context_mask, -1e4)
        end = end.masked_fill(~context_mask, -1e4)
        return start.log_softmax(-1), end.log_softmax(-1)


def oracle_reader(tokenizer, answer: str, max_length: int = 256, stride: int = 96) -> NeuralReader:
    ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    config = {"max_length": max_length, "stride": stride, "max_answer_tokens": 30, "threshold": 0.5}
    return NeuralReader(loaded=(Oracle(ids), config, tokenizer))


def test_training_smoke_loss_falls(tokenizer):
    from transformers import get_linear_schedule_with_warmup

    from rag.reader.model import SpanModel
    from rag.training.train import TrainConfig, features, train_step

    torch.manual_seed(0)
    facts = [("Who founded Acme?", "Acme was founded by Maria Lopez in 1990.", "Maria Lopez"),
             ("When did the bridge open?", "The old bridge finally opened in 1932 after delays.", "1932"),
             ("What colour is the car?", "Her car is bright red and very fast.", "bright red"),
             ("Where is the museum?", "The museum stands in Lyon, near the river.", "Lyon")]  # fmt: skip
    examples = [data.Example(str(i), "t", "t", q, c, a, c.index(a), (a,)) for i, (q, c, a) in enumerate(facts)]
    examples.append(data.Example("n", "t", "t", "Who founded Acme?", facts[1][1], None, None, ()))
    cfg = TrainConfig(max_length=64, stride=16)
    feats = features(tokenizer, examples, cfg, random.Random(0))
    assert sum(f[1] == 0 for f in feats) == 1 and len(feats) == 5
    model = SpanModel()
    model.freeze(True, 4)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=3e-4)
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, 100)
    losses = [train_step(model, feats, optimizer, scheduler, params, False, 0) for _ in range(12)]
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3, losses


def test_window_boundary_offsets_slice_exactly_and_spans_are_not_repeated(tokenizer):
    filler = " ".join(f"Sentence {i} talks about weather and trains." for i in range(30))
    answer = "Quentin Blackwood"
    text = filler + f" The mayor of Springfield is {answer}. " + filler
    windows = encode(tokenizer, "who is the mayor of Springfield?", [text], max_length=48, stride=24)
    a = text.index(answer)
    holding = [w for w in windows if w.token_span(a, a + len(answer))]
    assert len(windows) > 10 and len(holding) >= 2  # the answer sits in an overlap of windows
    for w in windows:  # every window boundary cuts between tokens with exact character offsets
        passage = [i for i, o in enumerate(w.offsets) if o is not None]
        first, last = passage[0], passage[-1]
        assert text[w.offsets[first][0] : w.offsets[last][1]].strip() == text[w.offsets[first][0] : w.offsets[last][1]]
    for w in holding:
        s, e = w.token_span(a, a + len(answer))
        assert text[w.offsets[s][0] : w.offsets[e][1]] == answer
    # Two overlapping passages of one document, both holding the answer.
    doc = "Intro. " + text
    p1 = Passage("d.txt", 7, 7 + len(text), text, 0.9)
    cut = text.index("The mayor") - 40
    p2 = Passage("d.txt", 7 + cut, 7 + len(text), text[cut:], 0.8)
    reader = oracle_reader(tokenizer, answer, max_length=48, stride=24)
    found = reader.candidates("who is the mayor of Springfield?", [p1, p2], k=5)
    keys = [(c.source, c.start, c.end) for c in found]
    assert len(keys) == len(set(keys))
    best = found[0]
    assert best.text == answer and doc[best.start : best.end] == answer and best.score > 0.9
    assert best.passage is not None and best.passage.text[best.start - best.passage.start :][: len(answer)] == answer
    assert reader.read("who is the mayor of Springfield?", [p1, p2]) == best


def test_multibyte_text_before_the_answer_slices_exactly(tokenizer):
    answer = "Zoë Ångström"
    text = "Café naïve — 東京タワー 🚀🎉 señor ß straße 👩‍👩‍👧 中文字符。 The pilot was " + answer + " 😀, said José."
    doc = "前置き🙂 " + text
    start = doc.index(text)
    passage = Passage("m.txt", start, start + len(text), text, 1.0)
    reader = oracle_reader(tokenizer, answer)
    got = reader.read("who was the pilot?", [passage])
    assert got is not None and got.text == answer
    assert doc[got.start : got.end] == answer and text[got.start - start : got.end - start] == answer
    for w in encode(tokenizer, "who was the pilot?", [text], max_length=24, stride=8):  # offsets stay in range
        assert all(0 <= o[0] <= o[1] <= len(text) for o in w.offsets if o is not None)


needs_weights = pytest.mark.skipif(
    not (MODEL_DIR / "model.safetensors").is_file(), reason="no trained weights in rag/models/reader/ yet"
)


@needs_weights
def test_shipped_weights_slice_exactly_and_abstain_off_topic(seed_pipeline):
    from rag.documents.folder import file_text

    reader = NeuralReader()
    answer = reader.read(SEED_QUESTION, seed_pipeline.retriever.search(SEED_QUESTION, 5))
    assert answer is not None and 0.0 <= answer.score <= 1.0
    assert file_text(SEEDS, answer.source)[answer.start : answer.end] == answer.text
    assert answer.passage is not None and answer.passage.span.contains(answer.span)
    off_topic = "What is the capital of France?"
    best = reader.read(off_topic, seed_pipeline.retriever.search(off_topic, 5))
    assert best is None or best.score < reader.threshold


@needs_weights
def test_shipped_weights_answer_seed_questions(seed_pipeline):
    """The design card's example, and a date, with exact offsets and above the threshold."""
    from rag.documents.folder import file_text

    reader = NeuralReader()
    for question, expected in (
        (SEED_QUESTION, "CoreWeave"),
        ("When did OpenAI finalize the agreement with Google's cloud division?", "May 2025"),
    ):
        answer = reader.read(question, seed_pipeline.retriever.search(question, 5))
        assert answer is not None and answer.text == expected and answer.source == SEED_FILE
        assert file_text(SEEDS, answer.source)[answer.start : answer.end] == expected
        assert answer.score >= reader.threshold


@needs_weights
def test_shipped_config_is_complete():
    import json

    settings = json.loads((MODEL_DIR / "rag_reader.json").read_text(encoding="utf-8"))
    assert {"max_length", "stride", "max_answer_tokens", "threshold"} <= set(settings)
    config = json.loads((MODEL_DIR / "config.json").read_text(encoding="utf-8"))
    assert config["architectures"] == ["BertForQuestionAnswering"]
    assert (MODEL_DIR / "model.safetensors").stat().st_size <= 50_000_000
    assert (MODEL_DIR / "MODEL_CARD.md").is_file()


@needs_weights
def test_shipped_reader_is_a_standard_hugging_face_qa_folder():
    """Plain transformers loads it (no code of ours) and finds the same span our reader does."""
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(MODEL_DIR))
    model = AutoModelForQuestionAnswering.from_pretrained(str(MODEL_DIR), dtype=torch.float32).eval()
    question = "When did OpenAI finalize the agreement with Google's cloud division?"
    context = "According to reports, OpenAI finalized an agreement with Google's cloud division in May 2025."
    enc = tokenizer(question, context, return_tensors="pt", return_offsets_mapping=True)
    offsets = enc.pop("offset_mapping")[0]
    with torch.inference_mode():
        out = model(**enc)
    in_context = torch.tensor([s == 1 for s in enc.sequence_ids(0)])
    start = int(out.start_logits[0].masked_fill(~in_context, -1e4).argmax())
    end = int(out.end_logits[0].masked_fill(~in_context, -1e4).argmax())
    assert context[int(offsets[start][0]) : int(offsets[end][1])] == "May 2025"


@pytest.mark.skipif(not (SHARED_DATA / "train").is_dir(), reason="training data (../shared/data) not present")
def test_training_files_load_with_exact_answers_and_negatives_lack_them():
    examples = data.load_squad(SHARED_DATA / "train" / "qed_dev.json")[:300]
    assert all(e.context[e.answer_start : e.answer_end] == e.answer for e in examples)
    train, held = data.split_heldout(examples, 0.1, 0)
    assert held and not {e.context for e in train} & {e.context for e in held}
    for neg in data.negatives(examples, 1.0, 0):
        gold = next(e for e in examples if e.qid + "-neg" == neg.qid)
        assert neg.answer is None and all(a.lower() not in neg.context.lower() for a in gold.answers)


@needs_weights
def test_onnx_runtime_span_model_matches_torch(tokenizer, tmp_path):
    """The ONNX export gives torch's log-probabilities, on a padded batch of windows of different lengths."""
    import numpy as np

    from rag.reader.hf import load_folder
    from rag.reader.onnx_model import OrtSpanModel, export_onnx
    from rag.reader.windows import collate

    model, _, _ = load_folder(MODEL_DIR)
    ort_model = OrtSpanModel(export_onnx(model, MODEL_DIR, tmp_path))
    contexts = ["CoreWeave supplies the GPUs. " * 30, "Short passage about Google Cloud."]
    batch = collate(encode(tokenizer, "Who supplies GPUs?", contexts, 128, 48))
    with torch.inference_mode():
        expected = [t.numpy() for t in model(**{k: torch.from_numpy(v) for k, v in batch.items()})]
    got = ort_model(**batch)
    ctx = batch["context_mask"]
    for e, g in zip(expected, got):
        assert g.shape == e.shape
        np.testing.assert_allclose(g[ctx], e[ctx], atol=2e-3, rtol=1e-3)
    assert export_onnx(model, MODEL_DIR, tmp_path) == next(tmp_path.glob("reader-*.onnx"))  # cached


@needs_weights
def test_the_shipped_reader_runs_without_torch(tmp_path):
    """With the ONNX export cached, answering imports neither torch nor transformers (cold start)."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom rag.reader.neural import NeuralReader\nfrom rag.types import Passage\n"
        "r = NeuralReader()\n"
        "t = 'According to reports, OpenAI finalized an agreement with Google cloud division in May 2025.'\n"
        "a = r.read('When did OpenAI finalize the agreement?', [Passage('d.txt', 0, len(t), t, 1.0)])\n"
        "print(a.text, 'torch' in sys.modules, 'transformers' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)  # exports once
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout
    assert out.split() == ["May", "2025", "False", "False"]


def test_scores_compare_spans_with_their_own_window_no_answer():
    """A span that beats its window's [CLS] by far outranks one that barely does, whatever their softmax mass."""
    from rag.reader.decoding import Candidate
    from rag.reader.neural import window_spans
    from rag.reader.windows import Window

    def window(context: int) -> Window:
        words = (False, False, False, True, True, False)
        offsets = [None, None, None, (0, 4), (5, 9), None]
        return Window([101, 7, 102, 5, 6, 102], [0, 0, 0, 1, 1, 1], offsets, context, words, words)

    lp = torch.log(torch.tensor([[0.45, 0, 0, 0.55, 0, 0], [0.001, 0, 0, 0.499, 0.5, 0]]) + 1e-12)
    spans = window_spans([window(0), window(1)], lp.numpy(), lp.numpy(), 30, 1)
    best = max(spans, key=lambda s: s.margin)
    # P(span) 0.25 against 0.30 in the other window, but 250,000 times its own no-answer: it wins.
    assert (best.context, best.start, best.end) == (1, 5, 9)
    assert spans[0].score == pytest.approx(0.55**2 / (0.55**2 + 0.45**2), rel=1e-4)  # sigmoid of the margin
    assert Candidate(0, 0, 1, -1000.0).score == 0.0 and Candidate(0, 0, 1, 0.0).score == 0.5


def test_a_reader_calibrated_for_another_score_is_refused(tokenizer, tmp_path):
    from rag.errors import RagError

    config = {"max_length": 64, "stride": 16, "threshold": 0.05, "score": "P(start) * P(end) within a window"}
    with pytest.raises(RagError, match="recalibrate"):
        NeuralReader(tmp_path, loaded=(Oracle([1]), config, tokenizer))


def test_near_miss_negatives_drop_the_answer_sentence_only():
    context = "Acme makes anvils. It was founded by Maria Lopez in 1990. Its office is in Lyon. It has 40 staff."
    e = data.Example("q", "t", "t", "Who founded Acme?", context, "Maria Lopez", context.index("Maria Lopez"))
    text = data.without_answer(e)
    assert text == "Acme makes anvils. Its office is in Lyon. It has 40 staff."
    (neg,) = data.deleted_negatives([e], 1.0, 0)
    assert neg.answer is None and neg.context == text and neg.qid == "q-del"
    echoed = data.Example("q", "t", "t", "Who?", context + " Maria Lopez retired.", "Maria Lopez", e.answer_start)
    assert data.without_answer(echoed) is None  # the answer survives elsewhere: no negative


def test_a_run_can_start_from_exported_weights_or_a_checkpoint(tmp_path):
    """Training writes a Hugging Face QA folder, reads it back as a start, and refuses any other folder."""
    from rag.reader.hf import save_folder
    from rag.reader.model import SpanModel, load_tokenizer
    from rag.training.train import initial_weights

    model = SpanModel()
    save_folder(model.state_dict(), load_tokenizer(), tmp_path / "out", {})
    assert {"model.safetensors", "tokenizer.json", "rag_reader.json"} <= {p.name for p in (tmp_path / "out").iterdir()}
    exported = initial_weights(tmp_path / "out")
    assert torch.allclose(exported["qa.weight"], model.qa.weight.detach().half().float())
    torch.save({"model": model.state_dict()}, tmp_path / "last.pt")
    assert torch.equal(initial_weights(tmp_path / "last.pt")["qa.weight"], model.qa.weight)
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "weights.safetensors").write_bytes(b"")  # the older format, no longer read
    with pytest.raises(ValueError, match="no model.safetensors"):
        initial_weights(tmp_path / "old")
