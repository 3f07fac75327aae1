"""Incremental (re)indexing: embed only what changed, write a new version, then swap.

Articles are compared by content hash with the served version. Unchanged articles keep their
rows and vectors (copied, never re-embedded); new and changed ones are split and embedded;
removed ones are simply not copied, so they vanish from the dense and the keyword index alike.
The rows are laid out by rows.py; publishing.py writes the version and swaps it in.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import numpy as np

from retrieval.dense import IVF_THRESHOLD
from retrieval.encoder import Encoder, Vectors
from retrieval.errors import IndexUnavailable, ReindexInProgress
from retrieval.index import VERSIONS, IndexVersion, current_version
from retrieval.loading import load_articles
from retrieval.publishing import (
    FINGERPRINT,
    SKIPPED,
    publish_version,
    remove_old_versions,
    remove_stale_builds,
)
from retrieval.rows import Rows
from retrieval.snapshot import fingerprint as folder_fingerprint
from retrieval.types import Article, ReindexReport, Skipped
from retrieval.vectors import VectorFile

# progress(stage, done, total): stage is "reading", "embedding" or "writing".
Progress = Callable[[str, int, int], None]

EMBED_BATCH = 256


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


@contextmanager
def reindex_lock(index_dir: Path) -> Iterator[None]:
    """One reindex at a time per index folder, across processes (an OS lock dies with its owner)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ReindexInProgress("A reindex is already running; wait for it to finish.") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def passage_embedding_text(title: str, passage: str) -> str:
    """The title travels with every passage: it names what the passage is about."""
    return f"{title}\n{passage}" if title and not passage.startswith(title) else passage


class _Plan(NamedTuple):
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int
    pending: Rows | None  # None when nothing changed since the served version


def _plan(articles: list[Article], old: IndexVersion | None) -> _Plan:
    """What changed since `old`, and the rows of the new version, reusing old's where the text
    is the same. Reading a damaged `old` raises sqlite3.DatabaseError."""
    old_hashes = old.store.article_hashes() if old else {}
    new_hashes = {a.id: a.content_hash for a in articles}
    added = tuple(sorted(i for i in new_hashes if i not in old_hashes))
    changed = tuple(
        sorted(i for i in new_hashes if i in old_hashes and old_hashes[i] != new_hashes[i])
    )
    removed = tuple(sorted(i for i in old_hashes if i not in new_hashes))
    unchanged = len(articles) - len(added) - len(changed)
    if old is not None and not (added or changed or removed):
        return _Plan(added, changed, removed, unchanged, None)
    pending = Rows()
    for article in articles:
        reusable = old is not None and old_hashes.get(article.id) == article.content_hash
        pending.add(article, old if reusable else None)
    return _Plan(added, changed, removed, unchanged, pending)


def _vectors(
    sources: list[int],
    texts: list[str],
    old: VectorFile | None,
    encoder: Encoder,
    progress: Callable[[int], None],
) -> tuple[Vectors, int]:
    out = np.zeros((len(sources), encoder.dimension), dtype=np.float32)
    source = np.asarray(sources, dtype=np.int64)
    reuse = source >= 0
    if old is not None and reuse.any():
        out[reuse] = old[source[reuse]]
    todo = np.flatnonzero(~reuse)
    for begin in range(0, len(todo), EMBED_BATCH):
        rows = todo[begin : begin + EMBED_BATCH]
        out[rows] = encoder.encode_documents([texts[i] for i in rows])
        progress(len(rows))
    return out, len(todo)


def _open_served(index_dir: Path, encoder: Encoder) -> IndexVersion | None:
    """The served version when it can be reused; a damaged or foreign one means a full build."""
    try:
        return IndexVersion.open(
            current_version(index_dir), model=encoder.name, dimension=encoder.dimension
        )
    except IndexUnavailable:
        return None


