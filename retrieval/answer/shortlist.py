"""The reader's shortlist: the best-scored candidates, read with the question.

The reader (CITEBOT_READER=on) reads the best of the candidates by their hand-weighted score,
each with its article's title and the sentence before it, and each read sentence becomes one row
of the combiner's features (`combine.FEATURES`). Reading is what a question's time goes to, so it
stops as soon as the combiners are sure: a first sentence that the combiner of the search's
signals alone is sure of is cited unread, and one that the combiner is sure of once read leaves
the rest unread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.answer.candidates import Candidates, Features
from retrieval.answer.combine import FEATURES, Combiner
from retrieval.answer.overlap import entity_coverage
from retrieval.answer.reader import Reader, reader_document
from retrieval.answer.search import Ranked
from retrieval.index.version import IndexVersion


@dataclass(frozen=True, slots=True)
class Shortlist:
    """The sentences the reader read, best hand-weighted score first, with what it found."""

    candidates: list[Features]
    heuristic: np.ndarray  # each one's hand-weighted score
    probabilities: np.ndarray  # the reader's probability that it answers (NaN: left unread)
    features: np.ndarray  # one row of `combine.FEATURES` each
    # The probability that it answers that picks and abstains: the combiner's (the signals'
    # combiner's for a sentence cited unread), or without a combiner the reader's.
    likelihood: np.ndarray


def read_shortlist(
    version: IndexVersion,
    reader: Reader,
    question: str,
    candidates: Candidates,
    scores: dict[int, float],
    ranked: list[Ranked],
    read: int,
    *,
    combiner: Combiner | None = None,
) -> Shortlist:
    """Read the `read` best-scored candidates with the question, and describe each one for the
    combiner. With a `combiner` whose `signals` have a `sure`, the first is described unread
    and, when those signals give it at least that probability, nothing is read: the shortlist is
    that sentence. With a `combiner` that has `sure`, the first is read alone, and when the
    combiner gives it at least that probability the others go unread."""
    shortlist = sorted(candidates.features, key=lambda f: (-scores[f.sentence_id], f.sentence_id))
    shortlist = shortlist[:read]
    if not shortlist:
        empty = np.zeros(0, dtype=np.float64)
        return Shortlist([], empty, empty, np.zeros((0, len(FEATURES)), dtype=np.float64), empty)
    top_cosine = max((r.cosine for r in ranked[:5] if r.cosine is not None), default=0.0)
    entities: dict[str, float] = {}  # filled as articles are described, each once

    def described(
        read: list[Features], probabilities: np.ndarray, by: Combiner | None = combiner
    ) -> Shortlist:
        for a in {f.article_id for f in read} - entities.keys():
            article = candidates.articles[a]
            entities[a] = entity_coverage(question, article.title + "\n" + article.text)
        return _described(read, probabilities, scores, top_cosine, entities, by)

    signals = None if combiner is None else combiner.signals
    if signals is not None and signals.sure is not None:
        # Unread, the reader's features are 0, as in the calibration; its weights for them are 0.
        unread = described(shortlist[:1], np.full(1, np.nan), signals)
        if unread.likelihood[0] >= signals.sure:
            return unread
    previous = _previous_sentences(version, candidates, shortlist)
    documents = [
        reader_document(candidates.articles[f.article_id].title, previous[f.sentence_id], f.text)
        for f in shortlist
    ]
    sure = None if combiner is None else combiner.sure
    if combiner is None or sure is None or len(shortlist) == 1:
        return described(shortlist, np.asarray(reader.score(question, documents), dtype=np.float64))
    first = np.asarray(reader.score(question, documents[:1]), dtype=np.float64)
    alone = described(shortlist[:1], first)
    if alone.likelihood[0] >= sure:
        return alone
    rest = np.asarray(reader.score(question, documents[1:]), dtype=np.float64)
    return described(shortlist, np.concatenate([first, rest]))


def _described(
    shortlist: list[Features],
    probabilities: np.ndarray,
    scores: dict[int, float],
    top_cosine: float,
    entities: dict[str, float],
    combiner: Combiner | None,
) -> Shortlist:
    """The shortlist with the reader's probabilities, its rows of `combine.FEATURES`
    (`entities`: the share of the question's names in each of its articles), and their
    likelihood by `combiner` (by the reader's probability without one)."""
    heuristic = np.asarray([scores[f.sentence_id] for f in shortlist], dtype=np.float64)
    if np.isnan(probabilities).any():  # unread: weighed at 0 by a combiner of the signals alone
        logits = np.zeros(len(shortlist))
    else:
        clipped = np.clip(probabilities, 1e-4, 1 - 1e-4)
        logits = np.log(clipped / (1 - clipped))
    columns = {
        "reader_logit": logits,
        "reader_margin": logits - logits.max(),
        "heuristic": heuristic,
        "heuristic_margin": heuristic - heuristic.max(),
        "heuristic_first": (np.arange(len(shortlist)) == 0).astype(np.float64),
        "cosine": [f.cosine for f in shortlist],
        "passage_cosine": [f.passage_cosine for f in shortlist],
        "lexical": [f.lexical for f in shortlist],
        "prior": [f.prior for f in shortlist],
        "offers": [float(f.offers) for f in shortlist],
        "asks": [float(f.kind != "other") for f in shortlist],
        "bigrams": [f.bigrams for f in shortlist],
        "entities": [entities[f.article_id] for f in shortlist],
        "top_cosine": np.full(len(shortlist), top_cosine),
    }
    features = np.column_stack([np.asarray(columns[name], dtype=np.float64) for name in FEATURES])
    likelihood = probabilities if combiner is None else combiner.probabilities(features)
    return Shortlist(shortlist, heuristic, probabilities, features, likelihood)


def _previous_sentences(
    version: IndexVersion, candidates: Candidates, shortlist: list[Features]
) -> dict[int, str]:
    """The text of the sentence before each one in its article ("" for an article's first)."""
    by_id = candidates.by_id
    missing = [f.sentence_id - 1 for f in shortlist if f.sentence_id - 1 not in by_id]
    fetched = version.store.sentences(missing) if missing else {}
    out: dict[int, str] = {}
    for f in shortlist:
        before = by_id.get(f.sentence_id - 1)
        if before is not None:
            out[f.sentence_id] = before.text if before.article_id == f.article_id else ""
            continue
        row = fetched.get(f.sentence_id - 1)
        if row is not None and row.article_id == f.article_id:
            out[f.sentence_id] = candidates.articles[f.article_id].text[row.start : row.end]
        else:
            out[f.sentence_id] = ""
    return out
