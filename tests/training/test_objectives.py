"""The reader's training objectives: batches of whole questions, the ranking loss, the span task,
and the validation rate of answers ranked first."""

from __future__ import annotations

import random
from typing import Any

import pytest
import torch

from retrieval.answer.reader import reader_document
from retrieval.encode.load import bundled_model_path
from training.objectives import (
    first_rate,
    listwise_loss,
    question_batches,
    span_loss,
    span_targets,
)
from training.reader_data import Pair
from training.reader_train import encode_pairs


def _pairs(sizes: list[int]) -> list[Pair]:
    """Questions of `sizes` pairs each, the first pair of each the answer, shuffled together."""
    pairs = [
        Pair(f"question {q}", "x" * (q * 7 % 11 + i), float(i == 0), f"q{q}")
        for q, size in enumerate(sizes)
        for i in range(size)
    ]
    random.Random(3).shuffle(pairs)
    return pairs


def test_question_batches_keep_each_question_whole_and_use_every_pair_once() -> None:
    pairs = _pairs([4, 5, 3, 4, 4, 2, 5, 4, 3, 4] * 6)
    batches = question_batches(pairs, 16, random.Random(0))

    assert sorted(i for batch in batches for i in batch) == list(range(len(pairs)))
    batch_of = {i: number for number, batch in enumerate(batches) for i in batch}
    owners: dict[str, set[int]] = {}
    for index, pair in enumerate(pairs):
        owners.setdefault(pair.qid, set()).add(batch_of[index])
    assert all(len(found) == 1 for found in owners.values())
    assert max(len(batch) for batch in batches) <= 16
    assert len(batches) <= len(pairs) // 16 * 2  # filled, not one question a batch


def test_question_batches_follow_the_seed() -> None:
    pairs = _pairs([4, 3, 5] * 20)
    first = question_batches(pairs, 8, random.Random(1))
    assert first == question_batches(pairs, 8, random.Random(1))
    assert first != question_batches(pairs, 8, random.Random(2))


def test_the_ranking_loss_is_low_when_the_answer_wins_and_nothing_else_beats_none() -> None:
    labels = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    owners = ["a", "a", "a", "b", "b", "b"]
    right = listwise_loss(torch.tensor([4.0, -4.0, -4.0, -4.0, 4.0, -4.0]), labels, owners)
    wrong = listwise_loss(torch.tensor([-4.0, 4.0, -4.0, -4.0, -4.0, 4.0]), labels, owners)
    assert float(right) < 0.05
    assert float(wrong) > 3.5
    # The answer first is not enough when a wrong sentence still reads as an answer (logit
    # above 0): with the answer cut out, that sentence would be quoted.
    leaning = listwise_loss(torch.tensor([6.0, 3.0, -4.0, -4.0, 6.0, 3.0]), labels, owners)
    assert float(leaning) > 1.0


def test_the_ranking_loss_pushes_the_answer_above_a_sentence_that_restates_the_question() -> None:
    logits = torch.tensor([0.5, 1.0, -1.0], requires_grad=True)  # answer, restatement, other
    listwise_loss(logits, torch.tensor([1.0, 0.0, 0.0]), ["a", "a", "a"]).backward()
    assert logits.grad is not None
    gradient = logits.grad.tolist()
    assert gradient[0] < 0 < gradient[1]  # descent raises the answer, lowers the restatement
    assert gradient[1] > gradient[2] > 0  # the higher wrong sentence is pushed down the most


def test_a_question_nothing_answers_is_pushed_towards_none() -> None:
    owners = ["hole", "hole", "hole"]
    labels = torch.zeros(3)
    confident = listwise_loss(torch.tensor([3.0, -2.0, -3.0]), labels, owners)
    declined = listwise_loss(torch.tensor([-3.0, -2.0, -3.0]), labels, owners)
    assert float(confident) > 3.0 > 0.3 > float(declined)
    logits = torch.tensor([3.0, -2.0, -3.0], requires_grad=True)
    listwise_loss(logits, labels, owners).backward()
    assert logits.grad is not None
    assert logits.grad[0] > 10 * logits.grad[1] > 0  # the best wrong sentence above all


