"""Fit the reader's combiner and choose its threshold on held-out training data, never on
the evaluation sets.

    python -m training.reader_calibrate --data ../shared/train

The questions are those of `training.calibration_rows`: the paragraphs training held out of the
`CALIBRATION_FILES`, made a collection; holes cut in it; and questions about articles that are
not in it. Each shortlisted sentence of each question is one row of `combine.FEATURES`.

The combiner (a logistic regression) is cross-fitted: the questions are split in `FOLDS` folds
by paragraph, and each fold is scored by a combiner fitted on the others. Those scores give the
curve of false abstentions against abstentions on holes (and on the questions whose article is
not in the collection), the threshold (the highest whose false abstention rate stays at or
under `--false-abstain`), `sure`, and the figures of the model card; the combiner that ships is
fitted on every question. Writes `READER/combiner.json`, and the rows to
`build/reader/calibration.npz` so that `--reuse` fits again without reading.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.answer.choose import AnswerSettings
from retrieval.answer.combine import COMBINER_FILE, FEATURES, READ, Combiner
from retrieval.answer.reader import READER_DIR
from training.calibration_rows import CALIBRATION_FILES, FOLDS, TRAINED_SCALES, Rows, read_rows
from training.reader_train import SEED, VALIDATION_SHARE


def fit(rows: Rows, use: np.ndarray | None = None) -> tuple[tuple[float, ...], float]:
    """Logistic regression on the rows of the questions in `use` (all of them by default);
    weights for the raw features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    mask = np.ones(len(rows.question), dtype=bool) if use is None else use[rows.question]
    x, y = rows.features[mask], rows.right[mask]
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(x), y)
    # Fold the scaling into the weights, so serving needs only a dot product.
    weights = model.coef_[0] / scaler.scale_
    bias = float(model.intercept_[0] - np.sum(model.coef_[0] * scaler.mean_ / scaler.scale_))
    return tuple(float(w) for w in weights), bias


# Scores each row of some rows (a combiner, or one per fold for the questions it never saw).
Scorer = Callable[[Rows], np.ndarray]


def scored_by(combiner: Combiner) -> Scorer:
    return lambda rows: combiner.probabilities(rows.features)


def out_of_fold(rows: Rows) -> Scorer:
    """Cross-fitting: each fold's questions scored by a combiner fitted on the other folds, so
    that every question checks a combiner that never saw it."""
    combiners = []
    for fold in range(FOLDS):
        weights, bias = fit(rows, rows.fold != fold)
        combiners.append(Combiner(FEATURES, weights, bias, threshold=0.0))

    def score(some: Rows) -> np.ndarray:
        out = np.zeros(len(some.question))
        row_fold = some.fold[some.question]
        for fold, combiner in enumerate(combiners):
            mine = row_fold == fold
            out[mine] = combiner.probabilities(some.features[mine])
        return out

    return score


@dataclass(frozen=True, slots=True)
class Decisions:
    """Per checking question: the likelihood of the sentence chosen, and whether it is right."""

    likelihood: np.ndarray
    right: np.ndarray
    hole: np.ndarray
    absent: np.ndarray

    def at(self, threshold: float) -> tuple[float, float, float]:
        """false_abstain_rate and snippet_hit@1 over answerable questions, abstain_recall over
        holes."""
        answered = self.likelihood >= threshold
        answerable = ~(self.hole | self.absent)
        return (
            float(np.mean(~answered[answerable])),
            float(np.mean((answered & self.right)[answerable])),
            float(np.mean(~answered[self.hole])) if self.hole.any() else float("nan"),
        )

    def absent_recall(self, threshold: float) -> float:
        """abstain_recall over the questions whose article is not in the collection."""
        if not self.absent.any():
            return float("nan")
        return float(np.mean(self.likelihood[self.absent] < threshold))


