"""Readers as standard Hugging Face extractive-QA folders (``AutoModelForQuestionAnswering``).

The shipped reader is saved as such a folder (``config.json``, ``model.safetensors``, tokenizer
files), so ``AutoModelForQuestionAnswering`` and ``AutoTokenizer`` load it with no code of ours (the
pinned transformers 5 has no ``question-answering`` pipeline any more), and any local checkpoint of
that kind (BERT, RoBERTa, DeBERTa, ...) can be read with ``--reader-model DIR``.
``rag_reader.json`` beside it holds what our reader adds (``rag.reader.folder``).

``QAModel`` wraps the Hugging Face model so the reader sees what ``SpanModel`` gives it: start
and end log-probabilities over [CLS] (the no-answer slot) and the passage tokens. The span margin
``start[i] + end[j] - start[0] - end[0]`` is the same in raw logits and in these, so scores and
thresholds carry over unchanged.

This is the one way a reader folder is written (``save_folder``, by training) and read in torch
(``load_folder``); it builds on ``rag.reader.model`` (the span head's masking, the base model), which
never imports it back.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from rag.config import set_offline_env
from rag.errors import UsageError
from rag.reader.folder import SETTINGS, check_folder, read_settings
from rag.reader.model import base_model_path, masked_log_probs, precision, quantize


class QAModel(nn.Module):
    """A Hugging Face ``...ForQuestionAnswering`` model called like ``SpanModel``."""

    def __init__(self, model: nn.Module, token_types: bool) -> None:
        super().__init__()
        self.model = model
        self.token_types = token_types

    def forward(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        context_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.token_types:
            inputs["token_type_ids"] = token_type_ids
        out = self.model(**inputs)
        return masked_log_probs(out.start_logits, out.end_logits, context_mask)


def load_folder(model_dir: Path) -> tuple[nn.Module, dict, object]:
    """(model in eval mode, reader settings, fast tokenizer) from a QA model folder; the model is
    int8-quantized when the settings ask for it, since the threshold was calibrated on exactly that model."""
    check_folder(model_dir)
    set_offline_env()
    import transformers

    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(model_dir))
        model = transformers.AutoModelForQuestionAnswering.from_pretrained(str(model_dir), dtype=torch.float32)
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(f"cannot load the reader model in {model_dir}: {str(exc).splitlines()[0]}") from None
    finally:
        transformers.logging.set_verbosity(verbosity)
    if not getattr(tokenizer, "is_fast", False):
        raise UsageError(f"{model_dir} has no fast tokenizer (tokenizer.json); character offsets need one")
    settings = read_settings(model_dir)
    token_types = "token_type_ids" in tokenizer.model_input_names
    qa = QAModel(model.eval(), token_types).eval()
    return (quantize(qa) if precision(settings) == "int8" else qa), settings, tokenizer


def to_hf(span_state: dict[str, torch.Tensor]):
    """A ``BertForQuestionAnswering`` holding the weights of a ``SpanModel`` state dict."""
    set_offline_env()
    from transformers import AutoConfig, BertForQuestionAnswering

    config = AutoConfig.from_pretrained(str(base_model_path()))
    config.architectures = ["BertForQuestionAnswering"]
    config.num_labels = 2
    model = BertForQuestionAnswering(config)
    renamed = {}
    for name, tensor in span_state.items():
        if name.startswith("encoder."):
            renamed["bert." + name.removeprefix("encoder.")] = tensor
        elif name.startswith("qa."):
            renamed["qa_outputs." + name.removeprefix("qa.")] = tensor
    missing, unexpected = model.load_state_dict(renamed, strict=False)
    if unexpected or [m for m in missing if "pooler" not in m]:
        raise ValueError(f"weights do not fit BertForQuestionAnswering: {unexpected[:3] or missing[:3]}")
    return model.eval()


def span_state(hf_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of ``to_hf``'s renaming: a QA folder's tensors as ``SpanModel`` keys (``--init-from``)."""
    out = {}
    for name, tensor in hf_state.items():
        if name.startswith("bert."):
            out["encoder." + name.removeprefix("bert.")] = tensor.float()
        elif name.startswith("qa_outputs."):
            out["qa." + name.removeprefix("qa_outputs.")] = tensor.float()
    return out


def save_folder(span_state_dict: dict[str, torch.Tensor], tokenizer, out_dir: Path, settings: dict) -> int:
    """Write the QA folder (float16 ``model.safetensors``, tokenizer, ``rag_reader.json``); returns the
    weights' size in bytes. Written beside ``out_dir`` and renamed in, so a reader never sees half a folder."""
    import shutil
    import tempfile

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    tmp.chmod(0o755)  # mkdtemp's 0700 would keep other users from reading the model
    try:
        model = to_hf(span_state_dict).half()
        model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        (tmp / SETTINGS).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
        for written in tmp.iterdir():
            written.chmod(0o644)
        if out_dir.exists():
            for extra in out_dir.iterdir():  # keep what training wrote beside the model (card, summary)
                if not (tmp / extra.name).exists() and extra.is_file():
                    shutil.copy2(extra, tmp / extra.name)
            old = out_dir.with_name(f".{out_dir.name}-old")
            shutil.rmtree(old, ignore_errors=True)
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return (out_dir / "model.safetensors").stat().st_size
