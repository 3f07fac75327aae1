"""Typed values that cross the library's boundary."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "bm25")

# Embeddings: float32 rows, L2-normalised by every encoder, so an inner product is the cosine.
Vectors = npt.NDArray[np.float32]

# How a passage's vector is made (build/pooling.py): embedded whole, or pooled from its
# sentences'. A version records its recipe in its manifest.
PassageVectors = Literal["pooled", "embedded"]
RECIPES: tuple[PassageVectors, ...] = get_args(PassageVectors)
DEFAULT_RECIPE: PassageVectors = "embedded"


@dataclass(frozen=True, slots=True)
class Article:
    """One article, its text exactly as read (after decoding) and its metadata.

    `id` is stable across reindexes: the record's own `id` for JSON, else the path relative to
    the articles folder. `path` is where it was read from (relative, POSIX separators; for a JSON
    Lines record `file.jsonl:LINE`); `other_paths` lists files with identical content.
    """

    id: str
    title: str
    text: str
    path: str
    url: str | None = None
    published: str | None = None
    source: str | None = None
    other_paths: tuple[str, ...] = ()
    # Where the story starts in `text`: what comes before is its title as the file wrote it (a
    # headline line, a Markdown heading), shown and searched through `title` but never quoted.
    body_start: int = 0
    content_hash: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.content_hash:
            object.__setattr__(self, "content_hash", content_hash(self))


def content_hash(article: Article) -> str:
    """Hash of everything that shapes what is indexed: a change here means re-embedding."""
    fields: list[object] = [article.title, article.url, article.published, article.source]
    fields.append(article.text)
    if article.body_start:  # an article quoted from its first character hashes as before
        fields.append(article.body_start)
    payload = json.dumps(fields, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Passage:
    """A window of consecutive sentences; all offsets index into the article's text."""

    article_id: str
    ordinal: int
    start: int
    end: int
    sentences: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file the build left out, and why, in words for people."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class Source:
    """An article as the reader sees it cited."""

    article_id: str
    title: str
    path: str
    url: str | None = None
    published: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """One passage found by search, best first."""

    passage_id: int
    article_id: str
    start: int
    end: int
    score: float


@dataclass(frozen=True, slots=True)
class Citation:
    """The verbatim snippet: `article.text[start:end] == snippet` always holds."""

    source: Source
    snippet: str
    start: int
    end: int
    score: float
    # A resolved date for a relative time in the snippet ("later this month"), when the
    # article's publication date is known; free text such as "January 2026".
    resolved_date: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """The reply to a question: a citation, or an abstention naming the nearest articles."""

    question: str
    citation: Citation | None
    further: tuple[Source, ...]
    ranked_article_ids: tuple[str, ...] = ()

    @property
    def abstained(self) -> bool:
        return self.citation is None


@dataclass(frozen=True, slots=True)
class IndexStats:
    articles: int
    passages: int
    model: str
    dimension: int
    built_at: str
    version: str


@dataclass(frozen=True, slots=True)
class ReindexReport:
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int
    skipped: tuple[Skipped, ...]
    # Passages whose vectors were made anew (embedded, or pooled from their sentences'), not
    # copied from the served version.
    embedded_passages: int
    stats: IndexStats
    # Why nothing was reused from the served version ("Every article was embedded afresh: …"),
    # when it was damaged, built with another model, or a full rebuild was asked for; None when
    # its unchanged articles' vectors were reused, or there was none (the first build).
    full_rebuild: str | None = None
    # Why every file was written anew though the vectors were reused ("Every file was written
    # anew, reusing the vectors, as …"): the served version's FAISS index or keyword postings
    # could not be opened, or a rewrite was asked for; and why every passage vector was made
    # anew though its text was unchanged (they are now made another way); None otherwise.
    rewritten: str | None = None
