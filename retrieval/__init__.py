"""citebot's retrieval library: articles in, verbatim cited answers out.

A plain library: it never imports discord or reads configuration; front ends pass values in.
"""

from __future__ import annotations

from retrieval.answer import AnswerSettings
from retrieval.engine import Engine
from retrieval.errors import (
    ArticleError,
    CitebotError,
    IndexUnavailable,
    InvalidQuestion,
    ModelMismatch,
    ReindexInProgress,
)
from retrieval.types import (
    MODES,
    Answer,
    Article,
    Citation,
    Hit,
    IndexStats,
    Mode,
    Passage,
    ReindexReport,
    Skipped,
    Source,
)

__all__ = [
    "MODES",
    "Answer",
    "AnswerSettings",
    "Article",
    "ArticleError",
    "Citation",
    "CitebotError",
    "Engine",
    "Hit",
    "IndexStats",
    "IndexUnavailable",
    "InvalidQuestion",
    "Mode",
    "ModelMismatch",
    "Passage",
    "ReindexInProgress",
    "ReindexReport",
    "Skipped",
    "Source",
]
