"""Publishing a version: written beside the served one, moved into versions/, named by CURRENT;
on failure nothing changes. (Kills at each step are in test_crash.py; large versions with their
FAISS file in test_reliability.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest

import retrieval.build.publishing as publishing
from retrieval import Engine
from retrieval.build.publishing import publish_version, remove_old_versions, remove_stale_builds
from retrieval.build.rows import Rows
from retrieval.encode.fake import FakeEncoder
from retrieval.index.version import CURRENT, VERSIONS, Manifest, current_version
from retrieval.ingest.loading import load_articles
from retrieval.types import Article, Skipped, Vectors


class LaidOut(NamedTuple):
    articles: list[Article]
    rows: Rows
    passages: Vectors
    sentences: Vectors


def laid_out(corpus: Path) -> LaidOut:
    articles = sorted(load_articles(corpus).articles, key=lambda a: a.id)
    rows = Rows()
    for article in articles:
        rows.add(article, None)
    encoder = FakeEncoder()
    passages = encoder.encode_documents(rows.passage_texts)
    return LaidOut(articles, rows, passages, encoder.encode_documents(rows.sentence_texts))


def publish(index: Path, name: str, laid: LaidOut, **options: Any) -> Manifest:
    """`publish_version` of the laid-out corpus, with the fake model's name unless told."""
    options = {"model": "fake", "passage_recipe": "embedded", **options}
    return publish_version(index, name, *laid, **options)


def test_a_published_version_is_served(corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    laid = laid_out(corpus)
    skipped = (Skipped("bad.txt", "The article is empty."),)
    manifest = publish(index, "v1", laid, skipped=skipped)
    assert current_version(index) == index / VERSIONS / "v1"
    assert (manifest.model, manifest.dimension, manifest.dense) == ("fake", 256, "flat")
    assert (manifest.articles, manifest.passages) == (3, len(laid.rows.passages))
    assert sorted(p.name for p in index.iterdir()) == [CURRENT, VERSIONS]  # no building-*
    engine = Engine(index, corpus, FakeEncoder())
    try:
        assert engine.load(), engine.unavailable_reason
        answer = engine.ask("How many workers will the chipmaker hire?")
        assert answer.citation is not None and answer.citation.source.article_id == "chips-1"
    finally:
        engine.close()


def test_a_failed_write_leaves_the_served_version_and_no_debris(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    laid = laid_out(corpus)
    publish(index, "v1", laid)

    def disk_full(path: Path, array: Vectors) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(publishing, "_save_npy", disk_full)
    with pytest.raises(OSError, match="No space left"):
        publish(index, "v2", laid)
    assert current_version(index).name == "v1"
    assert sorted(p.name for p in index.iterdir()) == [CURRENT, VERSIONS]
    assert [p.name for p in (index / VERSIONS).iterdir()] == ["v1"]


def test_vectors_that_do_not_match_the_rows_are_refused(corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    laid = laid_out(corpus)
    with pytest.raises(ValueError, match=r"sentence vectors have shape \(\d+, 256\), expected"):
        publish(index, "v1", laid._replace(sentences=laid.sentences[1:]))
    with pytest.raises(ValueError, match="passage vectors"):
        publish(index, "v1", laid._replace(passages=np.vstack([laid.passages] * 2)), model="x")
    assert not index.exists()  # refused before anything was written


def test_what_a_crash_leaves_is_cleared(corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    laid = laid_out(corpus)
    for name in ("v1", "v2"):
        publish(index, name, laid)
    (index / "building-v3").mkdir()
    (index / (CURRENT + ".tmp")).write_text("v3\n", encoding="utf-8")
    remove_stale_builds(index)
    remove_old_versions(index, keep={"v2"})
    assert sorted(p.name for p in index.iterdir()) == [CURRENT, VERSIONS]
    assert [p.name for p in (index / VERSIONS).iterdir()] == ["v2"]
    assert current_version(index).name == "v2"
