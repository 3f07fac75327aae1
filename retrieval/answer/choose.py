"""From ranked passages to one verbatim, cited sentence, or an honest abstention.

Candidate sentences come from the best passages. In hybrid mode each is scored by its own
cosine to the question, its BM25 against the question's terms, the rank of the passages that hold
it, and whether it holds the kind of thing asked for (a time for "when", a name for "who").
With a reader (CITEBOT_READER=on), the best of them by that score are read with the question,
and the combiner shipped with it (`combine.py`) weighs the reader's probability with those
signals: its probability that a sentence answers picks the one cited and decides abstention.
The plain modes keep to their own signal so they stay honest baselines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from retrieval.answer.combine import FEATURES
from retrieval.answer.dates import resolve_relative
from retrieval.answer.overlap import bigram_share, bigrams, entity_coverage, term_coverage
from retrieval.answer.questions import Kind, offers, question_kind
from retrieval.answer.reader import Reader, reader_document
from retrieval.answer.search import Ranked, rank_passages
from retrieval.encode.encoder import Encoder
from retrieval.index.store import PassageRow
from retrieval.index.version import IndexVersion
from retrieval.types import Answer, Article, Citation, Mode, Source

# Below these citebot abstains: a reader's own probability that the sentence answers (for a
# reader shipped without a combiner: the combiner's threshold is its own, chosen on held-out
# training data, docs/reader.md), and without a reader the relevance score of `Confidence`.
READER_THRESHOLD = 0.5
HEURISTIC_THRESHOLD = 0.3
# What a follow-up's sentence gains for being in an article the conversation already cited: about
# one passage-rank step, enough to settle a near tie, not to override a clearly better sentence.
PREFERRED = 0.2


@dataclass(frozen=True, slots=True)
class AnswerSettings:
    """Knobs of answering; `threshold` is the confidence below which citebot abstains (None:
    the default of the scorer in use, reader or not)."""

    threshold: float | None = None
    depth: int = 50
    candidate_passages: int = 10
    further: int = 3
    # How many of the best-scored sentences the reader reads.
    read: int = 3


@dataclass(frozen=True, slots=True)
class _Candidate:
    sentence_id: int
    article_id: str
    start: int
    end: int
    text: str
    score: float
    cosine: float


def source_of(article: Article) -> Source:
    return Source(
        article_id=article.id,
        title=article.title,
        path=article.path,
        url=article.url,
        published=article.published,
        source=article.source,
    )


# A sentence opening with one of these leans on the one before ("He", "In this way"): the
# citation then quotes both, so it reads on its own and still is one verbatim span.
_ANAPHORA = re.compile(
    r"(?:he|she|it|they|them|his|her|its|their|this|these|those|that|such|there|however|but"
    r"|also|thus|therefore|then|both|each|in this way|as a result|the latter|the former)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Confidence:
    """Why citebot believes (or not) that its best sentence answers the question."""

    cosine: float  # the better of the sentence's and the top passages' cosine to the question
    coverage: float  # share of the question's words in the cited article's best passages
    entities: float  # share of the question's names and numbers found in the cited article

    def accepts(self, mode: Mode, threshold: float) -> bool:
        if mode == "bm25":
            return self.coverage >= 0.5
        if mode == "dense":
            return self.cosine >= threshold
        # A question about names or figures the article never mentions is not answered by it,
        # unless the meaning matches closely (a misspelt name: "Ghandi").
        named = self.entities >= 0.5 or self.cosine >= 0.55
        return named and 0.75 * self.cosine + 0.25 * self.coverage >= threshold


def answer_question(
    version: IndexVersion,
    encoder: Encoder | None,
    question: str,
    *,
    mode: Mode = "hybrid",
    settings: AnswerSettings = AnswerSettings(),
    reader: Reader | None = None,
    prefer: frozenset[str] = frozenset(),
) -> Answer:
    """Answer with the best sentence of the best passages, or abstain with the nearest articles.

    In hybrid mode a `reader` picks the sentence and decides abstention; the plain modes and a
    missing reader use the hand-weighted scores. Sentences of the articles in `prefer` (those a
    conversation already cited) score `PREFERRED` more. The returned citation always satisfies
    `article.text[start:end] == snippet`.
    """
    query, ranked = rank_passages(version, question, encoder, mode, settings.depth)
    if not ranked:
        return Answer(question, None, ())
    rows = version.store.passages([r.passage_id for r in ranked])
    ranked = [r for r in ranked if r.passage_id in rows]
    article_order = list(dict.fromkeys(rows[r.passage_id].article_id for r in ranked))

    features = candidate_features(version, question, query, mode, ranked, rows, settings)
    scores = heuristic_scores(features, mode)
    for f in features.features:
        if f.article_id in prefer:
            scores[f.sentence_id] += PREFERRED
    cited = None
    if reader is not None and mode == "hybrid":
        sure = None if reader.combiner is None else reader.combiner.sure
        shortlist = read_shortlist(
            version, reader, question, features, scores, ranked, settings.read, sure=sure
        )
        best = _likeliest(reader, shortlist)
        threshold = settings.threshold
        if threshold is None:
            threshold = READER_THRESHOLD if reader.combiner is None else reader.combiner.threshold
        accepted = best is not None and best.score >= threshold
    else:
        best = _choose_sentence(features, scores)
        threshold = HEURISTIC_THRESHOLD if settings.threshold is None else settings.threshold
        accepted = best is not None and confidence_of(
            question, best, ranked, rows, features.articles[best.article_id], settings
        ).accepts(mode, threshold)
    if best is not None and accepted:
        article = features.articles[best.article_id]
        start = _context_start(version, features, best, mode)
        snippet = article.text[start : best.end]
        cited = Citation(
            source=source_of(article),
            snippet=snippet,
            start=start,
            end=best.end,
            score=round(best.score, 4),
            resolved_date=resolve_relative(snippet, article.published),
        )
        article_order.remove(best.article_id)
        article_order.insert(0, best.article_id)

    first_other = 1 if cited else 0
    others = article_order[first_other : first_other + settings.further]
    articles = dict(features.articles)
    missing = [a for a in others if a not in articles]
    articles.update((a.id, a) for a in version.store.articles(missing))
    further = tuple(source_of(articles[a]) for a in others if a in articles)
    return Answer(question, cited, further, tuple(article_order))


def _context_start(
    version: IndexVersion, candidates: Candidates, best: _Candidate, mode: Mode
) -> int:
    """Where the citation starts: the sentence, or the one before when it leans on it."""
    if mode != "hybrid" or not _ANAPHORA.match(best.text):
        return best.start
    before = candidates.by_id.get(best.sentence_id - 1)
    if before is not None:
        return before.start if before.article_id == best.article_id else best.start
    found = version.store.sentences([best.sentence_id - 1]).get(best.sentence_id - 1)
    if found is not None and found.article_id == best.article_id:
        return found.start
    return best.start


def confidence_of(
    question: str,
    best: _Candidate,
    ranked: list[Ranked],
    rows: dict[int, PassageRow],
    article: Article,
    settings: AnswerSettings,
) -> Confidence:
    passages = " ".join(
        article.text[rows[r.passage_id].start : rows[r.passage_id].end]
        for r in ranked[: settings.candidate_passages]
        if rows[r.passage_id].article_id == best.article_id
    )
    top_cosine = max((r.cosine for r in ranked[:5] if r.cosine is not None), default=0.0)
    return Confidence(
        cosine=max(best.cosine, top_cosine),
        coverage=term_coverage(question, passages),
        entities=entity_coverage(question, article.title + "\n" + article.text),
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
    settings: AnswerSettings,
) -> Candidates:
    """Every sentence of the best passages, with the signals answer scoring weighs."""
    top = ranked[: settings.candidate_passages]
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
            if before is not None and before.article_id == f.article_id and _ANAPHORA.match(f.text):
                # Quoted together with the sentence it leans on, it also answers with its words.
                scores[f.sentence_id] += 0.1 * before.lexical + 0.5 * max(
                    before.cosine - f.cosine, 0.0
                )
    return scores


def _choose_sentence(candidates: Candidates, scores: dict[int, float]) -> _Candidate | None:
    features = candidates.features
    if not features:
        return None
    best = max(features, key=lambda f: (scores[f.sentence_id], -f.sentence_id))
    return _Candidate(
        best.sentence_id,
        best.article_id,
        best.start,
        best.end,
        best.text,
        scores[best.sentence_id],
        best.cosine,
    )


@dataclass(frozen=True, slots=True)
class Shortlist:
    """The sentences the reader read, best hand-weighted score first, with what it found."""

    candidates: list[Features]
    heuristic: np.ndarray  # each one's hand-weighted score
    probabilities: np.ndarray  # the reader's probability that it answers
    features: np.ndarray  # one row of `combine.FEATURES` each


def read_shortlist(
    version: IndexVersion,
    reader: Reader,
    question: str,
    candidates: Candidates,
    scores: dict[int, float],
    ranked: list[Ranked],
    read: int,
    *,
    sure: float | None = None,
) -> Shortlist:
    """Read the `read` best-scored candidates with the question, and describe each one for the
    combiner. With `sure`, the first is read alone, and when the reader gives it at least that
    probability the others go unread: the shortlist is that sentence."""
    shortlist = sorted(candidates.features, key=lambda f: (-scores[f.sentence_id], f.sentence_id))
    shortlist = shortlist[:read]
    if not shortlist:
        empty = np.zeros(0, dtype=np.float64)
        return Shortlist([], empty, empty, np.zeros((0, len(FEATURES)), dtype=np.float64))
    previous = _previous_sentences(version, candidates, shortlist)
    documents = [
        reader_document(candidates.articles[f.article_id].title, previous[f.sentence_id], f.text)
        for f in shortlist
    ]
    if sure is None or len(shortlist) == 1:
        probabilities = np.asarray(reader.score(question, documents), dtype=np.float64)
    else:
        probabilities = np.asarray(reader.score(question, documents[:1]), dtype=np.float64)
        if probabilities[0] >= sure:
            shortlist = shortlist[:1]
        else:
            rest = np.asarray(reader.score(question, documents[1:]), dtype=np.float64)
            probabilities = np.concatenate([probabilities, rest])
    heuristic = np.asarray([scores[f.sentence_id] for f in shortlist], dtype=np.float64)
    clipped = np.clip(probabilities, 1e-4, 1 - 1e-4)
    logits = np.log(clipped / (1 - clipped))
    entities = {
        a: entity_coverage(
            question, candidates.articles[a].title + "\n" + candidates.articles[a].text
        )
        for a in {f.article_id for f in shortlist}
    }
    top_cosine = max((r.cosine for r in ranked[:5] if r.cosine is not None), default=0.0)
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
        "bigrams": [f.bigrams for f in shortlist],
        "entities": [entities[f.article_id] for f in shortlist],
        "top_cosine": np.full(len(shortlist), top_cosine),
    }
    features = np.column_stack([np.asarray(columns[name], dtype=np.float64) for name in FEATURES])
    return Shortlist(shortlist, heuristic, probabilities, features)


def _likeliest(reader: Reader, shortlist: Shortlist) -> _Candidate | None:
    """The shortlisted sentence likeliest to answer, by the combiner when the reader has one
    and by the reader's probability otherwise; its score is that probability."""
    if not shortlist.candidates:
        return None
    if reader.combiner is not None:
        likelihood = reader.combiner.probabilities(shortlist.features)
    else:
        likelihood = shortlist.probabilities
    chosen = max(
        range(len(shortlist.candidates)),
        key=lambda i: (likelihood[i], shortlist.heuristic[i], -i),
    )
    best = shortlist.candidates[chosen]
    return _Candidate(
        best.sentence_id,
        best.article_id,
        best.start,
        best.end,
        best.text,
        float(likelihood[chosen]),
        best.cosine,
    )


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
