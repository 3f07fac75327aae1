"""Passage vectors pooled from sentence and title vectors, or embedded whole: what each build
embeds, what it writes, and that a reindex never mixes the two."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from retrieval import Engine, IndexUnavailable
from retrieval.build.pooling import embedding_text, has_own_title, pool
from retrieval.build.reindex import build_index
from retrieval.encode.fake import FakeEncoder
from retrieval.index.version import MANIFEST, IndexVersion, Manifest, current_version
from retrieval.types import Vectors
from tests.conftest import CountingEncoder, write_corpus


def test_pool_sums_each_window_and_its_title_then_normalises() -> None:
    sentences = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], dtype=np.float32)
    titles = np.array([[0, 0, 2]], dtype=np.float32)
    out = pool(
        sentences,
        np.array([0, 1, 3], dtype=np.int64),
        np.array([1, 3, 3], dtype=np.int64),
        titles,
        np.array([0, -1, -1], dtype=np.int64),
    )
    expected = np.array([[1, 1, 2], [1, 2, 1], [1, 1, 0]], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_pool_leaves_a_zero_sum_zero() -> None:
    out = pool(
        np.zeros((2, 4), dtype=np.float32),
        np.array([0], dtype=np.int64),
        np.array([1], dtype=np.int64),
        np.zeros((0, 4), dtype=np.float32),
        np.array([-1], dtype=np.int64),
    )
    assert out.shape == (1, 4) and not out.any() and np.isfinite(out).all()


def test_a_passage_that_starts_with_its_title_is_not_given_it_again() -> None:
    assert not has_own_title("Lee visits China", "Lee visits China\nLee met Xi.")
    assert not has_own_title("", "Lee met Xi.")
    assert has_own_title("Lee visits China", "Lee met Xi.")
    assert embedding_text("Lee visits China", "Lee met Xi.") == "Lee visits China\nLee met Xi."
    assert embedding_text("", "Lee met Xi.") == "Lee met Xi."


def vectors(index: Path) -> tuple[Manifest, Vectors, Vectors, list[tuple[int, int, str, str]]]:
    """The served version's manifest, passage and sentence vectors, and for each passage its
    first and last sentence, its text and its article's title."""
    folder = current_version(index)
    manifest = Manifest.read(folder / MANIFEST)
    version = IndexVersion.open(folder, model=manifest.model, dimension=manifest.dimension)
    try:
        passages = version.passage_vectors[np.arange(manifest.passages)]
        sentences = version.sentence_vectors[np.arange(manifest.sentences)]
        articles = {a.id: a for a in version.store.articles()}
        rows = version.store.passages(list(range(manifest.passages)))
        windows = [
            (
                r.first_sentence,
                r.last_sentence,
                articles[r.article_id].text[r.start : r.end],
                articles[r.article_id].title,
            )
            for r in rows.values()
        ]
    finally:
        version.close()
    return manifest, passages, sentences, windows


def expected_pooled(
    sentences: Vectors, windows: list[tuple[int, int, str, str]], encoder: FakeEncoder
) -> Vectors:
    out = []
    for first, last, text, title in windows:
        total = sentences[first : last + 1].sum(axis=0)
        if has_own_title(title, text):
            total = total + encoder.encode_documents([title])[0]
        out.append(total / np.linalg.norm(total))
    return np.stack(out)


def test_a_pooled_build_embeds_sentences_and_titles_never_a_passage(
    corpus: Path, tmp_path: Path, fake_encoder: CountingEncoder
) -> None:
    report = build_index(corpus, tmp_path / "index", fake_encoder, passage_vectors="pooled")
    manifest, passages, sentences, windows = vectors(tmp_path / "index")
    assert manifest.passage_vectors == "pooled"
    texts = {text for _, _, text, _ in windows}
    titles = {title for _, _, text, title in windows if has_own_title(title, text)}
    assert titles == {"Floods in Valencia", "Chipmaker expands"}  # lee.txt starts with its own
    assert set(fake_encoder.texts) >= titles
    assert not texts & (set(fake_encoder.texts) - titles)
    assert len(fake_encoder.texts) == manifest.sentences + len(titles)
    assert report.embedded_passages == manifest.passages
    np.testing.assert_allclose(
        passages, expected_pooled(sentences, windows, FakeEncoder()), atol=1e-6
    )


