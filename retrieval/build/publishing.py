"""Writing a new version of the index and publishing it; clearing what builds leave behind.

    publish_version(index_dir, name, articles, rows, passage_vectors, sentence_vectors, model=...)

writes `building-NAME/` (SQLite with its keyword index, the vector files, the approximate dense
index of a large index, and the manifest last), moves it to `versions/NAME`, and only then points
CURRENT at it. A crash at any step leaves the previous complete version served (see
index/version.py); the
files a crash leaves behind are removed by the next build, which holds the reindex lock.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from retrieval.build.rows import Rows
from retrieval.index import dense
from retrieval.index.checksums import HashingWriter, file_digest
from retrieval.index.dense import IVF_THRESHOLD
from retrieval.index.store import Store
from retrieval.index.version import (
    CURRENT,
    DATABASE,
    FORMAT,
    KEYWORD_POSTINGS,
    MANIFEST,
    PASSAGE_ANN,
    PASSAGE_VECTORS,
    SENTENCE_VECTORS,
    VERSIONS,
    Manifest,
    fsync_path,
    point_current,
)
from retrieval.types import Article, PassageVectors, Skipped, Vectors

# Store meta keys: the articles folder's fingerprint (ingest/fingerprint.py), the files skipped.
FINGERPRINT = "articles_fingerprint"
SKIPPED = "skipped"
BUILDING = "building-"


def publish_version(
    index_dir: Path,
    name: str,
    articles: list[Article],
    rows: Rows,
    passage_vectors: Vectors,
    sentence_vectors: Vectors,
    *,
    model: str,
    passage_recipe: PassageVectors,
    ivf_threshold: int = IVF_THRESHOLD,
    fingerprint: str | None = None,
    skipped: tuple[Skipped, ...] = (),
) -> Manifest:
    """Write a version named `name` and serve it: built in `building-NAME/`, moved into
    `versions/`, then named by CURRENT. On any failure the partial folder is removed and the
    served version stays; call it holding `reindex.reindex_lock` if another build may run.

    `passage_vectors` and `sentence_vectors` hold one row per passage and sentence of `rows`;
    the manifest records `model`, their dimension and how the passage vectors were made
    (`passage_recipe`, see pooling.py). `fingerprint` and `skipped` are what the
    next build compares with the articles folder and reports (see reindex.py).
    """
    dimension = int(passage_vectors.shape[1])
    for kind, vectors, count in (
        ("passage", passage_vectors, len(rows.passages)),
        ("sentence", sentence_vectors, len(rows.sentences)),
    ):
        if vectors.shape != (count, dimension):
            raise ValueError(
                f"the {kind} vectors have shape {vectors.shape}, expected {(count, dimension)}: "
                f"one row of {dimension} per {kind} in `rows`"
            )
    building = index_dir / f"{BUILDING}{name}"
    building.mkdir(parents=True)
    try:
        manifest = _write_version(
            building,
            articles,
            rows,
            passage_vectors,
            sentence_vectors,
            model,
            ivf_threshold,
            passage_recipe=passage_recipe,
            fingerprint=fingerprint,
            skipped=skipped,
        )
        versions = index_dir / VERSIONS
        versions.mkdir(exist_ok=True)
        os.replace(building, versions / name)
        fsync_path(versions)
        point_current(index_dir, name)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return manifest


def _write_version(
    folder: Path,
    articles: list[Article],
    rows: Rows,
    passage_vectors: Vectors,
    sentence_vectors: Vectors,
    model: str,
    ivf_threshold: int,
    *,
    passage_recipe: PassageVectors,
    fingerprint: str | None,
    skipped: tuple[Skipped, ...],
) -> Manifest:
    store = Store.create(folder / DATABASE)
    try:
        with store.transaction():
            by_article_p: dict[str, list[int]] = {}
            for p in rows.passages:
                by_article_p.setdefault(p.article_id, []).append(p.id)
            by_article_s: dict[str, list[int]] = {}
            for s in rows.sentences:
                by_article_s.setdefault(s.article_id, []).append(s.id)
            for article in articles:
                store.add_article(article)
                s_ids = by_article_s.get(article.id, [])
                store.add_sentences(
                    [rows.sentences[i] for i in s_ids],
                    [rows.sentence_texts[i] for i in s_ids],
                )
                p_ids = by_article_p.get(article.id, [])
                store.add_passages(
                    [rows.passages[i] for i in p_ids],
                    article.title,
                    [rows.passage_texts[i] for i in p_ids],
                )
            store.write_keyword_index()
            # What the next build compares with the folder, and reports as skipped.
            store.set_meta(
                {
                    FINGERPRINT: fingerprint or "",
                    SKIPPED: json.dumps([[k.path, k.reason] for k in skipped]),
                }
            )
    finally:
        store.close()
    fsync_path(folder / DATABASE)
    kind = dense.kind_for(len(rows.passages), ivf_threshold)
    # Digests of the bytes written, so damage later is found by `citebot verify`, and before
    # a reindex reuses these vectors. SQLite and FTS5 write the database themselves and the
    # postings were written in pieces: both were just written, so they are read back from the
    # page cache.
    checksums = {
        DATABASE: file_digest(folder / DATABASE),
        KEYWORD_POSTINGS: file_digest(folder / KEYWORD_POSTINGS),
        PASSAGE_VECTORS: _save_npy(folder / PASSAGE_VECTORS, passage_vectors),
        SENTENCE_VECTORS: _save_npy(folder / SENTENCE_VECTORS, sentence_vectors),
    }
    if kind != dense.EXACT:
        dense.build(passage_vectors, ivf_threshold=ivf_threshold).save(folder / PASSAGE_ANN)
        fsync_path(folder / PASSAGE_ANN)
        # The backend writes the file itself; it was just written, so it is read from the page
        # cache.
        checksums[PASSAGE_ANN] = file_digest(folder / PASSAGE_ANN)
    manifest = Manifest(
        format=FORMAT,
        model=model,
        dimension=int(passage_vectors.shape[1]),
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        articles=len(articles),
        passages=len(rows.passages),
        sentences=len(rows.sentences),
        dense=kind,
        checksums=checksums,
        passage_vectors=passage_recipe,
    )
    # The manifest is written last: a version without one is never served.
    manifest_tmp = folder / (MANIFEST + ".tmp")
    with open(manifest_tmp, "w", encoding="utf-8") as handle:
        handle.write(manifest.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(manifest_tmp, folder / MANIFEST)
    fsync_path(folder)
    return manifest


def _save_npy(path: Path, array: Vectors) -> str:
    """Write `array` as a durable `.npy` file; returns the digest of the bytes written."""
    with open(path, "wb") as handle:
        writer = HashingWriter(handle)
        np.save(writer, array, allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())
    return writer.digest()


def remove_stale_builds(index_dir: Path) -> None:
    """Remove builds left by a crashed process: safe only while holding the reindex lock."""
    for folder in index_dir.glob(BUILDING + "*"):
        shutil.rmtree(folder, ignore_errors=True)


def remove_old_versions(index_dir: Path, keep: set[str], grace_s: float = 0.0) -> None:
    """Remove every version but those in `keep`, and a CURRENT.tmp a crash left."""
    # Readers in this process swap to the new version after the build; other processes may still
    # read the old files, which POSIX keeps alive while they are open.
    with suppress(FileNotFoundError):
        for folder in (index_dir / VERSIONS).iterdir():
            if folder.name not in keep and time.time() - folder.stat().st_mtime >= grace_s:
                shutil.rmtree(folder, ignore_errors=True)
    with suppress(FileNotFoundError):
        (index_dir / (CURRENT + ".tmp")).unlink()
