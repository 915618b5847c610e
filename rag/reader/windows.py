"""Question + passage windows for the neural reader, with every token mapped back to characters.

A passage longer than one window becomes several overlapping windows (``stride`` tokens of
overlap), so no answer is lost at a cut. Each window keeps, per token, the character range in
its passage (or ``None`` for question, special and padding tokens), which is what lets an answer
slice exactly: ``passage.text[a:b]`` with ``a, b`` taken from those offsets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

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

    def context_range(self) -> tuple[int, int]:
        """First and last token index holding passage text."""
        idx = [i for i, o in enumerate(self.offsets) if o is not None]
        return idx[0], idx[-1]

    def token_span(self, start_char: int, end_char: int) -> tuple[int, int] | None:
        """Token positions covering characters ``[start_char, end_char)``; None if not fully inside."""
        idx = [i for i, o in enumerate(self.offsets) if o is not None]
        if not idx or self.offsets[idx[0]][0] > start_char or self.offsets[idx[-1]][1] < end_char:
            return None
        start = max(i for i in idx if self.offsets[i][0] <= start_char)
        end = min(i for i in idx if self.offsets[i][1] >= end_char)
        return (start, end) if end >= start else None


def clip_question(tokenizer, question: str, max_tokens: int = MAX_QUESTION_TOKENS) -> str:
    """The question cut to ``max_tokens`` word pieces, so the passage always has room."""
    enc = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    return question if len(offsets) <= max_tokens else question[: offsets[max_tokens - 1][1]]


def encode(tokenizer, question: str, contexts: Sequence[str], max_length: int, stride: int) -> list[Window]:
    """All windows of all ``contexts`` for one question, in passage order."""
    return encode_pairs(tokenizer, [question] * len(contexts), contexts, max_length, stride)


def encode_pairs(
    tokenizer, questions: Sequence[str], contexts: Sequence[str], max_length: int, stride: int
) -> list[Window]:
    """Windows of each (question, context) pair; ``Window.context`` is the pair's index."""
    if not contexts:
        return []
    # Windows must advance by at least max(8, stride / 2) passage tokens: cut the question to fit.
    room = min(MAX_QUESTION_TOKENS, max_length - 3 - stride - max(8, stride // 2))
    if room < 1:
        raise ValueError(f"max_length {max_length} leaves no room for a question with stride {stride}")
    clipped = {q: clip_question(tokenizer, q, room) for q in set(questions)}
    qs = [clipped[q] for q in questions]
    enc = tokenizer(
        qs,
        list(contexts),
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        return_token_type_ids=True,
    )
    windows = []
    for i, ids in enumerate(enc["input_ids"]):
        seq = enc.sequence_ids(i)
        offsets = [tuple(o) if s == 1 else None for o, s in zip(enc["offset_mapping"][i], seq)]
        if any(o is not None for o in offsets):
            word = [w if s == 1 else None for w, s in zip(enc.word_ids(i), seq)]
            before, after = [None] + word[:-1], word[1:] + [None]
            starts = tuple(w is not None and w != b for w, b in zip(word, before))
            ends = tuple(w is not None and w != a for w, a in zip(word, after))
            sample = enc["overflow_to_sample_mapping"][i]
            windows.append(Window(ids, enc["token_type_ids"][i], offsets, sample, starts, ends))
    return windows


def collate(windows: Sequence[Window], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Pad to the longest window of the batch (dynamic padding) and build the context mask.

    ``context_mask`` is True for passage tokens and for [CLS] (position 0, the no-answer slot).
    """
    n, length = len(windows), max(len(w) for w in windows)
    ids = torch.full((n, length), pad_id, dtype=torch.long)
    types = torch.zeros((n, length), dtype=torch.long)
    attn = torch.zeros((n, length), dtype=torch.long)
    ctx = torch.zeros((n, length), dtype=torch.bool)
    for i, w in enumerate(windows):
        k = len(w)
        ids[i, :k] = torch.tensor(w.input_ids)
        types[i, :k] = torch.tensor(w.token_type_ids)
        attn[i, :k] = 1
        ctx[i, :k] = torch.tensor([o is not None for o in w.offsets])
        ctx[i, 0] = True
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": attn, "context_mask": ctx}