def _untouched(index_dir: Path, encoder: Encoder, folder: str | None) -> ReindexReport | None:
    """The report of a reindex with nothing to do, when the folder's fingerprint is the one
    the served version was built from; None when the files must be read to tell."""
    if folder is None:
        return None
    served = _open_served(index_dir, encoder)
    if served is None:
        return None
    try:
        meta = served.store.meta()
        if meta.get(FINGERPRINT) != folder:
            return None
        skipped = tuple(Skipped(path, reason) for path, reason in json.loads(meta[SKIPPED]))
        stats = served.stats()
        # Read what the full path reads first, so damage there is found as it would be.
        if len(served.store.article_hashes()) != stats.articles:
            return None
    except (sqlite3.DatabaseError, KeyError, ValueError, TypeError):
        return None  # a damaged served version: the full path rebuilds it
    finally:
        served.close()
    remove_old_versions(index_dir, keep={stats.version})
    return ReindexReport((), (), (), stats.articles, skipped, 0, stats)


def build_index(
    articles_dir: Path,
    index_dir: Path,
    encoder: Encoder,
    *,
    progress: Progress = _no_progress,
    max_bytes: int = 5_000_000,
    ivf_threshold: int = IVF_THRESHOLD,
) -> ReindexReport:
    """Index `articles_dir` into a new version of `index_dir`, reusing what has not changed.

    Raises ReindexInProgress when another build holds the lock; any other failure leaves the
    served version untouched.
    """
    with reindex_lock(index_dir):
        return _build_locked(articles_dir, index_dir, encoder, progress, max_bytes, ivf_threshold)


def _build_locked(
    articles_dir: Path,
    index_dir: Path,
    encoder: Encoder,
    progress: Progress,
    max_bytes: int,
    ivf_threshold: int,
) -> ReindexReport:
    if not articles_dir.is_dir():
        raise IndexUnavailable(
            f"The articles folder {articles_dir} does not exist; set CITEBOT_ARTICLES_DIR."
        )
    remove_stale_builds(index_dir)
    # Taken before reading, so a file changed while we read changes the next fingerprint.
    folder = folder_fingerprint(articles_dir, max_bytes, now=time.time())
    untouched = _untouched(index_dir, encoder, folder)
    if untouched is not None:
        return untouched
    progress("reading", 0, 1)
    loaded = load_articles(articles_dir, max_bytes=max_bytes)
    progress("reading", 1, 1)
    articles = sorted(loaded.articles, key=lambda a: a.id)
    old = _open_served(index_dir, encoder)
    try:
        try:
            added, changed, removed, unchanged, pending = _plan(articles, old)
        except sqlite3.DatabaseError:
            if old is None:
                raise
            # Damage deep in the served version passes its checks at open: build it all anew.
            old.close()
            old = None
            added, changed, removed, unchanged, pending = _plan(articles, None)
        if pending is None:
            assert old is not None
            # Nothing to build; still clear what a killed build left beside the served version.
            remove_old_versions(index_dir, keep={old.name})
            return ReindexReport(added, changed, removed, unchanged, loaded.skipped, 0, old.stats())

        total = pending.to_embed()
        done = 0

        def step(n: int) -> None:
            nonlocal done
            done += n
            progress("embedding", done, total)

        progress("embedding", 0, total)
        titles = {a.id: a.title for a in articles}
        passage_inputs = [
            passage_embedding_text(titles[p.article_id], t)
            for p, t in zip(pending.passages, pending.passage_texts, strict=True)
        ]
        passage_vectors, embedded = _vectors(
            pending.passage_source,
            passage_inputs,
            old.passage_vectors if old else None,
            encoder,
            step,
        )
        sentence_vectors, _ = _vectors(
            pending.sentence_source,
            pending.sentence_texts,
            old.sentence_vectors if old else None,
            encoder,
            step,
        )
    finally:
        if old is not None:
            old.close()

    progress("writing", 0, 1)
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    manifest = publish_version(
        index_dir,
        name,
        articles,
        pending,
        passage_vectors,
        sentence_vectors,
        model=encoder.name,
        ivf_threshold=ivf_threshold,
        fingerprint=folder,
        skipped=loaded.skipped,
    )
    remove_old_versions(index_dir, keep={name})
    progress("writing", 1, 1)
    stats = IndexVersion.open(
        index_dir / VERSIONS / name, model=encoder.name, dimension=encoder.dimension
    )
    try:
        report_stats = stats.stats()
    finally:
        stats.close()
    assert manifest.passages == report_stats.passages
    return ReindexReport(added, changed, removed, unchanged, loaded.skipped, embedded, report_stats)
