"""Fitting the combiner: shortlists cut to fewer reads, decisions, and the fit itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.answer.combine import FEATURES, Combiner
from training.reader_calibrate import Rows, choose_sure, decide, decide_stopping, fit

LOGIT = FEATURES.index("reader_logit")
MARGIN = FEATURES.index("reader_margin")


def _rows(logits: list[list[float]], right: list[list[bool]], holes: list[bool]) -> Rows:
    """Rows of questions whose shortlists hold these reader log-odds, best hand score first."""
    features, owner, rank = [], [], []
    for number, question in enumerate(logits):
        for place, logit in enumerate(question):
            row = np.zeros(len(FEATURES))
            row[LOGIT] = logit
            row[MARGIN] = logit - max(question)
            features.append(row)
            owner.append(number)
            rank.append(place)
    return Rows(
        features=np.asarray(features),
        right=np.asarray([r for question in right for r in question]),
        question=np.asarray(owner),
        rank=np.asarray(rank),
        hole=np.asarray(holes),
        fitting=np.asarray([True] * len(holes)),
    )


def test_fewer_reads_keep_the_first_rows_and_recompute_the_margin() -> None:
    rows = _rows([[1.0, 3.0, 2.0], [0.5, -1.0, 4.0]], [[False, True, False]] * 2, [False, False])
    first = rows.first(2)
    assert first.rank.tolist() == [0, 1, 0, 1]
    assert first.features[:, LOGIT].tolist() == [1.0, 3.0, 0.5, -1.0]
    # The second question's best was its third sentence, no longer read.
    assert first.features[:, MARGIN].tolist() == [-2.0, 0.0, 0.0, -1.5]


def test_rows_survive_their_file(tmp_path: Path) -> None:
    rows = _rows([[1.0, 3.0]], [[False, True]], [False])
    rows.save(tmp_path / "rows.npz")
    loaded = Rows.load(tmp_path / "rows.npz")
    assert np.array_equal(loaded.features, rows.features)
    assert np.array_equal(loaded.right, rows.right)


def test_a_decision_is_the_likeliest_sentence_of_each_shortlist() -> None:
    rows = _rows(
        [[1.0, 3.0], [2.0, 0.0], [0.0, -1.0]],
        [[False, True], [False, True], [False, False]],
        [False, False, True],
    )
    likelihood = rows.features[:, LOGIT]
    decisions = decide(rows, likelihood, np.arange(3))
    assert decisions.likelihood.tolist() == [3.0, 2.0, 0.0]
    assert decisions.right.tolist() == [True, False, False]
    # At 1.0 the third (a hole) is declined; both answerable ones are answered, one rightly.
    false_abstain, hit, recall = decisions.at(1.0)
    assert (false_abstain, hit, recall) == (0.0, 0.5, 1.0)
    assert decisions.at(2.5) == (0.5, 0.5, 1.0)


def test_the_fit_learns_to_trust_a_telling_feature() -> None:
    rng = np.random.default_rng(0)
    logits = [[float(v) for v in rng.normal(size=4)] for _ in range(300)]
    right = [[v == max(q) and max(q) > 0.5 for v in q] for q in logits]
    rows = _rows(logits, right, [not any(r) for r in right])
    weights, bias = fit(rows)
    combiner = Combiner(FEATURES, weights, bias, 0.5)
    assert weights[LOGIT] > 0
    likelihood = combiner.probabilities(rows.features)
    # It ranks the right sentences above the wrong ones almost always.
    assert likelihood[rows.right].mean() > likelihood[~rows.right].mean() + 0.4
    assert decide(rows, likelihood, np.arange(300)).right.sum() == pytest.approx(
        sum(any(r) for r in right), abs=3
    )


def test_stopping_early_keeps_a_sure_first_sentence_and_reads_on_otherwise() -> None:
    # Question 0: its first sentence is sure (0.88) but wrong, the second right and surer.
    # Question 1: its first sentence is unsure (0.3); reading on finds the right one.
    odds = [[np.log(0.88 / 0.12), np.log(19.0)], [np.log(3 / 7), np.log(4.0)]]
    rows = _rows(odds, [[False, True], [False, True]], [False, False])
    combiner = Combiner(FEATURES, tuple(float(n == LOGIT) for n in range(len(FEATURES))), 0, 0.5)
    questions = np.arange(2)
    decisions, stopped = decide_stopping(rows, combiner, 0.8, questions)
    assert stopped == 0.5
    assert decisions.right.tolist() == [False, True]
    assert decisions.likelihood == pytest.approx([0.88, 0.8])
    # Down to 0.9 nothing stops, so nothing is lost; at 0.85 the first question would stop.
    assert choose_sure(rows, combiner, questions, tolerance=0.0) == 0.9
    # Allowing the lost question, any sure down to 0.35 passes; at 0.3 the second stops too.
    assert choose_sure(rows, combiner, questions, tolerance=0.5) == 0.35
