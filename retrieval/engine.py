"""The engine a front end holds: the served index version, the encoder, and atomic swaps.

Questions read the served version through a lease; a reindex builds a new version on disk,
opens it, and swaps it in. The old version closes once its last reader is done, so a question
asked during a reindex is answered from the old index, never from a half-built one.
"""

from __future__ import annotations

import sqlite3
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from retrieval.answer import followup
from retrieval.answer.choose import AnswerSettings, answer_question, source_of
from retrieval.answer.followup import Turn
from retrieval.answer.reader import Reader
from retrieval.answer.search import hits, rank_passages
from retrieval.build.embedding import Embedder
from retrieval.build.reindex import MAX_SHRINK, Progress, build_index, no_progress
from retrieval.encode.encoder import Encoder
from retrieval.errors import IndexUnavailable, InvalidQuestion
from retrieval.index.version import IndexVersion, current_version
from retrieval.types import (
    DEFAULT_RECIPE,
    Answer,
    Article,
    Hit,
    IndexStats,
    Mode,
    PassageVectors,
    ReindexReport,
    Source,
)

# The model reads 256 word pieces at most; a longer question only costs time.
MAX_QUESTION_CHARS = 1000


def clean_question(question: str) -> str:
    """Drop control and zero-width characters, fold whitespace, and bound the length."""
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in question
        if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf")
    )
    text = " ".join(kept.split())[:MAX_QUESTION_CHARS]
    if not any(ch.isalnum() for ch in text):
        raise InvalidQuestion("Ask a question in words, for example: When is Lee visiting Japan?")
    return text


class _Lease:
    def __init__(self, version: IndexVersion) -> None:
        self.version = version
        self.readers = 0
        self.retired = False


