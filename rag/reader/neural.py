"""A learned extractive reader: MiniLM fine-tuned to point at answer spans (see ``train.py``).

Every window of every passage goes through the model in one batch. [CLS] is each window's "no
answer" slot, and a span's score is ``sigmoid(span logits - no-answer logits)`` within its window:
the probability that this span, rather than "no answer", is what the window says. That margin is
comparable across windows and passages, where a per-window softmax is not (a short passage with
one name in it would win with a confident wrong answer). The threshold that turns the score into
an abstention was calibrated on held-out questions with negatives (``config.json``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.errors import RagError
from rag.reader.decoding import Candidate, Decoding
from rag.reader.folder import DEFAULT_SETTINGS, read_settings
from rag.reader.windows import Window, collate, encode
from rag.types import Answer, Passage

MODEL_DIR = Path(os.environ.get("RAG_READER_DIR") or Path(__file__).resolve().parents[1] / "models" / "reader")
FORWARD_BATCH = 64
TOP_PER_WINDOW = 5  # candidate spans kept per window for decoding to choose from
log = logging.getLogger(__name__)
SCORE = "sigmoid(span logits - [CLS] no-answer logits) within a window"


def window_spans(
    windows: Sequence[Window], start_lp: np.ndarray, end_lp: np.ndarray, max_answer_tokens: int, top_n: int
) -> list[Candidate]:
    """The ``top_n`` best legal spans per window: whole words of the passage, end >= start, bounded length."""
    length = start_lp.shape[1]
    no_answer = start_lp[:, 0] + end_lp[:, 0]
    scores = start_lp[:, :, None] + end_lp[:, None, :] - no_answer[:, None, None]
    pos = np.arange(length)
    legal = (pos[None, :] >= pos[:, None]) & (pos[None, :] - pos[:, None] < max_answer_tokens)
    out = []
    for i, w in enumerate(windows):
        starts = np.zeros(length, dtype=bool)
        ends = np.zeros(length, dtype=bool)
        starts[: len(w)] = w.word_start
        ends[: len(w)] = w.word_end
        ok = legal & starts[:, None] & ends[None, :]
        k = min(top_n, int(ok.sum()))
        if k == 0:
            continue
        s = np.where(ok, scores[i], -np.inf).ravel()
        top = np.argpartition(-s, k - 1)[:k]
        for flat in top[np.argsort(-s[top], kind="stable")]:
            a, b = w.offsets[flat // length], w.offsets[flat % length]
            out.append(Candidate(w.context, a[0], b[1], float(s[flat])))
    return out


def forward(model, batch: dict[str, np.ndarray], bf16: bool) -> tuple[np.ndarray, np.ndarray]:
    """Start and end log-probabilities of a collated batch, from an ONNX Runtime or a torch model."""
    if getattr(model, "runs_numpy", False):
        return model(**batch)
    import torch

    params = getattr(model, "parameters", None)
    first = next(params(), None) if params else None
    device = first.device if first is not None else torch.device("cpu")
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        start, end = model(**{k: torch.from_numpy(v).to(device) for k, v in batch.items()})
    return start.float().cpu().numpy(), end.float().cpu().numpy()


def predict(
    model, windows: Sequence[Window], max_answer_tokens: int = 30, top_n: int = 5, bf16: bool = False
) -> list[Candidate]:
    """Candidate spans over all windows, best first (duplicates included); ``bf16`` autocasts a torch encoder."""
    spans: list[Candidate] = []
    for i in range(0, len(windows), FORWARD_BATCH):
        chunk = windows[i : i + FORWARD_BATCH]
        start_lp, end_lp = forward(model, collate(chunk), bf16)
        spans += window_spans(chunk, start_lp, end_lp, max_answer_tokens, top_n)
    return sorted(spans, key=lambda s: -s.margin)


@lru_cache(maxsize=2)
def load_model(model_dir: str = str(MODEL_DIR), threads: int = 0) -> tuple[object, dict, object]:
    """Model, settings and tokenizer of a QA model folder, loaded once per process (and thread count).

    A folder whose settings name the ``onnx`` runtime (the shipped reader) runs in ONNX Runtime, with
    no torch or transformers import (``RAG_READER_BACKEND=torch`` runs it in torch instead). ``threads``:
    the threads it computes with (0: one per core); a cluster actor holding one CPU asks for one."""
    path = Path(model_dir)
    settings = read_settings(path) if path.is_dir() else {}
    backend = os.environ.get("RAG_READER_BACKEND", "auto")
    if settings.get("runtime") == "onnx" and backend != "torch":
        from rag.reader.onnx_model import load_onnx

        try:
            return load_onnx(path, settings, threads=threads)
        except Exception as exc:  # an ONNX Runtime that cannot run here: torch still can
            if backend == "onnx":
                raise
            log.warning("ONNX Runtime cannot run the reader (%s); using torch", exc)
    from rag.reader.hf import load_folder

    if threads:
        import torch

        torch.set_num_threads(threads)
    return load_folder(path)


class NeuralReader:
    """Best span across all windows of all passages; see the module docstring."""

    name = "neural"

    def __init__(self, model_dir: Path = MODEL_DIR, loaded: tuple | None = None, threads: int = 0) -> None:
        """``loaded`` = (model, config, tokenizer) skips loading from ``model_dir`` (tests, training).
        ``threads``: see ``load_model``."""
        self.model, self.config, self.tokenizer = loaded or load_model(str(model_dir), threads)
        self._threshold = float(self.config.get("threshold", 0.5))
        windows = {**DEFAULT_SETTINGS, **self.config}  # a folder's settings hold the defaults; ``loaded`` may not
        self.max_length = int(windows["max_length"])
        self.stride = int(windows["stride"])
        self.max_answer_tokens = int(windows["max_answer_tokens"])
        self.bf16 = not getattr(self.model, "runs_numpy", False) and torch_precision(self.config) == "bf16"
        self.decoding = Decoding.from_settings(self.config)
        self.confidence_cutoffs: dict[str, float] | None = self.config.get("confidence")  # rag.reader.confidence
        if self.config.get("score", SCORE) != SCORE:
            raise RagError(
                f"the reader in {model_dir} was calibrated for another score ({self.config['score']}); recalibrate it: "
                f"python -m rag.training.train --eval-only --init-from {model_dir} --output-dir {model_dir}"
            )

    def candidates(self, question: str, passages: Sequence[Passage], k: int = 5) -> list[Answer]:
        """Up to ``k`` distinct document spans, best first (``decoding``); overlapping passages never
        repeat a span."""
        windows = encode(self.tokenizer, question, [p.text for p in passages], self.max_length, self.stride)
        spans = predict(self.model, windows, self.max_answer_tokens, max(k, TOP_PER_WINDOW), self.bf16)
        out = []
        for c in self.decoding.rank(question, passages, spans)[:k]:
            p = passages[c.context]
            out.append(
                Answer(p.text[c.start : c.end], p.source, p.start + c.start, p.start + c.end, round(c.score, 4), p)
            )
        return out

    @property
    def threshold(self) -> float:
        """The model's calibrated threshold (its rag_reader.json, else 0.5); read-only."""
        return self._threshold

    def read(self, question: str, passages: Sequence[Passage]) -> Answer | None:
        best = self.candidates(question, passages, k=1)
        return best[0] if best else None


def torch_precision(settings: dict) -> str:
    from rag.reader.model import precision

    return precision(settings)