def test_questions_in_a_batch_weigh_alike() -> None:
    labels = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    alone = listwise_loss(torch.tensor([2.0, -1.0]), labels[:2], ["a", "a"])
    together = listwise_loss(
        torch.tensor([2.0, -1.0, 2.0, -1.0, -1.0, -1.0]), labels, ["a", "a", "b", "b", "b", "b"]
    )
    unanswerable = listwise_loss(torch.tensor([2.0, -1.0, -1.0, -1.0]), labels[2:], ["b"] * 4)
    # Question a gives two terms (its answer; itself with the answer cut out), b one.
    a_terms = float(alone) * 2
    assert abs(float(together) - (a_terms + float(unanswerable)) / 3) < 1e-5


def test_first_rate_counts_questions_whose_answer_scores_above_every_other_pair() -> None:
    pairs = [
        Pair("q", "d", 1.0, "a"),
        Pair("q", "d", 0.0, "a"),
        Pair("q", "d", 1.0, "b"),
        Pair("q", "d", 0.0, "b"),
        Pair("q", "d", 0.0, "b"),
        Pair("q", "d", 0.0, "unanswerable"),
    ]
    assert first_rate(pairs, [2.0, 1.0, 0.0, 1.0, -1.0, 9.0]) == 0.5
    assert first_rate(pairs, [2.0, 1.0, 3.0, 1.0, -1.0, 9.0]) == 1.0


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(bundled_model_path()), local_files_only=True)


def test_span_targets_point_at_the_answer_s_tokens_as_the_batch_lays_them_out(
    tokenizer: Any,
) -> None:
    sentence = "The bridge will close for three days in March while workers replace its cables."
    document = reader_document("Harbour bridge", "The bridge carries 160,000 cars.", sentence)
    start = sentence.index("three days")
    pairs = [
        Pair("How long will the bridge close?", document, 1.0, "a", (start, start + 10)),
        Pair("How long will the bridge close?", "Drivers use the tunnel.", 0.0, "a"),
        Pair("When is it?", "x " * 80 + document, 1.0, "b", (start + 160, start + 170)),
    ]
    starts, ends = span_targets(tokenizer, pairs, 64)
    ids = encode_pairs(tokenizer, [(p.question, p.document) for p in pairs], 64)["input_ids"]
    assert tokenizer.decode(ids[0][int(starts[0]) : int(ends[0]) + 1]) == "three days"
    assert (int(starts[1]), int(ends[1])) == (-100, -100)  # no answer in it
    assert (int(starts[2]), int(ends[2])) == (-100, -100)  # the cut at 64 tokens lost it


def test_span_loss_is_low_where_the_head_finds_the_answer_and_ignores_pairs_without() -> None:
    mask = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]])
    starts, ends = torch.tensor([1, -100]), torch.tensor([2, -100])
    found = torch.full((2, 5, 2), -5.0)
    found[0, 1, 0] = found[0, 2, 1] = 5.0
    missed = torch.full((2, 5, 2), -5.0)
    missed[0, 3, 0] = missed[0, 3, 1] = 5.0
    assert float(span_loss(found, mask, starts, ends)) < 0.01
    assert float(span_loss(missed, mask, starts, ends)) > 9.0
    # The padding never counts, however high its logit; nor does the pair without a span.
    padded = found.clone()
    padded[0, 4] = 50.0
    padded[1] = 50.0
    assert float(span_loss(padded, mask, starts, ends)) == float(
        span_loss(found, mask, starts, ends)
    )
    nothing = span_loss(found, mask, torch.tensor([-100, -100]), torch.tensor([-100, -100]))
    assert float(nothing) == 0.0
