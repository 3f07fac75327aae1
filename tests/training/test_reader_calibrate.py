"""Fitting the combiner: shortlists cut to fewer reads, decisions, and the fit itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.answer.combine import FEATURES, Combiner
from training.calibration_rows import Rows, collection, outside_questions
from training.reader_calibrate import (
    Stopping,
    choose_sure,
    choose_threshold,
    choose_unread,
    decide,
    fit,
    out_of_fold,
    scored_by,
    without_reader,
)
from training.reader_data import Question

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
        fold=np.arange(len(holes)) % 3,
        absent=np.zeros(len(holes), dtype=bool),
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


def test_rows_saved_by_an_older_calibration_are_refused_plainly(tmp_path: Path) -> None:
    rows = _rows([[1.0, 3.0]], [[False, True]], [False])
    older = {name: getattr(rows, name) for name in ("features", "right", "question", "rank")}
    np.savez_compressed(tmp_path / "rows.npz", hole=rows.hole, fitting=[True], **older)
    with pytest.raises(ValueError, match=r"lacks fold, absent.*without --reuse"):
        Rows.load(tmp_path / "rows.npz")


def _paragraph(title: str, number: int) -> list[Question]:
    sentences = tuple(f"{title} fact {number}.{i} is told here." for i in range(3))
    return [
        Question(
            qid=f"{title}-{number}-{i}",
            question=f"What is fact {number}.{i} of {title}?",
            title=title,
            sentences=sentences,
            answers=frozenset({i}),
            plausible=frozenset(),
            group=f"wiki.json:{title}:{number}",
            others=(),
        )
        for i in range(3)
    ]


def test_the_collection_cuts_holes_and_asks_about_articles_it_lacks() -> None:
    paragraphs = {t: _paragraph(t, 0) + _paragraph(t, 1) for t in ("Alpha", "Beta", "Gamma")}
    held_out = paragraphs["Alpha"] + paragraphs["Beta"]
    outside = paragraphs["Gamma"][:2]
    articles, questions = collection(held_out, outside, hole_share=0.3, seed=3)
    text = {str(a["id"]): str(a["text"]) for a in articles}
    assert set(text) == {"wiki.json:Alpha", "wiki.json:Beta"}
    for q in questions:
        title, number, index = str(q["id"]).split("-")
        article, sentence = f"wiki.json:{title}", f"{title} fact {number}.{index} is told here."
        if q.get("absent"):
            assert title == "Gamma" and q["answers"] == []
        elif "article_id" in q:
            assert q["article_id"] == article and q["sentences"] == [sentence]
            assert sentence in text[article]
        else:  # a hole: its article is there, its answer sentence is not
            assert sentence not in text[article]
    kinds = [("absent" if q.get("absent") else "article_id" in q) for q in questions]
    assert kinds.count("absent") == 2 and kinds.count(True) > 0 and kinds.count(False) > 0


def test_questions_from_outside_come_from_other_articles_and_were_never_trained_on() -> None:
    paragraphs = {t: _paragraph(t, 0) + _paragraph(t, 1) for t in ("Alpha", "Beta", "Gamma")}
    everything = [q for qs in paragraphs.values() for q in qs]
    trained = {"Beta-0-0", "Beta-1-2"}
    chosen = outside_questions(everything, paragraphs["Alpha"], trained, count=99, seed=1)
    assert sorted(q.qid for q in chosen) == sorted(
        q.qid for q in paragraphs["Beta"] + paragraphs["Gamma"] if q.qid not in trained
    )
    assert len(outside_questions(everything, paragraphs["Alpha"], trained, count=3, seed=1)) == 3


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


def test_the_threshold_is_the_highest_within_the_false_abstention_bound() -> None:
    # Ten answerable questions whose chosen sentences score 0.05, 0.15, ... 0.95, and a hole.
    logits = [[0.05 + 0.1 * n] for n in range(10)] + [[0.5]]
    rows = _rows(logits, [[True]] * 10 + [[False]], [False] * 10 + [True])
    decisions = decide(rows, rows.features[:, LOGIT], np.arange(11))
    assert choose_threshold(decisions, 0.0) == 0.05
    assert choose_threshold(decisions, 0.1) == 0.15  # one of ten declined: 0.05 < 0.15
    assert choose_threshold(decisions, 0.35) == 0.35


def test_without_the_reader_only_the_reader_s_features_are_left_out() -> None:
    rows = _rows([[1.0, 3.0], [2.0, 0.0]], [[False, True], [True, False]], [False, False])
    rows.features[:, FEATURES.index("cosine")] = [0.2, 0.4, 0.6, 0.8]
    blind = without_reader(rows)
    assert not blind.features[:, [LOGIT, MARGIN]].any()
    assert blind.features[:, FEATURES.index("cosine")].tolist() == [0.2, 0.4, 0.6, 0.8]
    assert rows.features[:, LOGIT].tolist() == [1.0, 3.0, 2.0, 0.0]  # the rows are kept
    assert all(n.startswith("reader_") for n in np.asarray(FEATURES)[[LOGIT, MARGIN]])
    assert sum(n.startswith("reader_") for n in FEATURES) == 2


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


def test_cross_fitting_scores_each_fold_by_a_combiner_that_never_saw_it() -> None:
    rng = np.random.default_rng(1)
    logits = [[float(v) for v in rng.normal(size=3)] for _ in range(150)]
    # Folds 1 and 2: the reader's favourite is right. Fold 0: a random sentence is, and only
    # there a feature ("offers") marks it: only a combiner that saw fold 0 can know.
    picked = [int(np.argmax(q)) if n % 3 else int(rng.integers(3)) for n, q in enumerate(logits)]
    rows = _rows(logits, [[i == p for i in range(3)] for p in picked], [False] * 150)
    offers = FEATURES.index("offers")
    rows.features[:, offers] = (rows.fold[rows.question] == 0) & rows.right
    scores = out_of_fold(rows)(rows)
    weights, bias = fit(rows, rows.fold != 0)
    first_fold = rows.fold[rows.question] == 0
    others = Combiner(FEATURES, weights, bias, 0.5).probabilities(rows.features)
    assert scores[first_fold] == pytest.approx(others[first_fold])
    fold_0, rest = np.arange(0, 150, 3), np.setdiff1d(np.arange(150), np.arange(0, 150, 3))
    assert decide(rows, scores, fold_0).right.mean() < 0.6
    assert decide(rows, scores, rest).right.mean() > 0.95
    # Fitted on everything, the marked sentences win: what cross-fitting keeps out.
    everything = Combiner(FEATURES, *fit(rows), 0.5).probabilities(rows.features)
    assert decide(rows, everything, fold_0).right.mean() > 0.95


def test_stopping_early_keeps_a_sure_first_sentence_and_reads_on_otherwise() -> None:
    # Question 0: its first sentence is sure (0.88) but wrong, the second right and surer.
    # Question 1: its first sentence is unsure (0.3); reading on finds the right one.
    odds = [[np.log(0.88 / 0.12), np.log(19.0)], [np.log(3 / 7), np.log(4.0)]]
    rows = _rows(odds, [[False, True], [False, True]], [False, False])
    combiner = Combiner(FEATURES, tuple(float(n == LOGIT) for n in range(len(FEATURES))), 0, 0.5)
    questions = np.arange(2)
    stopping = Stopping.of(rows, scored_by(combiner), questions)
    decisions, unread, stopped = stopping.at(0.8)
    assert (unread, stopped) == (0.0, 0.5)
    assert decisions.right.tolist() == [False, True]
    assert decisions.likelihood == pytest.approx([0.88, 0.8])
    # Down to 0.9 nothing stops, so nothing is lost; at 0.85 the first question would stop.
    assert choose_sure(stopping, 0.5, tolerance=0.0) == 0.9
    # Allowing the lost question, any sure down to 0.35 passes; at 0.3 the second stops too.
    assert choose_sure(stopping, 0.5, tolerance=0.5) == 0.35


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def test_a_first_sentence_the_signals_are_sure_of_is_cited_unread() -> None:
    # The signals' combiner weighs the cosine alone, the combiner the reader alone. Questions
    # 0-2 are answerable, the reader finding each one's right sentence; 3 is a hole.
    rows = _rows(
        [[3.0, -3.0], [-2.0, 3.0], [-1.0, 2.0], [-4.0, -4.0]],
        [[True, False], [False, True], [False, True], [False, False]],
        [False, False, False, True],
    )
    first_cosines = [_logit(0.97), _logit(0.87), 0.0, _logit(0.75)]
    rows.features[:, FEATURES.index("cosine")] = np.repeat(first_cosines, 2)
    combiner = Combiner(FEATURES, tuple(float(n == LOGIT) for n in range(len(FEATURES))), 0, 0.5)
    cosine = tuple(float(name == "cosine") for name in FEATURES)
    signals = Combiner(FEATURES, cosine, 0.0, 0.5)
    stopping = Stopping.of(rows, scored_by(combiner), np.arange(4), scored_by(signals))
    decisions, unread, stopped = stopping.at(None, 0.8)
    assert (unread, stopped) == (0.5, 0.0)
    assert decisions.right.tolist() == [True, False, True, False]
    assert decisions.likelihood[:2] == pytest.approx([0.97, 0.87])
    # Down to 0.90 only question 0 is cited unread, and rightly; at 0.85 question 1 is too.
    assert choose_unread(stopping, 0.5, None, tolerance=0.0) == 0.9
    # Allowing that loss, 0.75 would answer the hole that reading declines: 0.80 is the lowest.
    assert choose_unread(stopping, 0.5, None, tolerance=0.5) == 0.8
