"""Incremental (re)indexing: embed only what changed, write a new version, then swap.

Articles are compared by content hash with the served version. Unchanged articles keep their
rows and vectors (copied, never re-embedded); new and changed ones are split and embedded;
removed ones are simply not copied, so they vanish from the dense and the keyword index alike.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import numpy as np

from retrieval.chunking import make_passages, split_sentences
from retrieval.dense import IVF_THRESHOLD, DenseIndex
from retrieval.encoder import Encoder, Vectors
from retrieval.errors import IndexUnavailable, ReindexInProgress
from retrieval.index import (
    CURRENT,
    DATABASE,
    FORMAT,
    MANIFEST,
    PASSAGE_FAISS,
    PASSAGE_VECTORS,
    SENTENCE_VECTORS,
    VERSIONS,
    IndexVersion,
    Manifest,
    current_version,
    fsync_path,
    point_current,
)
from retrieval.loading import load_articles
from retrieval.snapshot import fingerprint as folder_fingerprint
from retrieval.store import PassageRow, SentenceRow, Store
from retrieval.types import Article, ReindexReport, Skipped
from retrieval.vectors import VectorFile

# progress(stage, done, total): stage is "reading", "embedding" or "writing".
Progress = Callable[[str, int, int], None]

EMBED_BATCH = 256
# Store meta keys: the articles folder's fingerprint (see snapshot.py) and the files skipped.
FINGERPRINT = "articles_fingerprint"
SKIPPED = "skipped"


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


@dataclass
class _Pending:
    """Rows and texts of the version being built; ids are positions in these lists."""

    passages: list[PassageRow] = field(default_factory=list)
    sentences: list[SentenceRow] = field(default_factory=list)
    passage_texts: list[str] = field(default_factory=list)
    sentence_texts: list[str] = field(default_factory=list)
    # Where each row's vector comes from: a row of the old version, or -1 to embed anew.
    passage_source: list[int] = field(default_factory=list)
    sentence_source: list[int] = field(default_factory=list)

    def add(self, article: Article, old: IndexVersion | None) -> None:
        text = article.text
        base_s = len(self.sentences)
        if old is not None:
            old_sentences = old.store.sentences_of_article(article.id)
            old_passages = old.store.passages_of_article(article.id)
            spans = [(s.start, s.end) for s in old_sentences]
            s_sources = [s.id for s in old_sentences]
            old_base = old_sentences[0].id if old_sentences else 0
            windows = [
                (p.start, p.end, p.first_sentence - old_base, p.last_sentence - old_base, p.id)
                for p in old_passages
            ]
        else:
            spans = split_sentences(text)
            s_sources = [-1] * len(spans)
            index_of = {span: i for i, span in enumerate(spans)}
            windows = [
                (
                    p.start,
                    p.end,
                    index_of[p.sentences[0]],
                    index_of[p.sentences[-1]],
                    -1,
                )
                for p in make_passages(article.id, text, spans)
            ]
        for ordinal, ((start, end), source) in enumerate(zip(spans, s_sources, strict=True)):
            self.sentences.append(SentenceRow(len(self.sentences), article.id, ordinal, start, end))
            self.sentence_texts.append(text[start:end])
            self.sentence_source.append(source)
        for start, end, first, last, source in windows:
            self.passages.append(
                PassageRow(
                    len(self.passages), article.id, start, end, base_s + first, base_s + last
                )
            )
            self.passage_texts.append(text[start:end])
            self.passage_source.append(source)


def passage_embedding_text(title: str, passage: str) -> str:
    """The title travels with every passage: it names what the passage is about."""
    return f"{title}\n{passage}" if title and not passage.startswith(title) else passage


class _Plan(NamedTuple):
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int
    pending: _Pending | None  # None when nothing changed since the served version


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
    pending = _Pending()
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


def _save_npy(path: Path, array: Vectors) -> None:
    with open(path, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())


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
    _remove_old_versions(index_dir, keep={stats.version})
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
    _remove_stale_builds(index_dir)
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
            _remove_old_versions(index_dir, keep={old.name})
            return ReindexReport(added, changed, removed, unchanged, loaded.skipped, 0, old.stats())

        total = pending.passage_source.count(-1) + pending.sentence_source.count(-1)
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
    building = index_dir / f"building-{name}"
    building.mkdir(parents=True)
    try:
        manifest = _write_version(
            building,
            articles,
            pending,
            passage_vectors,
            sentence_vectors,
            encoder,
            ivf_threshold,
            fingerprint=folder,
            skipped=loaded.skipped,
        )
        versions = index_dir / VERSIONS
        versions.mkdir(exist_ok=True)
        final = versions / name
        os.replace(building, final)
        fsync_path(versions)
        point_current(index_dir, name)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    _remove_old_versions(index_dir, keep={name})
    progress("writing", 1, 1)
    stats = IndexVersion.open(final, model=encoder.name, dimension=encoder.dimension)
    try:
        report_stats = stats.stats()
    finally:
        stats.close()
    assert manifest.passages == report_stats.passages
    return ReindexReport(added, changed, removed, unchanged, loaded.skipped, embedded, report_stats)


def _write_version(
    folder: Path,
    articles: list[Article],
    pending: _Pending,
    passage_vectors: Vectors,
    sentence_vectors: Vectors,
    encoder: Encoder,
    ivf_threshold: int,
    *,
    fingerprint: str | None = None,
    skipped: tuple[Skipped, ...] = (),
) -> Manifest:
    store = Store.create(folder / DATABASE)
    try:
        with store.transaction():
            by_article_p: dict[str, list[int]] = {}
            for p in pending.passages:
                by_article_p.setdefault(p.article_id, []).append(p.id)
            by_article_s: dict[str, list[int]] = {}
            for s in pending.sentences:
                by_article_s.setdefault(s.article_id, []).append(s.id)
            for article in articles:
                store.add_article(article)
                s_ids = by_article_s.get(article.id, [])
                store.add_sentences(
                    [pending.sentences[i] for i in s_ids],
                    [pending.sentence_texts[i] for i in s_ids],
                )
                p_ids = by_article_p.get(article.id, [])
                store.add_passages(
                    [pending.passages[i] for i in p_ids],
                    article.title,
                    [pending.passage_texts[i] for i in p_ids],
                )
            store.write_keyword_index()
            # What `_untouched` compares with the folder next time, and reports as skipped.
            store.set_meta(
                {
                    FINGERPRINT: fingerprint or "",
                    SKIPPED: json.dumps([[k.path, k.reason] for k in skipped]),
                }
            )
            manifest = Manifest(
                format=FORMAT,
                model=encoder.name,
                dimension=encoder.dimension,
                built_at=datetime.now(UTC).isoformat(timespec="seconds"),
                articles=len(articles),
                passages=len(pending.passages),
                sentences=len(pending.sentences),
                dense="ivf" if len(pending.passages) >= ivf_threshold else "flat",
            )
    finally:
        store.close()
    fsync_path(folder / DATABASE)
    _save_npy(folder / PASSAGE_VECTORS, passage_vectors)
    _save_npy(folder / SENTENCE_VECTORS, sentence_vectors)
    if manifest.dense == "ivf":
        DenseIndex.build(passage_vectors, ivf_threshold=ivf_threshold).save(folder / PASSAGE_FAISS)
        fsync_path(folder / PASSAGE_FAISS)
    # The manifest is written last: a version without one is never served.
    manifest_tmp = folder / (MANIFEST + ".tmp")
    with open(manifest_tmp, "w", encoding="utf-8") as handle:
        handle.write(manifest.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(manifest_tmp, folder / MANIFEST)
    fsync_path(folder)
    return manifest


def _remove_stale_builds(index_dir: Path) -> None:
    """Builds left by a crashed process: safe to delete, since we hold the lock."""
    for folder in index_dir.glob("building-*"):
        shutil.rmtree(folder, ignore_errors=True)


def _remove_old_versions(index_dir: Path, keep: set[str], grace_s: float = 0.0) -> None:
    # Readers in this process swap to the new version after the build; other processes may still
    # read the old files, which POSIX keeps alive while they are open.
    with suppress(FileNotFoundError):
        for folder in (index_dir / VERSIONS).iterdir():
            if folder.name not in keep and time.time() - folder.stat().st_mtime >= grace_s:
                shutil.rmtree(folder, ignore_errors=True)
    with suppress(FileNotFoundError):
        (index_dir / (CURRENT + ".tmp")).unlink()