def decide(rows: Rows, likelihood: np.ndarray, questions: np.ndarray) -> Decisions:
    """What citebot would cite for each of `questions`, the highest likelihood of its shortlist."""
    best_value = np.full(len(rows.hole), -np.inf)
    np.maximum.at(best_value, rows.question, likelihood)
    chosen = np.full(len(rows.hole), False)
    for row in np.flatnonzero(likelihood == best_value[rows.question]):
        chosen[rows.question[row]] |= bool(rows.right[row])
    best_value[np.isinf(best_value)] = 0.0
    return Decisions(
        best_value[questions], chosen[questions], rows.hole[questions], rows.absent[questions]
    )


def choose_threshold(decisions: Decisions, false_abstain: float) -> float:
    """The highest threshold (in steps of 0.01) whose false abstention rate stays at or under
    `false_abstain`."""
    chosen = 0.0
    for threshold in np.round(np.arange(0.01, 0.96, 0.01), 2):
        if decisions.at(float(threshold))[0] <= false_abstain:
            chosen = float(threshold)
    return chosen


def without_reader(rows: Rows) -> Rows:
    """The rows with the reader's features zeroed: what a combiner of the search's signals
    alone makes of them, to measure what reading adds."""
    reading = [i for i, name in enumerate(FEATURES) if name in READ]
    features = rows.features.copy()
    features[:, reading] = 0.0
    return dataclasses.replace(rows, features=features)


@dataclass(frozen=True, slots=True)
class Stopping:
    """The decisions for `questions` when the whole shortlist is read, when only its first
    sentence is, and (given the signals' scorer) when nothing is: scored once, then combined
    for any `sure` and `unread` (`read_shortlist`: a first sentence that the combiner of the
    search's signals alone gives `unread` or more is cited unread; otherwise the first sentence
    is read alone and, when the combiner gives it `sure` or more, the rest go unread). `of`
    takes rows that hold the whole shortlists."""

    whole: Decisions
    alone: Decisions
    unread: Decisions | None = None

    @classmethod
    def of(
        cls, rows: Rows, score: Scorer, questions: np.ndarray, signals: Scorer | None = None
    ) -> Stopping:
        alone_rows = rows.first(1)
        unread = None
        if signals is not None:
            blind = without_reader(alone_rows)
            unread = decide(blind, signals(blind), questions)
        return cls(
            decide(rows, score(rows), questions),
            decide(alone_rows, score(alone_rows), questions),
            unread,
        )

    def at(self, sure: float | None, unread: float | None = None) -> tuple[Decisions, float, float]:
        """What citebot would cite with these levels (None: that stop is never taken); and the
        shares of the questions that read nothing and that read only their first sentence."""
        none = np.zeros(len(self.whole.likelihood), dtype=bool)
        skipped = (
            none if unread is None or self.unread is None else self.unread.likelihood >= unread
        )
        stopped = ~skipped & (none if sure is None else self.alone.likelihood >= sure)

        def taken(field: str) -> np.ndarray:
            out: np.ndarray = np.where(
                stopped, getattr(self.alone, field), getattr(self.whole, field)
            )
            if self.unread is not None:
                out = np.where(skipped, getattr(self.unread, field), out)
            return out

        decisions = Decisions(
            taken("likelihood"), taken("right"), self.whole.hole, self.whole.absent
        )
        return decisions, float(skipped.mean()), float(stopped.mean())

    def within(self, decisions: Decisions, threshold: float, tolerance: float) -> bool:
        """Whether `decisions` lose at most `tolerance` of snippet_hit@1 and of abstain_recall,
        and add at most that to the false abstention rate, against reading everything."""
        false_abstain, hit, recall = self.whole.at(threshold)
        far, got, declined = decisions.at(threshold)
        if self.whole.hole.any() and declined < recall - tolerance:
            return False
        return got >= hit - tolerance and far <= false_abstain + tolerance


def choose_sure(stopping: Stopping, threshold: float, tolerance: float) -> float | None:
    """The lowest probability (in steps of 0.05) at which stopping early stays `within`
    `tolerance` of reading everything, at `threshold`; None when even 0.95 costs more."""
    chosen = None
    for sure in np.round(np.arange(0.95, 0.04, -0.05), 2):
        if not stopping.within(stopping.at(float(sure))[0], threshold, tolerance):
            break
        chosen = float(sure)
    return chosen


