"""Measure the neural reader's decoding options (rag/reader/decoding.py) on held-out training
questions: never the SQuAD benchmark, never the gold set or the seeds.

    python eval/tune_decoding.py heldout [--model DIR]   # each question's own context + built negatives
    python eval/tune_decoding.py open [--model DIR] [--limit 300]   # retrieval over held-out files' paragraphs

``heldout`` reports, per setting, EM/F1 without abstention and two calibrations: the threshold
maximising the objective (answerable F1 with abstention + share of negatives abstained), and the
lowest threshold abstaining on 75% of the negatives (the shipped rule) with the answerable F1 and
refusals it gives; ``open`` reports always-answer EM/F1 when the reader picks among retrieved passages.
The network runs once per model; every setting re-ranks the same cached candidates.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.eval.gold import load_squad, materialise_squad, sample  # noqa: E402
from rag.eval.metrics import best_over_golds, exact_match, f1  # noqa: E402
from rag.reader.decoding import Decoding, entities  # noqa: E402
from rag.reader.neural import MODEL_DIR, NeuralReader, predict  # noqa: E402
from rag.reader.onnx_model import weights_digest  # noqa: E402
from rag.reader.windows import encode  # noqa: E402
from rag.training import data  # noqa: E402
from rag.training.heldout import calibrate  # noqa: E402
from rag.types import Passage  # noqa: E402

CACHE = ROOT / ".cache" / "decoding"
OPEN_FILES = ("tydiqa_en_dev.json", "fairytaleqa_test.json", "qed_dev.json")
PER_WINDOW = 10


def model_key(model_dir: Path) -> str:
    """The cache key of a model's candidates: its weights' hash (as the ONNX export cache names them)."""
    return weights_digest(model_dir)[:12]


def read_all(reader: NeuralReader, items: list[tuple[str, list[Passage]]]) -> list[list]:
    """The candidates of every (question, passages) item, as the reader's network scores them."""
    out = []
    for n, (question, passages) in enumerate(items):
        windows = encode(reader.tokenizer, question, [p.text for p in passages], reader.max_length, reader.stride)
        out.append(predict(reader.model, windows, reader.max_answer_tokens, PER_WINDOW, reader.bf16))
        if n % 500 == 0:
            print(f"  read {n}/{len(items)}", file=sys.stderr, flush=True)
    return out


def cached(name: str, build):
    path = CACHE / f"{name}.pkl"
    if path.is_file():
        return pickle.loads(path.read_bytes())
    value = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(value))
    return value


def heldout_items() -> tuple[list, list]:
    """(answerable examples, negatives) exactly as training's held-out evaluation builds them."""
    from rag.training.train import TrainConfig, load_data

    cfg = TrainConfig()
    _, val, _ = load_data(cfg)
    negatives = data.negatives(val, 1.0, cfg.seed + 1) + data.deleted_negatives(val, 1.0, cfg.seed + 2)
    negatives += data.swapped_negatives(val, 1.0, cfg.seed + 3)  # the look-alikes, as training's calibration
    return val, negatives


def settings_grid() -> list[Decoding]:
    grid = itertools.product((0.0, 0.5, 1.0, 2.0), (0.0, 0.05, 0.1, 0.2), (0.0,), (False, True), (0.0, 2.0))
    return [Decoding(*g) for g in grid]


def heldout(reader: NeuralReader, key: str) -> list[dict]:
    val, negatives = heldout_items()
    items = [(e.question, [Passage("c", 0, len(e.context), e.context, 1.0)]) for e in val + negatives]
    cands = cached(f"heldout-{key}", lambda: read_all(reader, items))
    ents = cached("heldout-entities", lambda: {t: entities(t) for t in {p[0].text for _, p in items}})
    rows = []
    for d in settings_grid():
        pos, neg, ems = [], [], []
        for i, ((question, passages), spans) in enumerate(zip(items, cands)):
            best = d.rank(question, passages, spans, ents.__getitem__)[:1]
            score = best[0].score if best else 0.0
            if i < len(val):
                text = passages[0].text[best[0].start : best[0].end] if best else ""
                pos.append((best_over_golds(f1, text, val[i].answers), score))
                ems.append(best_over_golds(exact_match, text, val[i].answers))
            else:
                neg.append(score)
        cal = calibrate(pos, neg)
        at75 = calibrate(pos, neg, min_negative_abstention=0.75)
        rows.append({**vars(d), "em": round(100 * sum(ems) / len(ems), 2),
                     "f1": round(100 * sum(f for f, _ in pos) / len(pos), 2), **cal,
                     "threshold_75": at75["threshold"], "f1_with_abstention_75": at75["answerable_f1_with_abstention"],
                     "refused_75": at75["false_abstention_rate"]})  # fmt: skip
    return rows


def open_mode(reader: NeuralReader, key: str, limit: int, threshold: float) -> list[dict]:
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    items, golds = [], []
    for name in OPEN_FILES:
        path = ROOT.parent / "shared" / "data" / "train" / name
        docs = materialise_squad(path, ROOT / ".cache" / "squad")
        pipe = Pipeline(Settings(docs=docs, index=docs.parent / "index"), reader=reader)
        pipe.refresh()
        for q in sample(load_squad(path), limit, 0):
            items.append((q.question, pipe.retrieve(q.question)))
            golds.append(q.answers)
    cands = cached(f"open-{key}-{limit}", lambda: read_all(reader, items))
    rows = []
    for d in [Decoding(t, lp, w, a) for t, lp, w, a in itertools.product(
            (0.0, 1.0), (0.0, 0.05), (0.0, 2.0, 4.0, 8.0), (False, True))]:  # fmt: skip
        ems, f1s, kept = [], [], []
        for (question, passages), spans, answers in zip(items, cands, golds):
            best = d.rank(question, passages, spans)[:1]
            text = passages[best[0].context].text[best[0].start : best[0].end] if best else ""
            ems.append(best_over_golds(exact_match, text, answers))
            f1s.append(best_over_golds(f1, text, answers))
            kept.append(f1s[-1] if best and best[0].score >= threshold else 0.0)
        rows.append({**vars(d), "questions": len(items), "em": round(100 * sum(ems) / len(ems), 2),
                     "f1": round(100 * sum(f1s) / len(f1s), 2),
                     f"f1_with_abstention_at_{threshold}": round(100 * sum(kept) / len(kept), 2)})  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("heldout", "open"))
    parser.add_argument("--model", type=Path, default=MODEL_DIR)
    parser.add_argument("--limit", type=int, default=300, help="open: questions sampled per file")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--threshold", type=float, help="open: abstain below this score (default: the model's)")
    parser.add_argument("--rank", help="order the settings by this field (default: heldout f1_with_abstention_75)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    reader = NeuralReader(args.model)
    key = model_key(args.model)
    threshold = reader.threshold if args.threshold is None else args.threshold
    rows = heldout(reader, key) if args.mode == "heldout" else open_mode(reader, key, args.limit, threshold)
    rank = args.rank or ("f1_with_abstention_75" if args.mode == "heldout" else "f1")
    for row in sorted(rows, key=lambda r: -r[rank]):
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
