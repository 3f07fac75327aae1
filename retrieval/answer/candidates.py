"""The candidate sentences of a question, and the hand-weighted score of each.

Every sentence of the best passages is a candidate. In hybrid mode each is scored by its own
cosine to the question, its BM25 against the question's terms, the rank of the passages that hold
it, and whether it holds the kind of thing asked for (a time for "when", a name for "who"). The
plain modes keep to their own signal so they stay honest baselines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from retrieval.answer.overlap import bigram_share, bigrams
from retrieval.answer.questions import Kind, offers, question_kind
from retrieval.answer.search import Ranked
from retrieval.index.store import PassageRow
from retrieval.index.version import IndexVersion
from retrieval.types import Article, Mode

# A sentence opening with one of these leans on the one before ("He", "In this way"): the
# citation then quotes both, so it reads on its own and still is one verbatim span.
ANAPHORA = re.compile(
    r"(?:he|she|it|they|them|his|her|its|their|this|these|those|that|such|there|however|but"
    r"|also|thus|therefore|then|both|each|in this way|as a result|the latter|the former)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Features:
    """What answer scoring knows of one candidate sentence."""

    sentence_id: int
    article_id: str
    start: int
    end: int
    text: str
    cosine: float  # sentence to question
    lexical: float  # sentence BM25, divided by the best candidate's
    prior: float  # fused score of the best passage holding it, divided by the top passage's
    passage_cosine: float  # the best cosine of a passage holding it
    offers: bool  # holds the kind of thing asked for
    bigrams: float  # share of the question's word pairs that the sentence also holds
    kind: Kind


@dataclass(frozen=True, slots=True)
class Candidates:
    """The candidate sentences of a question, and the articles that hold them."""

    features: list[Features]
    articles: dict[str, Article]

    @property
    def by_id(self) -> dict[int, Features]:
        return {f.sentence_id: f for f in self.features}


def candidate_features(
    version: IndexVersion,
    question: str,
    query: np.ndarray | None,
    mode: Mode,
    ranked: list[Ranked],
    rows: dict[int, PassageRow],
    passages: int,
) -> Candidates:
    """Every sentence of the `passages` best passages, with the signals answer scoring weighs."""
    top = ranked[:passages]
    best_score = top[0].score or 1.0
    prior: dict[int, float] = {}
    p_cos: dict[int, float] = {}
    for r in top:
        row = rows[r.passage_id]
        for sid in range(row.first_sentence, row.last_sentence + 1):
            prior[sid] = max(prior.get(sid, 0.0), r.score / best_score)
            p_cos[sid] = max(p_cos.get(sid, -1.0), r.cosine or 0.0)
    sentences = version.store.sentences(sorted(prior))
    if not sentences:
        return Candidates([], {})
    ids = sorted(sentences)
    if query is not None:
        cosines = np.asarray(version.sentence_vectors[np.asarray(ids)]) @ query
    else:
        cosines = np.zeros(len(ids), dtype=np.float32)
    articles = {
        a.id: a for a in version.store.articles(sorted({s.article_id for s in sentences.values()}))
    }
    texts = {
        sid: articles[s.article_id].text[s.start : s.end] for sid, s in sorted(sentences.items())
    }
    lexical = version.store.keyword_sentences(question, texts) if mode != "dense" else {}
    top_lexical = max(lexical.values(), default=0.0) or 1.0
    kind = question_kind(question)
    asked = bigrams(question)
    out = []
    for sid, cos in zip(ids, cosines.tolist(), strict=True):
        sentence = sentences[sid]
        text = texts[sid]
        out.append(
            Features(
                sentence_id=sid,
                article_id=sentence.article_id,
                start=sentence.start,
                end=sentence.end,
                text=text,
                cosine=float(cos),
                lexical=lexical.get(sid, 0.0) / top_lexical,
                prior=prior[sid],
                passage_cosine=p_cos[sid],
                offers=offers(kind, text, question),
                bigrams=bigram_share(asked, text),
                kind=kind,
            )
        )
    return Candidates(out, articles)


def sentence_score(f: Features, mode: Mode) -> float:
    """How well a candidate answers; each mode keeps to its own signals."""
    if mode == "dense":
        return f.cosine + 0.1 * f.prior
    if mode == "bm25":
        return f.lexical + 0.1 * f.prior
    return (
        f.cosine
        + 0.5 * f.lexical
        + 0.25 * f.prior
        + 0.75 * f.passage_cosine
        + 0.4 * f.bigrams
        + (_OFFER_WEIGHT.get(f.kind, 0.0) if f.offers else 0.0)
    )


# How much holding the asked-for kind counts: a time or a figure is told apart reliably; a
# capitalised word is only a rough sign of a name.
_OFFER_WEIGHT: dict[Kind, float] = {"when": 0.3, "number": 0.15, "who": 0.2, "where": 0.1}


def heuristic_scores(candidates: Candidates, mode: Mode) -> dict[int, float]:
    """Each candidate's hand-weighted score, by sentence id."""
    features = candidates.features
    by_id = candidates.by_id
    scores = {f.sentence_id: sentence_score(f, mode) for f in features}
    if mode == "hybrid":
        for f in features:
            before = by_id.get(f.sentence_id - 1)
            if before is not None and before.article_id == f.article_id and ANAPHORA.match(f.text):
                # Quoted together with the sentence it leans on, it also answers with its words.
                scores[f.sentence_id] += 0.1 * before.lexical + 0.5 * max(
                    before.cosine - f.cosine, 0.0
                )
    return scores
