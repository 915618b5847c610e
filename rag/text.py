"""Answer normalisation as the official SQuAD v1.1 script does it, shared by the reader's decoding
(to merge equal answers) and by evaluation (to score them), so both mean the same by "equal"."""

from __future__ import annotations

import re
import string

PUNCTUATION = set(string.punctuation)
ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in PUNCTUATION)
    text = ARTICLES.sub(" ", text)
    return " ".join(text.split())