def choose_unread(
    stopping: Stopping, threshold: float, sure: float | None, tolerance: float
) -> float | None:
    """The lowest probability of the signals' combiner (in steps of 0.05) at which citing the
    first sentence unread, on top of stopping at `sure`, keeps both stops together `within`
    `tolerance` of reading everything; None when even 0.95 costs more."""
    chosen = None
    for unread in np.round(np.arange(0.95, 0.04, -0.05), 2):
        if not stopping.within(stopping.at(sure, float(unread))[0], threshold, tolerance):
            break
        chosen = float(unread)
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/train"))
    parser.add_argument("--reader", type=Path, default=READER_DIR)
    parser.add_argument("--rows", type=Path, default=Path("build/reader/calibration.npz"))
    parser.add_argument("--reuse", action="store_true", help="fit again on the saved rows")
    parser.add_argument(
        "--signals-out",
        type=Path,
        default=Path("build/reader/signals.json"),
        help="where to write the combiner of the search's signals alone (for comparison: "
        "benchmarks.reader_quality --signals)",
    )
    parser.add_argument("--read", type=int, default=AnswerSettings().read)
    parser.add_argument("--false-abstain", type=float, default=0.06)
    parser.add_argument(
        "--stop-tolerance",
        type=float,
        default=0.01,
        help="snippet_hit@1 that stopping after a sure first sentence may cost",
    )
    parser.add_argument("--hole-share", type=float, default=0.15)
    parser.add_argument(
        "--absent",
        type=int,
        default=300,
        help="questions about articles outside the collection, asked of it",
    )
    parser.add_argument(
        "--trained-scales",
        default=",".join(str(s) for s in TRAINED_SCALES),
        help="the --caps-scale of each training stage: their questions are never asked here",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--sources",
        default=",".join(CALIBRATION_FILES),
        help="the training files whose held-out questions calibrate (comma-separated)",
    )
    parser.add_argument("--validation-share", type=float, default=VALIDATION_SHARE)
    args = parser.parse_args(argv)
    if args.reuse:
        rows = Rows.load(args.rows)
    else:
        rows = read_rows(
            args.data,
            args.reader,
            seed=args.seed,
            share=args.validation_share,
            hole_share=args.hole_share,
            absent_count=args.absent,
            sources=tuple(args.sources.split(",")),
            trained_scales=tuple(float(s) for s in args.trained_scales.split(",")),
            read=max(args.read, AnswerSettings().read),
        )
        rows.save(args.rows)
    rows = rows.first(args.read)
    checking = np.arange(len(rows.hole))  # every question, each by a combiner that never saw it
    score = out_of_fold(rows)
    combined = decide(rows, score(rows), checking)
    reader = decide(rows, rows.features[:, FEATURES.index("reader_logit")], checking)
    heuristic = decide(rows, -rows.rank.astype(np.float64), checking)
    answerable = ~(combined.hole | combined.absent)
    print(
        f"{len(rows.hole)} questions ({int(rows.hole.sum())} holes, {int(rows.absent.sum())} "
        f"absent), cross-fitted in {FOLDS} folds; "
        f"reading {args.read}: right sentence first on answerable questions: "
        f"combined {combined.right[answerable].mean():.4f}, reader "
        f"{reader.right[answerable].mean():.4f}, "
        f"hand-weighted {heuristic.right[answerable].mean():.4f}"
    )
    print("threshold  false_abstain  snippet_hit@1  abstain_recall  absent_recall")
    for threshold in np.round(np.arange(0.05, 0.96, 0.05), 2):
        false_abstain, hit, recall = combined.at(float(threshold))
        print(
            f"{threshold:9.2f}  {false_abstain:13.4f}  {hit:13.4f}  {recall:14.4f}  "
            f"{combined.absent_recall(float(threshold)):13.4f}"
        )
    chosen = choose_threshold(combined, args.false_abstain)
    false_abstain, hit, recall = combined.at(chosen)
    print(
        f"chosen: {chosen:.2f} (the highest with false_abstain <= {args.false_abstain}): "
        f"false_abstain {false_abstain:.4f}, snippet_hit@1 {hit:.4f}, abstain_recall {recall:.4f}, "
        f"absent_recall {combined.absent_recall(chosen):.4f}"
    )
    blind = without_reader(rows)
    signals_score = out_of_fold(blind)
    signals = decide(blind, signals_score(blind), checking)
    at = choose_threshold(signals, args.false_abstain)
    false_abstain, hit, recall = signals.at(at)
    print(
        f"for comparison, the search's signals alone (the reader's features left out, "
        f"cross-fitted): right sentence first {signals.right[answerable].mean():.4f}; at {at:.2f}, "
        f"false_abstain {false_abstain:.4f}, abstain_recall {recall:.4f}, absent_recall "
        f"{signals.absent_recall(at):.4f}"
    )
    args.signals_out.parent.mkdir(parents=True, exist_ok=True)
    signals_weights, signals_bias = fit(blind)
    args.signals_out.write_text(
        Combiner(FEATURES, signals_weights, signals_bias, threshold=at).to_json(), encoding="utf-8"
    )
    stopping = Stopping.of(rows, score, checking, signals_score)
    sure = unread = None
    if args.read > 1:
        sure = choose_sure(stopping, chosen, args.stop_tolerance)
    print("sure  stopped  false_abstain  snippet_hit@1  abstain_recall")
    for value in (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2):
        decisions, _, share = stopping.at(value)
        false_abstain, hit, recall = decisions.at(chosen)
        print(f"{value:4.2f}  {share:7.3f}  {false_abstain:13.4f}  {hit:13.4f}  {recall:14.4f}")
    if sure is None:
        print("sure: none (stopping early would cost more than the tolerance)")
    else:
        decisions, _, share = stopping.at(sure)
        false_abstain, hit, recall = decisions.at(chosen)
        print(
            f"sure: {sure:.2f} (the lowest within {args.stop_tolerance} of reading all): "
            f"{share:.3f} of questions stop after one sentence; false_abstain "
            f"{false_abstain:.4f}, snippet_hit@1 {hit:.4f}, abstain_recall {recall:.4f}"
        )
    unread = choose_unread(stopping, chosen, sure, args.stop_tolerance)
    print(
        f"unread (at sure {sure}): cited unread  read one  false_abstain  snippet_hit@1  "
        "abstain_recall"
    )
    for value in (0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.5):
        decisions, skipped, share = stopping.at(sure, value)
        false_abstain, hit, recall = decisions.at(chosen)
        print(
            f"{value:4.2f}  {skipped:11.3f}  {share:8.3f}  {false_abstain:13.4f}  {hit:13.4f}  "
            f"{recall:14.4f}"
        )
    if unread is None:
        print("unread: none (citing unread would cost more than the tolerance)")
    else:
        decisions, skipped, share = stopping.at(sure, unread)
        false_abstain, hit, recall = decisions.at(chosen)
        print(
            f"unread: {unread:.2f} (the lowest with both stops within {args.stop_tolerance} of "
            f"reading all): {skipped:.3f} of questions read nothing, {share:.3f} one sentence; "
            f"false_abstain {false_abstain:.4f}, snippet_hit@1 {hit:.4f}, abstain_recall "
            f"{recall:.4f}"
        )
    # What ships is fitted on every question; the figures above are of the folds' combiners.
    weights, bias = fit(rows)
    signals_only = None
    if unread is not None:
        signals_only = Combiner(
            FEATURES, signals_weights, signals_bias, threshold=chosen, sure=unread
        )
    shipped = Combiner(FEATURES, weights, bias, threshold=chosen, sure=sure, signals=signals_only)
    (args.reader / COMBINER_FILE).write_text(shipped.to_json(), encoding="utf-8")
    print(f"wrote {args.reader / COMBINER_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
