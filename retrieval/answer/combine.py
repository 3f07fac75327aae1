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
threshold chosen on the same held-out data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True, slots=True)
class Combiner:
    """Weights over named features; `threshold` is the probability below which citebot abstains.

    `sure`, when set, is the combiner's probability for the best hand-weighted sentence, read
    alone, at which the rest of the shortlist goes unread: that sentence is then the shortlist.
    It is chosen with the weights, on the same held-out data, so that stopping early costs at
    most a set tolerance of right answers (docs/reader.md)."""

    names: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    sure: float | None = None

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """One probability per row of `features` (columns in the order of `names`)."""
        if features.shape[1] != len(self.names):
            raise ValueError(f"{features.shape[1]} feature columns for {len(self.names)} weights")
        logits = features @ np.asarray(self.weights, dtype=np.float64) + self.bias
        out: np.ndarray = 1.0 / (1.0 + np.exp(-logits))
        return out

    def to_json(self) -> str:
        record = {
            "features": dict(zip(self.names, self.weights, strict=True)),
            "bias": self.bias,
            "threshold": self.threshold,
            "sure": self.sure,
        }
        return json.dumps(record, indent=2) + "\n"


def load_combiner(path: Path) -> Combiner:
    """The combiner in `path`, checked to weigh exactly `FEATURES`, in order."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        features = dict(record["features"])
        combiner = Combiner(
            names=tuple(features),
            weights=tuple(float(w) for w in features.values()),
            bias=float(record["bias"]),
            threshold=float(record["threshold"]),
            sure=None if record.get("sure") is None else float(record["sure"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CitebotError(
            f"Cannot read the reader's combiner {path} ({exc}); reinstall citebot, rebuild it "
            "with `make reader`, or set CITEBOT_READER=off."
        ) from exc
    if combiner.names != FEATURES:
        raise CitebotError(
            f"The combiner {path} weighs {', '.join(combiner.names)}, but this citebot computes "
            f"{', '.join(FEATURES)}; rebuild it with `make reader`."
        )
    return combiner
