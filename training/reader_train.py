"""Train the reader: a cross-encoder scoring whether a sentence answers a question.

    python -m training.reader_train --data ../shared/train --out build/reader

It starts from the bundled all-MiniLM-L6-v2 weights (a classification head is added), or with
`--init` from a reader trained before (`make reader`'s second stage), trains on the pairs of
`training.reader_data` with binary cross-entropy, and writes:

- `OUT/checkpoint.pt` every `--save-every` steps: a stopped run started again with the same
  command resumes from there (same pairs, same order: everything follows from `--seed`);
- `OUT/best/`: the CrossEncoder (Hugging Face format) with the lowest validation loss, checked
  every `--eval-every` steps and at the end; the validation pairs come from held-out paragraphs
  of the training data, never from the evaluation sets;
- `OUT/log.jsonl`: one line per validation, and `OUT/validation.jsonl`: the held-out questions.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from retrieval.answer.reader import MAX_TOKENS
from training.objectives import (
    first_rate,
    listwise_loss,
    question_batches,
    span_loss,
    span_targets,
)
from training.reader_data import Pair, build

# Questions drawn from each file: sized so that one epoch trains in under an hour on two cores
# of these machines. Encyclopedic text, nearest to news, has the largest share.
CAPS = {
    "squad2_train_first10.json": 2200,
    "squadshifts_new_wiki.json": 1700,
    "squadshifts_reddit.json": 400,
    "squadshifts_amazon_reviews.json": 400,
    "selqa_ass_dev.json": 200,
    "selqa_ass_test.json": 400,
}
VALIDATION_PAIRS = 1200
SEED = 13
VALIDATION_SHARE = 0.05


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/train"))
    parser.add_argument("--out", type=Path, default=Path("build/reader"))
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    parser.add_argument(
        "--layers", type=int, default=0, help="keep only the first N transformer layers (0: all)"
    )
    parser.add_argument(
        "--caps-scale", type=float, default=1.0, help="draw this many times CAPS per file"
    )
    parser.add_argument(
        "--init",
        type=Path,
        help="start from this trained reader (a CrossEncoder folder) instead of the bundled "
        "all-MiniLM-L6-v2 weights",
    )
    parser.add_argument(
        "--listwise",
        type=float,
        default=0.0,
        help="weight of a ranking loss over each question's pairs, added to binary "
        "cross-entropy (0: none); batches then hold whole questions",
    )
    parser.add_argument(
        "--span",
        type=float,
        default=0.0,
        help="weight of a second task, finding the answer's first and last token in an answer "
        "sentence (SQuAD pairs), added to the loss (0: none); its head is not kept",
    )
    parser.add_argument("--validation-share", type=float, default=VALIDATION_SHARE)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--save-every", type=int, default=25)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--limit-steps", type=int, default=0, help="stop after N steps (timing)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    from sentence_transformers import CrossEncoder

    from retrieval.encode.load import bundled_model_path

    args.out.mkdir(parents=True, exist_ok=True)
    train, validation, held_out = build(
        args.data,
        seed=args.seed,
        validation_share=args.validation_share,
        caps={name: round(cap * args.caps_scale) for name, cap in CAPS.items()},
    )
    with open(args.out / "validation.jsonl", "w", encoding="utf-8") as handle:
        for question in held_out:
            record = dataclasses.asdict(question)
            record["answers"] = sorted(question.answers)
            record["plausible"] = sorted(question.plausible)
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    validation = random.Random(args.seed).sample(validation, min(VALIDATION_PAIRS, len(validation)))
    positives = sum(p.label for p in train)
    print(
        f"{len(train)} training pairs ({positives:.0f} positive), {len(validation)} validation "
        f"pairs from {len(held_out)} held-out questions",
        flush=True,
    )

    start = args.init or bundled_model_path()
    model = CrossEncoder(
        str(start), num_labels=1, max_length=args.max_tokens, local_files_only=True
    )
    network: Any = model.model
    if args.layers:
        # A shallower reader reads a candidate in proportionally less time; it keeps the
        # pretrained model's first layers, which hold its general reading of words in context.
        network.bert.encoder.layer = network.bert.encoder.layer[: args.layers]
        network.config.num_hidden_layers = args.layers
    # The word embeddings stay as trained: updating 11.7M rows a step costs time and, on this
    # little data, would only move the vocabulary's rare words.
    network.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    tokenizer: Any = model.tokenizer

    @functools.cache
    def batches_of(epoch: int) -> list[list[int]]:
        """Shuffled, then similar lengths batched together so that little is padding."""
        rng = random.Random(args.seed * 1000 + epoch)
        if args.listwise:
            return question_batches(train, args.batch, rng)
        order = list(range(len(train)))
        rng.shuffle(order)
        batches: list[list[int]] = []
        for begin in range(0, len(order), args.batch * 50):
            block = sorted(
                order[begin : begin + args.batch * 50], key=lambda i: len(train[i].document)
            )
            batches.extend(block[b : b + args.batch] for b in range(0, len(block), args.batch))
        rng.shuffle(batches)
        return batches

    steps_per_epoch = len(batches_of(0))
    total = math.ceil(steps_per_epoch * args.epochs)
    trained = [p for p in network.parameters() if p.requires_grad]
    # The span task's head reads each token's last hidden state; only the encoder it trains
    # is kept, so serving is unchanged. Made only when asked for: its initialisation draws from
    # torch's generator, which would change every later dropout mask of a run without it.
    span_head = torch.nn.Linear(network.config.hidden_size, 2) if args.span else None
    if span_head is not None:
        trained += list(span_head.parameters())
    optimizer = torch.optim.AdamW(trained, lr=args.lr, weight_decay=0.01)
    warmup = max(1, total // 20)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (total - s) / max(1, total - warmup)),
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()

    checkpoint = args.out / "checkpoint.pt"
    step, best = 0, math.inf
    if checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False)
        network.load_state_dict(state["model"])
        if span_head is not None and state.get("span_head") is not None:
            span_head.load_state_dict(state["span_head"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, best = int(state["step"]), float(state["best"])
        torch.set_rng_state(state["torch_rng"])
        print(f"resuming at step {step} of {total}", flush=True)

    def batch_of(pairs: list[Pair]) -> dict[str, torch.Tensor]:
        return encode_pairs(tokenizer, [(p.question, p.document) for p in pairs], args.max_tokens)

    def validate() -> tuple[float, float]:
        """Validation loss, and how often a question's answer scores above all its other
        validation pairs."""
        network.eval()
        losses, scored = [], []
        with torch.no_grad():
            for begin in range(0, len(validation), 128):
                chunk = validation[begin : begin + 128]
                logits = network(**batch_of(chunk)).logits.squeeze(-1)
                labels = torch.tensor([p.label for p in chunk])
                losses.append(float(loss_fn(logits, labels)) * len(chunk))
                scored.extend(logits.tolist())
        network.train()
        return sum(losses) / len(validation), first_rate(validation, scored)

    network.train()
    bar = tqdm(total=total, initial=step, desc="reader", file=sys.stderr, mininterval=10)
    started = time.monotonic()
    while step < total:
        epoch, within = divmod(step, steps_per_epoch)
        chunk = [train[i] for i in batches_of(epoch)[within]]
        batch = batch_of(chunk)
        output = network(**batch, output_hidden_states=bool(args.span))
        logits = output.logits.squeeze(-1)
        labels = torch.tensor([p.label for p in chunk])
        loss = loss_fn(logits, labels)
        if span_head is not None:
            starts, ends = span_targets(tokenizer, chunk, args.max_tokens)
            loss = loss + args.span * span_loss(
                span_head(output.hidden_states[-1]), batch["attention_mask"], starts, ends
            )
        if args.listwise:
            loss = loss + args.listwise * listwise_loss(logits, labels, [p.qid for p in chunk])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        if step % args.eval_every == 0 or step == total:
            value, first = validate()
            record = {
                "step": step,
                "validation_loss": value,
                "validation_first": first,
                "seconds": time.monotonic() - started,
            }
            with open(args.out / "log.jsonl", "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            print(
                f"\nstep {step}: validation loss {value:.4f}, answer first {first:.4f}",
                file=sys.stderr,
                flush=True,
            )
            if value < best:
                best = value
                model.save_pretrained(str(args.out / "best"))
        if step % args.save_every == 0 or step == total:
            _save(checkpoint, network, span_head, optimizer, scheduler, step, best)
        if args.limit_steps and step >= args.limit_steps:
            break
    bar.close()
    print(f"done: {step} steps, best validation loss {best:.4f}", flush=True)
    return 0


def encode_pairs(
    tokenizer: Any, pairs: list[tuple[str, str]], max_tokens: int
) -> dict[str, torch.Tensor]:
    """A padded batch of (question, document) pairs, cut as serving cuts them (`Reader`)."""
    encoded: dict[str, torch.Tensor] = tokenizer(
        [q for q, _ in pairs],
        [d for _, d in pairs],
        truncation="longest_first",
        max_length=max_tokens,
        padding=True,
        return_tensors="pt",
    )
    return encoded


def _save(
    path: Path,
    network: Any,
    span_head: torch.nn.Module | None,
    optimizer: Any,
    scheduler: Any,
    step: int,
    best: float,
) -> None:
    state = {
        "model": network.state_dict(),
        "span_head": None if span_head is None else span_head.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "step": step,
        "best": best,
        "torch_rng": torch.get_rng_state(),
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
