"""What the reader's training optimises beyond binary cross-entropy, and how it is batched and
checked for it: a ranking loss over each question's pairs (`--listwise`), a span-finding second
task (`--span`), and the share of validation questions whose answer ranks first."""

from __future__ import annotations

import math
import random
from typing import Any

import torch

from training.reader_data import Pair


def question_batches(pairs: list[Pair], batch: int, rng: random.Random) -> list[list[int]]:
    """Batches of whole questions (all the pairs of each, so that they can be ranked against
    one another), about `batch` pairs each, shuffled, similar lengths together."""
    groups: dict[str, list[int]] = {}
    for index, pair in enumerate(pairs):
        groups.setdefault(pair.qid, []).append(index)
    order = list(groups.values())
    rng.shuffle(order)
    batches: list[list[int]] = []
    per_block = max(1, batch // 4) * 50  # questions give about four pairs each
    for begin in range(0, len(order), per_block):
        block = sorted(
            order[begin : begin + per_block],
            key=lambda group: max(len(pairs[i].document) for i in group),
        )
        current: list[int] = []
        for group in block:
            if current and len(current) + len(group) > batch:
                batches.append(current)
                current = []
            current.extend(group)
        if current:
            batches.append(current)
    rng.shuffle(batches)
    return batches


def first_rate(pairs: list[Pair], scores: list[float]) -> float:
    """The share of questions, among those with answer and non-answer pairs here, whose best
    answer pair scores above every non-answer pair."""
    best: dict[str, list[float]] = {}
    for pair, score in zip(pairs, scores, strict=True):
        mine = best.setdefault(pair.qid, [-math.inf, -math.inf])
        slot = 0 if pair.label > 0.5 else 1
        mine[slot] = max(mine[slot], score)
    ranked = [right > wrong for right, wrong in best.values() if math.isfinite(min(right, wrong))]
    return sum(ranked) / len(ranked) if ranked else 0.0


def listwise_loss(logits: torch.Tensor, labels: torch.Tensor, owners: list[str]) -> torch.Tensor:
    """A ranking loss over each question's pairs, beside binary cross-entropy, which scores each
    sentence alone. Each question's pairs form a list with one more entry, "none of these", at
    logit 0. An answerable question's answer should win its list, above the sentences that only
    restate the question; and the same question with its answer cut out (its other pairs), or
    one that nothing answers, should leave "none" the winner: the best wrong sentence, not each
    one, is what decides abstention. The mean of both negative log-likelihoods over questions."""
    losses = []
    zero = logits.new_zeros(1)
    for owner in dict.fromkeys(owners):
        rows = torch.tensor([i for i, o in enumerate(owners) if o == owner])
        mine, positive = logits[rows], labels[rows] > 0.5
        if positive.any():
            losses.append(
                torch.logsumexp(torch.cat([zero, mine]), 0) - torch.logsumexp(mine[positive], 0)
            )
        if not positive.all():
            losses.append(torch.logsumexp(torch.cat([zero, mine[~positive]]), 0))
    return torch.stack(losses).mean() if losses else logits.sum() * 0.0


def span_targets(
    tokenizer: Any, pairs: list[Pair], max_tokens: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each pair, the tokens where its answer starts and ends (as `encode_pairs` lays them
    out), or -100 where it has no known span or the cut lost it."""
    encoded = tokenizer(
        [p.question for p in pairs],
        [p.document for p in pairs],
        truncation="longest_first",
        max_length=max_tokens,
        padding=True,
        return_offsets_mapping=True,
    )
    starts, ends = [], []
    for row, pair in enumerate(pairs):
        start = end = -100
        if pair.span is not None:
            first, last = pair.span
            offsets = encoded["offset_mapping"][row]
            in_document = [t for t, owner in enumerate(encoded.sequence_ids(row)) if owner == 1]
            covering = [t for t in in_document if offsets[t][1] > first and offsets[t][0] < last]
            if covering and offsets[covering[-1]][1] >= last:
                start, end = covering[0], covering[-1]
        starts.append(start)
        ends.append(end)
    return torch.tensor(starts), torch.tensor(ends)


def span_loss(
    token_logits: torch.Tensor, mask: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy of the answer's first and last token over each pair's tokens, for the
    pairs with a span (0 when none has one): the reader must find what answers, not only
    judge that something does."""
    known = starts >= 0
    if not known.any():
        return token_logits.sum() * 0.0
    logits = token_logits[known].masked_fill(~mask[known].bool().unsqueeze(-1), -1e4)
    return (
        torch.nn.functional.cross_entropy(logits[..., 0], starts[known])
        + torch.nn.functional.cross_entropy(logits[..., 1], ends[known])
    ) / 2
