"""Publishing a version: written beside the served one, moved into versions/, named by CURRENT;
on failure nothing changes. (Kills at each step are in test_crash.py; large versions with their
FAISS file in test_reliability.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import retrieval.publishing as publishing
from retrieval import Engine
from retrieval.encoder import FakeEncoder, Vectors
from retrieval.index import CURRENT, VERSIONS, current_version
from retrieval.loading import load_articles
from retrieval.publishing import publish_version, remove_old_versions, remove_stale_builds
from retrieval.rows import Rows
from retrieval.types import Article, Skipped


def laid_out(corpus: Path) -> tuple[list[Article], Rows, Vectors, Vectors]:
    articles = sorted(load_articles(corpus).articles, key=lambda a: a.id)
    rows = Rows()
    for article in articles:
        rows.add(article, None)
    encoder = FakeEncoder()
    passages = encoder.encode_documents(rows.passage_texts)
    return articles, rows, passages, encoder.encode_documents(rows.sentence_texts)


def test_a_published_version_is_served(corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    articles, rows, passages, sentences = laid_out(corpus)
    skipped = (Skipped("bad.txt", "The article is empty."),)
    manifest = publish_version(
        index,
        "v1",
        articles,
        rows,
        passages,
        sentences,
        model="fake",
        passage_recipe="embedded",
        skipped=skipped,
    )
    assert current_version(index) == index / VERSIONS / "v1"
    assert (manifest.model, manifest.dimension, manifest.dense) == ("fake", 256, "flat")
    assert (manifest.articles, manifest.passages) == (3, len(rows.passages))
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
    articles, rows, passages, sentences = laid_out(corpus)
    publish_version(
        index, "v1", articles, rows, passages, sentences, model="fake", passage_recipe="embedded"
    )

    def disk_full(path: Path, array: Vectors) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(publishing, "_save_npy", disk_full)
    with pytest.raises(OSError, match="No space left"):
        publish_version(
            index,
            "v2",
            articles,
            rows,
            passages,
            sentences,
            model="fake",
            passage_recipe="embedded",
        )
    assert current_version(index).name == "v1"
    assert sorted(p.name for p in index.iterdir()) == [CURRENT, VERSIONS]
    assert [p.name for p in (index / VERSIONS).iterdir()] == ["v1"]


def test_vectors_that_do_not_match_the_rows_are_refused(corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    articles, rows, passages, sentences = laid_out(corpus)
    with pytest.raises(ValueError, match=r"sentence vectors have shape \(\d+, 256\), expected"):
        publish_version(
            index,
            "v1",
            articles,
            rows,
            passages,
            sentences[1:],
            model="fake",
            passage_recipe="embedded",
        )
    with pytest.raises(ValueError, match="passage vectors"):
        publish_version(
            index,
            "v1",
            articles,
            rows,
            np.vstack([passages, passages]),
            sentences,
            model="x",
            passage_recipe="embedded",
        )
    assert not index.exists()  # refused before anything was written


def test_what_a_crash_leaves_is_cleared(corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    articles, rows, passages, sentences = laid_out(corpus)
    for name in ("v1", "v2"):
        publish_version(
            index,
            name,
            articles,
            rows,
            passages,
            sentences,
            model="fake",
            passage_recipe="embedded",
        )
    (index / "building-v3").mkdir()
    (index / (CURRENT + ".tmp")).write_text("v3\n", encoding="utf-8")
    remove_stale_builds(index)
    remove_old_versions(index, keep={"v2"})
    assert sorted(p.name for p in index.iterdir()) == [CURRENT, VERSIONS]
    assert [p.name for p in (index / VERSIONS).iterdir()] == ["v2"]
    assert current_version(index).name == "v2"
