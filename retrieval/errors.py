"""Errors the retrieval library raises, each written for the person who must act on it.

CitebotError
├── IndexUnavailable        no usable index: never built, missing or corrupt files
│   └── ModelMismatch       built with another model or dimension: reindex
├── ReindexInProgress       another reindex holds the lock
├── ShrinkRefused           a reindex would drop too many articles (an unmounted folder?)
├── StorageError            a folder is not one, or the index cannot be written (read-only, full)
├── InvalidQuestion         nothing to search for in the question
├── ArticleError            one article file cannot be read or parsed (skipped, reported)
├── FetchError              a web page cannot be fetched: refused address, too big, too slow
├── AlreadyAdded            the article (its URL or its text) is already in the collection
└── NotFound                no indexed article has that id or URL
"""

from __future__ import annotations


class CitebotError(Exception):
    """Base of every error citebot raises on purpose."""


class IndexUnavailable(CitebotError):
    """There is no usable index in the index folder."""


class ModelMismatch(IndexUnavailable):
    """The index on disk was built with another embedding model."""


class ReindexInProgress(CitebotError):
    """A reindex is already running."""


class ShrinkRefused(CitebotError):
    """A reindex would drop all the indexed articles, or more than the allowed share of them."""


class StorageError(CitebotError):
    """The index folder cannot be written, or a folder setting names something else."""


class InvalidQuestion(CitebotError):
    """The question has no words to search for (empty, only punctuation or symbols)."""


class ArticleError(CitebotError):
    """An article file could not be read or parsed; the build skips it and reports why."""


class FetchError(CitebotError):
    """A web page could not be fetched, or was refused: its address, size, time or type."""


class AlreadyAdded(CitebotError):
    """The article asked to be added is already there: the same URL, or the same text."""


class NotFound(CitebotError):
    """No indexed article has the id or URL asked for."""