def test_an_embedded_build_embeds_each_passage_whole_with_its_title(
    corpus: Path, tmp_path: Path, fake_encoder: CountingEncoder
) -> None:
    build_index(corpus, tmp_path / "index", fake_encoder)  # the default
    manifest, passages, _, windows = vectors(tmp_path / "index")
    assert manifest.passage_vectors == "embedded"
    whole = [embedding_text(title, text) for _, _, text, title in windows]
    assert set(whole) <= set(fake_encoder.texts)
    np.testing.assert_allclose(passages, FakeEncoder().encode_documents(whole), atol=1e-6)


def test_changing_the_recipe_remakes_every_passage_vector_and_embeds_no_sentence_again(
    corpus: Path, tmp_path: Path, fake_encoder: CountingEncoder
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, fake_encoder, passage_vectors="embedded")
    _, _, first_sentences, _ = vectors(index)
    fake_encoder.texts.clear()
    report = build_index(corpus, index, fake_encoder, passage_vectors="pooled")  # nothing changed
    manifest, passages, sentences, windows = vectors(index)
    assert manifest.passage_vectors == "pooled"
    assert sorted(fake_encoder.texts) == ["Chipmaker expands", "Floods in Valencia"]
    assert report.embedded_passages == manifest.passages and report.unchanged == 3
    assert report.rewritten == (
        "Every passage vector was made anew (pooled from the sentence vectors): they are now "
        "pooled (CITEBOT_PASSAGE_VECTORS), the served version's were embedded."
    )
    np.testing.assert_array_equal(sentences, first_sentences)
    np.testing.assert_allclose(
        passages, expected_pooled(sentences, windows, FakeEncoder()), atol=1e-6
    )

    fake_encoder.texts.clear()
    report = build_index(corpus, index, fake_encoder, passage_vectors="embedded", rewrite=True)
    manifest, passages, _, windows = vectors(index)
    whole = [embedding_text(title, text) for _, _, text, title in windows]
    assert manifest.passage_vectors == "embedded" and sorted(fake_encoder.texts) == sorted(whole)
    # Asked for a rewrite, it says what it could not reuse.
    assert report.rewritten == (
        "Every file was written anew, reusing the sentence vectors, as a rewrite was asked for. "
        "Every passage vector was made anew (embedded whole): they are now embedded "
        "(CITEBOT_PASSAGE_VECTORS), the served version's were pooled."
    )


def test_an_incremental_pooled_reindex_embeds_only_the_new_articles_sentences_and_title(
    corpus: Path, tmp_path: Path, fake_encoder: CountingEncoder
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, fake_encoder, passage_vectors="pooled")
    _, before, _, _ = vectors(index)
    write_corpus(corpus, {"volcano.md": "---\ntitle: Etna erupts\n---\nAsh fell on Catania."})
    fake_encoder.texts.clear()
    report = build_index(corpus, index, fake_encoder, passage_vectors="pooled")
    assert report.added == ("volcano.md",)  # sorted last: the others keep their rows
    assert sorted(fake_encoder.texts) == ["Ash fell on Catania.", "Etna erupts"]
    _, passages, sentences, windows = vectors(index)
    np.testing.assert_array_equal(passages[: len(before)], before)  # the others are copied
    np.testing.assert_allclose(
        passages, expected_pooled(sentences, windows, FakeEncoder()), atol=1e-6
    )


def test_a_manifest_from_before_recipes_reads_as_embedded_and_a_strange_one_is_refused(
    corpus: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, FakeEncoder())
    path = current_version(index) / MANIFEST
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["passage_vectors"]
    path.write_text(json.dumps(data), encoding="utf-8")
    assert Manifest.read(path).passage_vectors == "embedded"
    data["passage_vectors"] = "averaged"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(IndexUnavailable, match="rebuild it with a reindex"):
        Manifest.read(path)


def test_pooled_vectors_answer_with_the_cited_sentence(corpus: Path, tmp_path: Path) -> None:
    engine = Engine(tmp_path / "index", corpus, FakeEncoder(), passage_vectors="pooled")
    engine.reindex()
    try:
        answer = engine.ask("How many workers will the chipmaker hire?")
        assert answer.citation is not None
        assert answer.citation.snippet == "The chipmaker expects to hire 3,000 workers by 2027."
    finally:
        engine.close()
