"""How much of a question a text holds: its content words, its word pairs, its names and figures.

Answer scoring (choose.py) weighs these beside the embedding's cosine and BM25. Words are
compared by their first five letters, enough folding for "visiting"/"visit"; BM25 does the real
matching.
"""

from __future__ import annotations

import itertools
import re

from retrieval.index.terms import keyword_terms


def stem(word: str) -> str:
    # Enough folding for coverage ("visiting"/"visit", "phones"/"phone"); BM25 does the real work.
    return word[:5]


def term_coverage(question: str, text: str) -> float:
    """Share of the question's content words that the text contains."""
    terms = {stem(t) for t in keyword_terms(question)}
    if not terms:
        return 0.0
    words = {stem(w) for w in re.findall(r"\w+", text.lower())}
    return len(terms & words) / len(terms)


_ENTITY = re.compile(r"\b(?:[A-Z][\w'’.-]*[A-Za-z0-9]|[A-Z]|\d[\d,.]*\d|\d)\b")
_QUESTION_WORDS = frozenset(
    {
        "what",
        "when",
        "where",
        "who",
        "whom",
        "whose",
        "which",
        "why",
        "how",
        "is",
        "are",
        "was",
        "were",
        "do",
        "does",
        "did",
        "can",
        "could",
        "will",
        "would",
        "should",
        "has",
        "have",
        "had",
        "in",
        "on",
        "at",
        "of",
        "the",
        "a",
        "an",
    }
)


def question_entities(question: str) -> set[str]:
    """Names and numbers a question asks about: capitalised words past its first, and figures."""
    words = _ENTITY.findall(question)
    first = re.match(r"\W*(\w+)", question)
    skip = first.group(1) if first else None
    return {w for w in words if w != skip and w.lower() not in _QUESTION_WORDS}


def _entity_keys(entity: str) -> list[str]:
    # "Romans" finds "Roman", "Germany" finds "German", "Indian's" finds "India": names are
    # compared by their first five letters, part by part ("Cretaceous-Paleogene").
    entity = re.sub(r"['’]s$", "", entity)
    parts = re.findall(r"\d[\d,.]*\d|\d|[^\W\d_]+", entity)
    return [p if p[0].isdigit() else p.lower()[:5] for p in parts]


def entity_coverage(question: str, text: str) -> float:
    """Share of the question's names and numbers that the text mentions (1 when it names none)."""
    entities = question_entities(question)
    if not entities:
        return 1.0
    words = re.findall(r"\d[\d,.]*\d|\d|[^\W\d_]+", text)
    known = {w if w[0].isdigit() else w.lower()[:5] for w in words}
    found = sum(1 for e in entities if all(k in known for k in _entity_keys(e)))
    return found / len(entities)


def bigrams(text: str) -> set[tuple[str, str]]:
    words = [stem(w) for w in keyword_terms(text)]
    return set(itertools.pairwise(words))


def bigram_share(asked: set[tuple[str, str]], text: str) -> float:
    """Share of the question's word pairs (`asked`) that the text also holds."""
    if not asked:
        return 0.0
    # Each half of a pair is the start of a word of the lower-cased text: a sentence lacking
    # either half of every pair holds none, and is not cut into words (most candidates).
    lowered = text.lower()
    if not any(first in lowered and second in lowered for first, second in asked):
        return 0.0
    return len(asked & bigrams(text)) / len(asked)
