"""The combiner: the reader's judgement and the search's signals, weighed into one probability.

The reader reads a sentence well but alone: it does not know that search ranked the passage
holding it last, or that the question's names never occur in its article. The combiner is a
logistic regression over the reader's score and those signals, one row per shortlisted sentence
(`shortlist.read_shortlist`). Its probability picks the sentence cited, and below the
threshold citebot abstains.

It is fitted by `training.reader_calibrate` on held-out training questions run through the
real path (answerable ones, holes, and questions about articles the collection lacks), never
on the evaluation sets, and ships beside the reader as `combiner.json`: the
feature names, one weight each (for the raw features: scaling is folded in), the bias, and the
threshold chosen on the same held-out data. Beside it may ship a second combiner of the search's
signals alone (the reader's features weighed at 0), fitted on the same questions: when it is sure
of the best hand-weighted sentence, that sentence is cited without reading anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.errors import CitebotError

COMBINER_FILE = "combiner.json"

# What the combiner weighs for each shortlisted sentence (computed in `shortlist.read_shortlist`):
FEATURES = (
    "reader_logit",  # the reader's log-odds that the sentence answers
    "reader_margin",  # ... less the best of the shortlist's (0 for the reader's favourite)
    "heuristic",  # the hand-weighted score that made the shortlist (`candidates.sentence_score`)
    "heuristic_margin",  # ... less the best of the shortlist's
    "heuristic_first",  # 1 for the sentence that score puts first
    "cosine",  # the sentence's embedding cosine to the question
    "passage_cosine",  # the best cosine of a passage holding it
    "lexical",  # its BM25, over the best candidate's
    "prior",  # the fused search score of its best passage, over the top passage's
    "offers",  # 1 when it holds the kind of thing asked for (a time for "when")
    "asks",  # 1 when the question asks for a kind (a time, a person, a place, a figure)
    "bigrams",  # share of the question's word pairs it holds
    "entities",  # share of the question's names and figures found in its article
    "top_cosine",  # the best cosine of the question's top five passages
)
# The features that need the reader: a combiner of the search's signals alone weighs them at 0.
READ = ("reader_logit", "reader_margin")


@dataclass(frozen=True, slots=True)
class Combiner:
    """Weights over named features; `threshold` is the probability below which citebot abstains.

    `sure`, when set, is the combiner's probability for the best hand-weighted sentence, read
    alone, at which the rest of the shortlist goes unread: that sentence is then the shortlist.
    It is chosen with the weights, on the same held-out data, so that stopping early costs at
    most a set tolerance of right answers (docs/reader.md).

    `signals`, when set, weighs the search's signals alone (its weights for the reader's
    features are 0), and its own `sure` is the probability at which the best hand-weighted
    sentence is cited unread, that probability its likelihood; `threshold` still decides."""

    names: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    sure: float | None = None
    signals: Combiner | None = None

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """One probability per row of `features` (columns in the order of `names`)."""
        if features.shape[1] != len(self.names):
            raise ValueError(f"{features.shape[1]} feature columns for {len(self.names)} weights")
        logits = features @ np.asarray(self.weights, dtype=np.float64) + self.bias
        out: np.ndarray = 1.0 / (1.0 + np.exp(-logits))
        return out

    def to_json(self) -> str:
        record: dict[str, object] = {
            "features": dict(zip(self.names, self.weights, strict=True)),
            "bias": self.bias,
            "threshold": self.threshold,
            "sure": self.sure,
        }
        if self.signals is not None:  # its threshold is this one's
            record["signals"] = {
                "features": dict(zip(self.signals.names, self.signals.weights, strict=True)),
                "bias": self.signals.bias,
                "sure": self.signals.sure,
            }
        return json.dumps(record, indent=2) + "\n"


def load_combiner(path: Path) -> Combiner:
    """The combiner in `path`, checked to weigh exactly `FEATURES`, in order, and its combiner
    of the signals alone, if any, checked to read nothing."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        threshold = float(record["threshold"])
        signals = None
        if record.get("signals") is not None:
            signals = _parsed(record["signals"], threshold)
        combiner = replace(_parsed(record, threshold), signals=signals)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CitebotError(
            f"Cannot read the reader's combiner {path} ({exc}); reinstall citebot, rebuild it "
            "with `make reader`, or set CITEBOT_READER=off."
        ) from exc
    for which in (combiner, signals):
        if which is not None and which.names != FEATURES:
            raise CitebotError(
                f"The combiner {path} weighs {', '.join(which.names)}, but this citebot "
                f"computes {', '.join(FEATURES)}; rebuild it with `make reader`."
            )
    if signals is not None and any(
        weight != 0.0
        for name, weight in zip(signals.names, signals.weights, strict=True)
        if name in READ
    ):
        raise CitebotError(
            f"The combiner {path} cites sentences unread with a combiner that weighs the "
            "reader's features; rebuild it with `make reader`."
        )
    return combiner


def _parsed(record: dict[str, Any], threshold: float) -> Combiner:
    features = dict(record["features"])
    return Combiner(
        names=tuple(features),
        weights=tuple(float(w) for w in features.values()),
        bias=float(record["bias"]),
        threshold=threshold,
        sure=None if record.get("sure") is None else float(record["sure"]),
    )