class Engine:
    """Answers questions from the served index version; reindexes and swaps atomically."""

    def __init__(
        self,
        index_dir: Path,
        articles_dir: Path,
        encoder: Encoder,
        *,
        settings: AnswerSettings | None = None,
        reader: Reader | None = None,
        max_bytes: int = 5_000_000,
        passage_vectors: PassageVectors = DEFAULT_RECIPE,
    ) -> None:
        self.index_dir = index_dir
        self.articles_dir = articles_dir
        self.encoder = encoder
        self.settings = settings or AnswerSettings()
        self.reader = reader
        self.max_bytes = max_bytes
        self.passage_vectors = passage_vectors
        self._lock = threading.Lock()
        self._served: _Lease | None = None
        self.unavailable_reason: str | None = None

    # --- serving ---

    def load(self) -> bool:
        """Open the served version from disk; on failure keep the reason and serve nothing."""
        try:
            version = IndexVersion.open(
                current_version(self.index_dir),
                model=self.encoder.name,
                dimension=self.encoder.dimension,
            )
        except IndexUnavailable as exc:
            self.unavailable_reason = str(exc)
            return False
        self._swap(version)
        return True

    def refresh(self) -> str | None:
        """Serve the version CURRENT names now, if it is not the one served: another process,
        or a copy from a build machine, published it. Returns its name, or None when it is the
        one served. Raises IndexUnavailable when it cannot be opened; the served one stays."""
        folder = current_version(self.index_dir)
        served = self._served
        if served is not None and served.version.name == folder.name:
            return None
        version = IndexVersion.open(
            folder, model=self.encoder.name, dimension=self.encoder.dimension
        )
        self._swap(version)
        return version.name

    def _swap(self, version: IndexVersion) -> None:
        with self._lock:
            old, self._served = self._served, _Lease(version)
            self.unavailable_reason = None
            if old is not None:
                old.retired = True
                if old.readers == 0:
                    old.version.close()

    @contextmanager
    def _reading(self) -> Iterator[IndexVersion]:
        with self._lock:
            lease = self._served
            if lease is None:
                raise IndexUnavailable(
                    self.unavailable_reason or "No index is loaded; run a reindex."
                )
            lease.readers += 1
        try:
            yield lease.version
        except sqlite3.DatabaseError as exc:
            # Damage deep in the file passes the checks at load, which do not read every page.
            raise IndexUnavailable(
                f"The index database in {lease.version.folder} is damaged ({exc}); rebuild it "
                "with a reindex."
            ) from exc
        finally:
            with self._lock:
                lease.readers -= 1
                if lease.retired and lease.readers == 0:
                    lease.version.close()

    @contextmanager
    def version(self) -> Iterator[IndexVersion]:
        """The served version, held for direct use (calibration, say) until the block ends."""
        with self._reading() as version:
            yield version

    @property
    def ready(self) -> bool:
        return self._served is not None

    def close(self) -> None:
        with self._lock:
            lease, self._served = self._served, None
            if lease is not None:
                lease.retired = True
                if lease.readers == 0:
                    lease.version.close()

    # --- questions ---

    def ask(self, question: str, *, mode: Mode = "hybrid", history: Sequence[Turn] = ()) -> Answer:
        """Answer a question (blocking: call it from a worker thread in async code).

        `history` holds the conversation's earlier questions, oldest first: a follow-up that
        leans on them ("Who will he meet there?") is searched with their names and terms
        (answer/followup.py). Without history, or for a question that stands alone, the answer
        is the same as without.
        """
        text = clean_question(question)
        context = followup.context_of(text, history)
        with self._reading() as version:
            if context is None:
                return answer_question(
                    version,
                    self.encoder,
                    text,
                    mode=mode,
                    settings=self.settings,
                    reader=self.reader,
                )
            answer = answer_question(
                version,
                self.encoder,
                context.query,
                mode=mode,
                settings=self.settings,
                reader=self.reader,
                prefer=context.prefer,
            )
            cited = answer.citation
            sentence = None if cited is None else followup.cited_sentence(version, cited)
        return followup.settle(text, context, answer, sentence)

    def search(self, question: str, *, mode: Mode = "hybrid", k: int = 10) -> list[Hit]:
        text = clean_question(question)
        with self._reading() as version:
            _, ranked = rank_passages(version, text, self.encoder, mode, k)
            return hits(version, ranked, k)

    def sources(self) -> list[Source]:
        with self._reading() as version:
            return [source_of(a) for a in version.store.articles()]

    def stats(self) -> IndexStats:
        with self._reading() as version:
            return version.stats()

    def matching(self, *, url: str | None = None, text: str | None = None) -> list[Article]:
        """The served articles with this url, or with exactly this text."""
        with self._reading() as version:
            return version.store.articles(version.store.matching_ids(url=url, text=text))

    def article(self, article_id: str) -> Article | None:
        """The served article with this id, or None."""
        with self._reading() as version:
            found = version.store.articles([article_id])
        return found[0] if found else None

    def passage_count(self, article_id: str) -> int:
        """How many passages the served index holds for this article."""
        with self._reading() as version:
            return len(version.store.passages_of_article(article_id))

    # --- reindexing ---

    def reindex(
        self,
        progress: Progress = no_progress,
        *,
        full: bool = False,
        rewrite: bool = False,
        max_shrink: float | None = MAX_SHRINK,
        embedder: Embedder | None = None,
    ) -> ReindexReport:
        """Rebuild incrementally from the articles folder, then serve the new version; `full`
        embeds every article afresh, reusing nothing; `rewrite` writes every file anew, reusing
        the vectors that match their checksums; a build dropping more than `max_shrink` of the
        articles is refused (None allows it; see `build_index`); `embedder` embeds on a
        cluster instead of with this engine's encoder (ray_embedding.py)."""
        report = build_index(
            self.articles_dir,
            self.index_dir,
            self.encoder,
            progress=progress,
            max_bytes=self.max_bytes,
            full=full,
            rewrite=rewrite,
            passage_vectors=self.passage_vectors,
            max_shrink=max_shrink,
            embedder=embedder,
        )
        served = self._served
        if served is None or served.version.name != report.stats.version:
            self.load()
        return report
