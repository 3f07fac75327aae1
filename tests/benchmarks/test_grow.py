"""A grown index is a complete version, published the way a build publishes one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.corpus import Record, Recorder, write_jsonl
from benchmarks.grow import write_grown_index
from retrieval import Engine
from retrieval.build.reindex import build_index
from retrieval.encode.fake import FakeEncoder
from retrieval.index.version import CURRENT, PASSAGE_VECTORS, VERSIONS, current_version
from retrieval.types import RECIPES, PassageVectors

ORIGINALS = [
    Record(
        "bridge",
        "Council approves bridge",
        None,
        "2024-03-05",
        "The council approved a pedestrian bridge across the canal. It will cost 4.2 million "
        "dollars. Construction starts in spring.",
    ),
    Record(
        "floods",
        "Floods in Valencia",
        "https://example.org/valencia",
        None,
        "Heavy rain flooded streets across Valencia. Emergency services rescued hundreds of "
        "people from stranded cars.",
    ),
]


def test_a_grown_index_is_served_with_every_copy(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    write_jsonl(articles / "originals.jsonl", iter(ORIGINALS))
    recorder = Recorder(FakeEncoder())  # the benchmarks record real embeddings the same way
    build_index(articles, tmp_path / "real-index", recorder)
    index = tmp_path / "grown"
    manifest = write_grown_index(index, ORIGINALS, 12, recorder.table, model=recorder.name)
    assert manifest.passages >= 12
    assert sorted(p.name for p in index.iterdir()) == [CURRENT, VERSIONS]
    engine = Engine(index, articles, FakeEncoder())
    try:
        assert engine.load(), engine.unavailable_reason
        stats = engine.stats()
        ids = {source.article_id for source in engine.sources()}
        answer = engine.ask("How much will the pedestrian bridge cost?")
    finally:
        engine.close()
    assert (stats.articles, stats.passages) == (manifest.articles, manifest.passages)
    assert len(ids) == manifest.articles and {"bridge", "floods", "bridge~1", "floods~1"} <= ids
    assert answer.citation is not None
    assert answer.citation.source.article_id.split("~")[0] == "bridge"


@pytest.mark.parametrize("recipe", RECIPES)
def test_the_originals_passage_vectors_are_the_builders(
    tmp_path: Path, recipe: PassageVectors
) -> None:
    articles = tmp_path / "articles"
    write_jsonl(articles / "originals.jsonl", iter(ORIGINALS))
    recorder = Recorder(FakeEncoder())
    build_index(articles, tmp_path / "real-index", recorder, passage_vectors=recipe)
    grown = write_grown_index(
        tmp_path / "grown",
        ORIGINALS,
        12,
        recorder.table,
        model=recorder.name,
        passage_recipe=recipe,
    )
    assert grown.passage_vectors == recipe
    built = np.load(current_version(tmp_path / "real-index") / PASSAGE_VECTORS)
    copied = np.load(current_version(tmp_path / "grown") / PASSAGE_VECTORS)
    np.testing.assert_allclose(copied[: len(built)], built, atol=1e-6)
