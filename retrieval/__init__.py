"""citebot's retrieval library: articles in, verbatim cited answers out.

A plain library: it never imports discord or reads configuration; front ends pass values in.
What a front end needs is exported here; the subpackages show how it is built:

    ingest/   articles folder -> Article records, sentences and passages
    encode/   texts -> unit vectors (the Encoder protocol; fake, torch and ONNX backends)
    index/    one version on disk: manifest, SQLite store, BM25 postings, vectors, dense search
    build/    incremental reindex: reuse, embed, publish a new version, swap it in
    answer/   question -> ranked passages -> the one sentence cited; evaluation
    engine.py the served version, leased to questions and swapped by reindexes
"""

from __future__ import annotations

from retrieval.answer.choose import AnswerSettings
from retrieval.answer.evaluation import Outcome, metrics, read_questions
from retrieval.answer.followup import Turn
from retrieval.encode.encoder import Encoder
from retrieval.encode.load import (
    BACKENDS,
    DEFAULT_BACKEND,
    DEFAULT_MODEL,
    Backend,
    load_encoder,
)
from retrieval.engine import Engine, clean_question
from retrieval.errors import (
    ArticleError,
    CitebotError,
    IndexUnavailable,
    InvalidQuestion,
    ModelMismatch,
    ReindexInProgress,
    ShrinkRefused,
    StorageError,
)
from retrieval.index.checksums import Verification, verify_served
from retrieval.types import (
    DEFAULT_RECIPE,
    MODES,
    RECIPES,
    Answer,
    Article,
    Citation,
    Hit,
    IndexStats,
    Mode,
    Passage,
    PassageVectors,
    ReindexReport,
    Skipped,
    Source,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_MODEL",
    "DEFAULT_RECIPE",
    "MODES",
    "RECIPES",
    "Answer",
    "AnswerSettings",
    "Article",
    "ArticleError",
    "Backend",
    "Citation",
    "CitebotError",
    "Encoder",
    "Engine",
    "Hit",
    "IndexStats",
    "IndexUnavailable",
    "InvalidQuestion",
    "Mode",
    "ModelMismatch",
    "Outcome",
    "Passage",
    "PassageVectors",
    "ReindexInProgress",
    "ReindexReport",
    "ShrinkRefused",
    "Skipped",
    "Source",
    "StorageError",
    "Turn",
    "Verification",
    "clean_question",
    "load_encoder",
    "metrics",
    "read_questions",
    "verify_served",
]
