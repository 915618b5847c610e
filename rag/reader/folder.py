"""A reader model folder, without loading it: is it a QA model, and what are our settings for it.

Torch-free, so a reader run by ONNX Runtime never imports torch or transformers (``onnx_model``).
``rag_reader.json`` beside a Hugging Face QA folder holds what our reader adds: the calibrated
abstention threshold, the window sizes, the decoding options and the runtime. A folder without it
gets the defaults (threshold 0.5: abstain unless the best span beats the model's no-answer slot).
"""

from __future__ import annotations

import json
from pathlib import Path

from rag.errors import UsageError

SETTINGS = "rag_reader.json"
DEFAULT_SETTINGS = {"threshold": 0.5, "max_length": 256, "stride": 96, "max_answer_tokens": 30, "precision": "fp32"}
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spm.model", "sentencepiece.bpe.model")


def check_folder(model_dir: Path) -> dict:
    """The folder's ``config.json``; UsageError when it is missing, not a QA model, or has no tokenizer."""
    if not model_dir.is_dir():
        raise UsageError(f"reader model folder not found: {model_dir}")
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{model_dir} is not a Hugging Face model folder (config.json: {exc})") from None
    archs = config.get("architectures") or []
    if not any(str(a).endswith("ForQuestionAnswering") for a in archs):
        found = ", ".join(map(str, archs)) or "no architecture"
        raise UsageError(f"{model_dir} is not an extractive question-answering model (config.json names {found})")
    if not any((model_dir / name).is_file() for name in TOKENIZER_FILES):
        raise UsageError(f"{model_dir} has no tokenizer files ({', '.join(TOKENIZER_FILES[:2])}, ...)")
    return config


def read_settings(model_dir: Path) -> dict:
    """Our settings for the folder: ``rag_reader.json`` over the defaults."""
    settings = dict(DEFAULT_SETTINGS)
    if (model_dir / SETTINGS).is_file():
        settings.update(json.loads((model_dir / SETTINGS).read_text(encoding="utf-8")))
    return settings
