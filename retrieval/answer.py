"""From ranked passages to one verbatim, cited sentence, or an honest abstention.

Candidate sentences come from the best passages. In hybrid mode each is scored by its own
cosine to the question, its BM25 against the question's terms, the rank of the passages that hold
it, and whether it holds the kind of thing asked for (a time for "when", a name for "who").
The plain modes keep to their own signal so they stay honest baselines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from retrieval.dates import resolve_relative
from retrieval.encoder import Encoder
from retrieval.index import IndexVersion
from retrieval.questions import offers, question_kind
from retrieval.search import Ranked, rank_passages
from retrieval.store import keyword_terms
from retrieval.types import Answer, Article, Citation, Mode, Source

DEFAULT_THRESHOLD = 0.35


@dataclass(frozen=True, slots=True)
class AnswerSettings:
    """Knobs of answering; `threshold` is the confidence below which citebot abstains."""

    threshold: float = DEFAULT_THRESHOLD
    depth: int = 50
    candidate_passages: int = 6
    further: int = 3


@dataclass(frozen=True, slots=True)
class _Candidate:
    sentence_id: int
    article_id: str
    start: int
    end: int
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


def _stem(word: str) -> str:
    # Enough folding for coverage ("visiting"/"visit", "phones"/"phone"); BM25 does the real work.
    return word[:5]


def term_coverage(question: str, text: str) -> float:
    """Share of the question's content words that the text contains."""
    terms = {_stem(t) for t in keyword_terms(question)}
    if not terms:
        return 0.0
    words = {_stem(w) for w in re.findall(r"\w+", text.lower())}
    return len(terms & words) / len(terms)


def answer_question(
    version: IndexVersion,
    encoder: Encoder | None,
    question: str,
    *,
    mode: Mode = "hybrid",
    settings: AnswerSettings = AnswerSettings(),
) -> Answer:
    """Answer with the best sentence of the best passages, or abstain with the nearest articles.

    The returned citation always satisfies `article.text[start:end] == snippet`.
    """
    query = None
    if mode != "bm25":
        if encoder is None:
            raise ValueError(f"mode {mode!r} needs an encoder")
        query = encoder.encode_query(question)
    ranked = rank_passages(version, question, query, mode, settings.depth)
    if not ranked:
        return Answer(question, None, ())
    rows = version.store.passages([r.passage_id for r in ranked])
    ranked = [r for r in ranked if r.passage_id in rows]
    article_order = list(dict.fromkeys(rows[r.passage_id].article_id for r in ranked))

    best = _choose_sentence(version, question, query, mode, ranked, settings)
    cited = None
    if best is not None:
        article = version.store.articles([best.article_id])[0]
        passage_text = " ".join(
            article.text[rows[r.passage_id].start : rows[r.passage_id].end]
            for r in ranked[: settings.candidate_passages]
            if rows[r.passage_id].article_id == best.article_id
        )
        if _confident(question, best, ranked, passage_text, mode, settings):
            snippet = article.text[best.start : best.end]
            cited = Citation(
                source=source_of(article),
                snippet=snippet,
                start=best.start,
                end=best.end,
                score=round(best.score, 4),
                resolved_date=resolve_relative(snippet, article.published),
            )
            article_order.remove(best.article_id)
            article_order.insert(0, best.article_id)

    first_other = 1 if cited else 0
    others = article_order[first_other : first_other + settings.further]
    further = tuple(source_of(a) for a in version.store.articles(others))
    return Answer(question, cited, further, tuple(article_order))


def _confident(
    question: str,
    best: _Candidate,
    ranked: list[Ranked],
    passage_text: str,
    mode: Mode,
    settings: AnswerSettings,
) -> bool:
    coverage = term_coverage(question, passage_text)
    if mode == "bm25":
        return coverage >= 0.5
    top_cosine = max((r.cosine for r in ranked[:5] if r.cosine is not None), default=0.0)
    confidence = max(best.cosine, top_cosine)
    if mode == "hybrid":
        confidence = 0.75 * confidence + 0.25 * coverage
    return confidence >= settings.threshold


def _choose_sentence(
    version: IndexVersion,
    question: str,
    query: np.ndarray | None,
    mode: Mode,
    ranked: list[Ranked],
    settings: AnswerSettings,
) -> _Candidate | None:
    top = ranked[: settings.candidate_passages]
    rows = version.store.passages([r.passage_id for r in top])
    best_score = top[0].score or 1.0
    prior: dict[int, float] = {}
    spans: dict[int, tuple[str, int, int]] = {}
    for r in top:
        row = rows[r.passage_id]
        for s in version.store.sentences_between(row.first_sentence, row.last_sentence):
            prior[s.id] = max(prior.get(s.id, 0.0), r.score / best_score)
            spans[s.id] = (s.article_id, s.start, s.end)
    if not spans:
        return None
    ids = sorted(spans)
    if query is not None:
        cosines = np.asarray(version.sentence_vectors[np.asarray(ids)]) @ query
    else:
        cosines = np.zeros(len(ids), dtype=np.float32)
    lexical = version.store.keyword_sentences(question, ids) if mode != "dense" else {}
    top_lexical = max(lexical.values(), default=0.0) or 1.0
    kind = question_kind(question)
    texts = _sentence_texts(version, spans)

    candidates = []
    for sid, cos in zip(ids, cosines.tolist(), strict=True):
        lex = lexical.get(sid, 0.0) / top_lexical
        if mode == "dense":
            score = cos + 0.1 * prior[sid]
        elif mode == "bm25":
            score = lex + 0.1 * prior[sid]
        else:
            text = texts[sid]
            score = cos + 0.35 * lex + 0.25 * prior[sid]
            if kind != "other" and offers(kind, text):
                score += 0.08
        article_id, start, end = spans[sid]
        candidates.append(_Candidate(sid, article_id, start, end, score, float(cos)))
    return max(candidates, key=lambda c: (c.score, -c.sentence_id))


def _sentence_texts(
    version: IndexVersion, spans: dict[int, tuple[str, int, int]]
) -> dict[int, str]:
    wanted = sorted({a for a, _, _ in spans.values()})
    texts = {a.id: a.text for a in version.store.articles(wanted)}
    return {sid: texts[a][s:e] for sid, (a, s, e) in spans.items()}
