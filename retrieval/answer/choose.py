"""From ranked passages to one verbatim, cited sentence, or an honest abstention.

Candidate sentences come from the best passages, each with a hand-weighted score
(`candidates.py`). Without a reader the best of them is cited when the question's article is
relevant enough (`Confidence`). With a reader (CITEBOT_READER=on), the best of them by that score
are read with the question (`shortlist.py`), and the combiner shipped with it (`combine.py`)
weighs the reader's probability with those signals: its probability that a sentence answers
picks the one cited and decides abstention.
"""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.answer.candidates import (
    ANAPHORA,
    Candidates,
    candidate_features,
    heuristic_scores,
)
from retrieval.answer.dates import resolve_relative
from retrieval.answer.overlap import entity_coverage, term_coverage
from retrieval.answer.reader import Reader
from retrieval.answer.search import Ranked, rank_passages
from retrieval.answer.shortlist import Shortlist, read_shortlist
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
    found = find_candidates(version, encoder, question, mode, settings, prefer)
    if found is None:
        return Answer(question, None, ())
    ranked, rows, features, scores = found.ranked, found.rows, found.candidates, found.scores
    article_order = list(dict.fromkeys(rows[r.passage_id].article_id for r in ranked))
    cited = None
    if reader is not None and mode == "hybrid":
        shortlist = read_shortlist(
            version,
            reader,
            question,
            features,
            scores,
            ranked,
            settings.read,
            combiner=reader.combiner,
        )
        best = _likeliest(shortlist)
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


@dataclass(frozen=True, slots=True)
class Found:
    """What search found for a question, before a sentence is chosen: its ranked passages (those
    still in the store), their rows, and the candidate sentences with their hand-weighted
    scores."""

    ranked: list[Ranked]
    rows: dict[int, PassageRow]
    candidates: Candidates
    scores: dict[int, float]


def find_candidates(
    version: IndexVersion,
    encoder: Encoder | None,
    question: str,
    mode: Mode,
    settings: AnswerSettings,
    prefer: frozenset[str] = frozenset(),
) -> Found | None:
    """Search, and score the sentences of the best passages; None when nothing is found."""
    query, ranked = rank_passages(version, question, encoder, mode, settings.depth)
    if not ranked:
        return None
    rows = version.store.passages([r.passage_id for r in ranked])
    ranked = [r for r in ranked if r.passage_id in rows]
    candidates = candidate_features(
        version, question, query, mode, ranked, rows, settings.candidate_passages
    )
    scores = heuristic_scores(candidates, mode)
    for f in candidates.features:
        if f.article_id in prefer:
            scores[f.sentence_id] += PREFERRED
    return Found(ranked, rows, candidates, scores)


def _context_start(
    version: IndexVersion, candidates: Candidates, best: _Candidate, mode: Mode
) -> int:
    """Where the citation starts: the sentence, or the one before when it leans on it."""
    if mode != "hybrid" or not ANAPHORA.match(best.text):
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


def _likeliest(shortlist: Shortlist) -> _Candidate | None:
    """The shortlisted sentence likeliest to answer (`Shortlist.likelihood`: by the combiner
    when the reader has one, by the reader's probability otherwise); its score is that
    probability."""
    if not shortlist.candidates:
        return None
    likelihood = shortlist.likelihood
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
