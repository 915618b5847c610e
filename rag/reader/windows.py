"""Question + passage windows for the neural reader, with every token mapped back to characters.

A passage longer than one window becomes several overlapping windows (``stride`` tokens of
overlap), so no answer is lost at a cut. Each window keeps, per token, the character range in
its passage (or ``None`` for question, special and padding tokens), which is what lets an answer
slice exactly: ``passage.text[a:b]`` with ``a, b`` taken from those offsets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tokenizers import Tokenizer

MAX_QUESTION_TOKENS = 64


@dataclass(frozen=True)
class Window:
    """One model input: ``context`` is the index of the passage it came from.

    ``word_start``/``word_end`` say which passage tokens begin/end a word, so an answer never
    starts or ends inside one (no "Weave" out of "CoreWeave").
    """

    input_ids: list[int]
    token_type_ids: list[int]
    offsets: list[tuple[int, int] | None]
    context: int
    word_start: tuple[bool, ...] = ()
    word_end: tuple[bool, ...] = ()

    def __len__(self) -> int:
        return len(self.input_ids)

    def token_span(self, start_char: int, end_char: int) -> tuple[int, int] | None:
        """Token positions covering characters ``[start_char, end_char)``; None if not fully inside."""
        idx = [i for i, o in enumerate(self.offsets) if o is not None]
        if not idx or self.offsets[idx[0]][0] > start_char or self.offsets[idx[-1]][1] < end_char:
            return None
        start = max(i for i in idx if self.offsets[i][0] <= start_char)
        end = min(i for i in idx if self.offsets[i][1] >= end_char)
        return (start, end) if end >= start else None


def backend(tokenizer) -> Tokenizer:
    """The ``tokenizers.Tokenizer`` behind a transformers fast tokenizer (or the tokenizer itself)."""
    return getattr(tokenizer, "backend_tokenizer", tokenizer)


def clip_question(tokenizer, question: str, max_tokens: int = MAX_QUESTION_TOKENS) -> str:
    """The question cut to ``max_tokens`` word pieces, so the passage always has room."""
    tok = backend(tokenizer)
    tok.no_truncation()
    tok.no_padding()
    offsets = tok.encode(question, add_special_tokens=False).offsets
    return question if len(offsets) <= max_tokens else question[: offsets[max_tokens - 1][1]]


def encode(tokenizer, question: str, contexts: Sequence[str], max_length: int, stride: int) -> list[Window]:
    """All windows of all ``contexts`` for one question, in passage order."""
    return encode_pairs(tokenizer, [question] * len(contexts), contexts, max_length, stride)


def encode_pairs(
    tokenizer, questions: Sequence[str], contexts: Sequence[str], max_length: int, stride: int
) -> list[Window]:
    """Windows of each (question, context) pair; ``Window.context`` is the pair's index.

    Calls the Rust tokenizer the way transformers does for ``truncation="only_second"`` with
    overflowing tokens (each encoding, then its overflow), without importing transformers."""
    if not contexts:
        return []
    # Windows must advance by at least max(8, stride / 2) passage tokens: cut the question to fit.
    room = min(MAX_QUESTION_TOKENS, max_length - 3 - stride - max(8, stride // 2))
    if room < 1:
        raise ValueError(f"max_length {max_length} leaves no room for a question with stride {stride}")
    clipped = {q: clip_question(tokenizer, q, room) for q in set(questions)}
    tok = backend(tokenizer)
    tok.no_padding()
    tok.enable_truncation(max_length, stride=stride, strategy="only_second")
    encodings = tok.encode_batch([(clipped[q], c) for q, c in zip(questions, contexts)])
    windows = []
    for sample, first in enumerate(encodings):
        for enc in (first, *first.overflowing):
            seq = enc.sequence_ids
            offsets = [tuple(o) if s == 1 else None for o, s in zip(enc.offsets, seq)]
            if not any(o is not None for o in offsets):
                continue
            word = [w if s == 1 else None for w, s in zip(enc.word_ids, seq)]
            before, after = [None] + word[:-1], word[1:] + [None]
            starts = tuple(w is not None and w != b for w, b in zip(word, before))
            ends = tuple(w is not None and w != a for w, a in zip(word, after))
            windows.append(Window(enc.ids, enc.type_ids, offsets, sample, starts, ends))
    return windows


def collate(windows: Sequence[Window], pad_id: int = 0) -> dict[str, np.ndarray]:
    """Pad to the longest window of the batch (dynamic padding) and build the context mask.

    ``context_mask`` is True for passage tokens and for [CLS] (position 0, the no-answer slot).
    NumPy arrays, so ONNX Runtime needs no torch; ``torch.from_numpy`` shares them for torch models.
    """
    n, length = len(windows), max(len(w) for w in windows)
    ids = np.full((n, length), pad_id, dtype=np.int64)
    types = np.zeros((n, length), dtype=np.int64)
    attn = np.zeros((n, length), dtype=np.int64)
    ctx = np.zeros((n, length), dtype=bool)
    for i, w in enumerate(windows):
        k = len(w)
        ids[i, :k] = w.input_ids
        types[i, :k] = w.token_type_ids
        attn[i, :k] = 1
        ctx[i, :k] = [o is not None for o in w.offsets]
        ctx[i, 0] = True
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": attn, "context_mask": ctx}
