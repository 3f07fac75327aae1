"""Incremental (re)indexing: embed only what changed, write a new version, then swap.

Articles are compared by content hash with the served version. Unchanged articles keep their
rows and vectors (copied, never re-embedded); new and changed ones are split, and each of their
rows reuses the vector of a served row made from the very same text (a renamed file, a record
moved to another line, an edited article's untouched sentences), else is embedded; removed ones
are simply not copied, so they vanish from the dense and the keyword index alike.
Vectors are copied only from vector files that still match the checksums recorded when they were
written (checksums.py): damage is never carried into a new version.
What may be reused from the served version is decided by served.py. The rows are laid out by
rows.py, their vectors made by embedding.py; publishing.py writes the version and swaps it in.
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

from retrieval.build.embedding import (
    Embedder,
    copied_or_embedded,
    local_embedder,
    pooled_vectors,
    titles_to_embed,
)
from retrieval.build.pooling import embedding_text
from retrieval.build.publishing import (
    FINGERPRINT,
    SKIPPED,
    publish_version,
    remove_old_versions,
    remove_stale_builds,
)
from retrieval.build.rows import EMBED, Rows
from retrieval.build.served import AFRESH, ASKED, damaged_vectors, open_served, reuse_note
from retrieval.encode.encoder import Encoder
from retrieval.errors import IndexUnavailable, ReindexInProgress, ShrinkRefused, StorageError
from retrieval.index.dense import IVF_THRESHOLD
from retrieval.index.version import CURRENT, VERSIONS, IndexVersion, point_current
from retrieval.ingest.fingerprint import fingerprint as folder_fingerprint
from retrieval.ingest.loading import UNREADABLE, load_articles
from retrieval.types import DEFAULT_RECIPE, Article, PassageVectors, ReindexReport, Skipped

# The share of the served version's articles a reindex may drop without being told it may.
MAX_SHRINK = 0.5

# progress(stage, done, total): stage is "reading", "checking" (the served version's vector
# files, before reusing them), "embedding" or "writing".
Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
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


class _Plan(NamedTuple):
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int
    pending: Rows | None  # None when nothing changed since the served version


def _plan(
    articles: list[Article],
    old: IndexVersion | None,
    recipe: PassageVectors,
    *,
    rewrite: bool = False,
) -> _Plan:
    """What changed since `old`, and the rows of the new version, reusing old's where the text
    is the same (its passage vectors only when made by `recipe`); `rewrite` lays out a new
    version even when nothing changed. Reading a damaged `old` raises sqlite3.DatabaseError."""
    old_hashes = old.store.article_hashes() if old else {}
    new_hashes = {a.id: a.content_hash for a in articles}
    added = tuple(sorted(i for i in new_hashes if i not in old_hashes))
    changed = tuple(
        sorted(i for i in new_hashes if i in old_hashes and old_hashes[i] != new_hashes[i])
    )
    removed = tuple(sorted(i for i in old_hashes if i not in new_hashes))
    unchanged = len(articles) - len(added) - len(changed)
    # A version whose keyword index an older citebot wrote is rewritten, reusing every vector:
    # FTS5 scores its questions correctly, but slowly. One whose passage vectors were made by
    # another recipe is rewritten with new passage vectors.
    if old is not None and not (added or changed or removed or rewrite) and _current(old, recipe):
        return _Plan(added, changed, removed, unchanged, None)
    pending = Rows()
    for article in articles:
        reusable = old is not None and old_hashes.get(article.id) == article.content_hash
        pending.add(article, old if reusable else None)
    if old is not None and (added or changed):
        # The same text under another id (a renamed file, a record on another line) or a
        # changed article's unchanged sentences: reuse their vectors too.
        gone = [i for i, digest in old_hashes.items() if new_hashes.get(i) != digest]
        pending.reuse_by_text(old, gone, {a.id: a.title for a in articles})
    if old is not None and old.manifest.passage_vectors != recipe:
        pending.renew_passage_vectors()
    return _Plan(added, changed, removed, unchanged, pending)


def _current(old: IndexVersion, recipe: PassageVectors) -> bool:
    """Whether `old` is laid out as this citebot would build it with `recipe`."""
    return old.manifest.passage_vectors == recipe


def _untouched(
    index_dir: Path, encoder: Encoder, folder: str | None, recipe: PassageVectors
) -> ReindexReport | None:
    """The report of a reindex with nothing to do, when the folder's fingerprint is the one
    the served version was built from and it skipped no file as unreadable; None when the
    files must be read to tell."""
    if folder is None:
        return None
    served, _, unservable = open_served(index_dir, encoder)
    if served is None:
        return None
    if unservable is not None:
        served.close()
        return None
    try:
        meta = served.store.meta()
        if meta.get(FINGERPRINT) != folder or not _current(served, recipe):
            return None
        skipped = tuple(Skipped(path, reason) for path, reason in json.loads(meta[SKIPPED]))
        if any(skip.reason.startswith(UNREADABLE) for skip in skipped):
            # A file the system would not let us read may have been fixed in a way the
            # fingerprint cannot see (chmod, a folder's permissions, a remount): try it again
            # rather than replay its reason. Other reasons (empty, binary, malformed) are the
            # content's, which the fingerprint sees change.
            return None
        stats = served.stats()
        # Read what the full path reads first, so damage there is found as it would be.
        if len(served.store.article_hashes()) != stats.articles:
            return None
    except (sqlite3.DatabaseError, KeyError, ValueError, TypeError):
        return None  # a damaged served version: the full path rebuilds it
    finally:
        served.close()
    _keep(index_dir, stats.version)
    return ReindexReport((), (), (), stats.articles, skipped, 0, stats)


def _keep(index_dir: Path, name: str) -> None:
    """Serve version `name` as it is: name it in CURRENT again if that was lost, and clear what
    a killed build left beside it."""
    if not (index_dir / CURRENT).exists():
        point_current(index_dir, name)
    remove_old_versions(index_dir, keep={name})


def build_index(
    articles_dir: Path,
    index_dir: Path,
    encoder: Encoder,
    *,
    progress: Progress = no_progress,
    max_bytes: int = 5_000_000,
    ivf_threshold: int = IVF_THRESHOLD,
    full: bool = False,
    rewrite: bool = False,
    passage_vectors: PassageVectors = DEFAULT_RECIPE,
    max_shrink: float | None = MAX_SHRINK,
    embedder: Embedder | None = None,
) -> ReindexReport:
    """Index `articles_dir` into a new version of `index_dir`, reusing what has not changed.

    The served version's vector files are checked against their checksums before any vector is
    copied from them; if one does not match, every article is embedded afresh (the report says
    why). `full` embeds every article afresh even when nothing changed: the repair for damage
    `verify_version` found in a version that would otherwise be kept as it is. `rewrite` writes
    every file of a new version even when nothing changed, reusing the served version's vectors
    when they match their checksums: the repair, without embedding, for damage found in the
    FAISS index or the keyword postings. A served version that cannot be opened because of
    damage in those two files is rewritten so by any reindex.
    `passage_vectors` says how passage vectors are made (pooling.py); a served version made
    the other way has every passage vector made again.

    A build that would leave no article of the served version's, or fewer than `1 - max_shrink`
    of them, raises ShrinkRefused (None allows any): an empty folder is more often an unmounted
    share than a choice, and the vectors of the version it would replace took long to make.
    `embedder` embeds what must be (default: `encoder` in this process; ray_embedding.py runs
    it on a cluster); `encoder` still names the model and embeds nothing else.

    Raises ReindexInProgress when another build holds the lock, StorageError when a folder
    is not one or the index cannot be written (read-only, disk full), naming the path and the
    cause; any failure leaves the served version untouched.
    """
    for folder, setting in (
        (articles_dir, "CITEBOT_ARTICLES_DIR"),
        (index_dir, "CITEBOT_INDEX_DIR"),
    ):
        if folder.exists() and not folder.is_dir():
            raise StorageError(
                f"{folder} is a file, not a folder; set {setting} (or the command-line flag) to "
                "a folder."
            )
    try:
        with reindex_lock(index_dir):
            return _build_locked(
                articles_dir,
                index_dir,
                encoder,
                progress,
                max_bytes,
                ivf_threshold,
                full,
                rewrite,
                passage_vectors,
                max_shrink,
                embedder or local_embedder(encoder),
            )
    except OSError as exc:
        where = exc.filename or index_dir
        raise StorageError(
            f"Cannot write the index in {index_dir}: {where}: {exc.strerror or exc}. The served "
            "version is unchanged."
        ) from exc
    except sqlite3.OperationalError as exc:  # "database or disk is full", among others
        raise StorageError(
            f"Cannot write the index in {index_dir}: {exc}. The served version is unchanged."
        ) from exc


def _check_shrink(articles_dir: Path, before: int, after: int, max_shrink: float | None) -> None:
    """Raise ShrinkRefused when going from `before` articles to `after` drops too many."""
    if max_shrink is None or before == 0 or after >= before:
        return
    dropped = (before - after) / before
    if after > 0 and dropped <= max_shrink:
        return
    raise ShrinkRefused(
        f"The articles folder {articles_dir} holds {after} articles where the served index has "
        f"{before}: this reindex would drop {dropped:.0%} of them, over the limit of "
        f"{max_shrink:.0%} (CITEBOT_MAX_SHRINK). Nothing was changed. If the folder is "
        "unmounted or moved, bring it back; if the articles were removed on purpose, reindex "
        "with `citebot index --allow-shrink` (or /reindex allow_shrink:True)."
    )


def _build_locked(
    articles_dir: Path,
    index_dir: Path,
    encoder: Encoder,
    progress: Progress,
    max_bytes: int,
    ivf_threshold: int,
    full: bool,
    rewrite: bool,
    recipe: PassageVectors,
    max_shrink: float | None,
    embed: Embedder,
) -> ReindexReport:
    if not articles_dir.is_dir():
        raise IndexUnavailable(
            f"The articles folder {articles_dir} does not exist; set CITEBOT_ARTICLES_DIR."
        )
    remove_stale_builds(index_dir)
    # Taken before reading, so a file changed while we read changes the next fingerprint.
    folder = folder_fingerprint(articles_dir, max_bytes, now=time.time())
    untouched = None if full or rewrite else _untouched(index_dir, encoder, folder, recipe)
    if untouched is not None:
        return untouched
    progress("reading", 0, 1)
    loaded = load_articles(articles_dir, max_bytes=max_bytes)
    progress("reading", 1, 1)
    articles = sorted(loaded.articles, key=lambda a: a.id)
    old, afresh, rewrite_why = open_served(index_dir, encoder)
    if rewrite and rewrite_why is None:
        rewrite_why = ASKED
    try:
        try:
            added, changed, removed, unchanged, pending = _plan(
                articles, old, recipe, rewrite=rewrite_why is not None
            )
        except sqlite3.DatabaseError as exc:
            if old is None:
                raise
            # Damage deep in the served version passes its checks at open: build it all anew.
            old.close()
            old = None
            afresh = f"{AFRESH}: the served version's database is damaged ({exc})."
            added, changed, removed, unchanged, pending = _plan(articles, None, recipe)
        _check_shrink(
            articles_dir, unchanged + len(changed) + len(removed), len(articles), max_shrink
        )
        if old is not None and full:
            afresh = f"{AFRESH}, as a full rebuild was asked for."
        elif (
            old is not None
            and pending is not None
            and pending.to_embed() < len(pending.passages) + len(pending.sentences)
        ):
            # Copied vectors would carry damage into every later version: check them first.
            progress("checking", 0, 1)
            afresh = damaged_vectors(old)
            progress("checking", 1, 1)
        if old is None or afresh is not None:
            rewrite_why = None  # nothing is reused: the report says why, if anything was served
        if old is not None and afresh is not None:
            # What changed is still told against the served version; its rows are not reused.
            old.close()
            old = None
            pending = _plan(articles, None, recipe).pending
        if pending is None:
            assert old is not None
            # Nothing to build; still clear what a killed build left beside the served version.
            _keep(index_dir, old.name)
            return ReindexReport(added, changed, removed, unchanged, loaded.skipped, 0, old.stats())

        rewritten = reuse_note(rewrite_why, old.manifest.passage_vectors if old else None, recipe)
        titles = {a.id: a.title for a in articles}
        new_passages = np.flatnonzero(np.asarray(pending.passage_source, dtype=np.int64) == EMBED)
        new_titles = titles_to_embed(pending, titles, new_passages) if recipe == "pooled" else {}
        total = pending.sentence_source.count(EMBED) + (
            len(new_titles) if recipe == "pooled" else len(new_passages)
        )
        done = 0

        def step(n: int) -> None:
            nonlocal done
            done += n
            progress("embedding", done, total)

        progress("embedding", 0, total)
        sentence_vectors, _ = copied_or_embedded(
            pending.sentence_source,
            pending.sentence_texts,
            old.sentence_vectors if old else None,
            encoder.dimension,
            embed,
            step,
        )
        old_passages = old.passage_vectors if old else None
        if recipe == "pooled":
            passage_vectors, embedded = pooled_vectors(
                pending,
                titles,
                new_titles,
                sentence_vectors,
                old_passages,
                encoder.dimension,
                embed,
                step,
            )
        else:
            passage_vectors, embedded = copied_or_embedded(
                pending.passage_source,
                [
                    embedding_text(titles[p.article_id], t)
                    for p, t in zip(pending.passages, pending.passage_texts, strict=True)
                ],
                old_passages,
                encoder.dimension,
                embed,
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
        passage_recipe=recipe,
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
    return ReindexReport(
        added,
        changed,
        removed,
        unchanged,
        loaded.skipped,
        embedded,
        report_stats,
        afresh,
        rewritten,
    )
