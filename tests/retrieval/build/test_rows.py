"""The rows of a version being built: laid out anew, or reused from the served version."""

from __future__ import annotations

from pathlib import Path

from retrieval.build.reindex import build_index
from retrieval.build.rows import EMBED, Rows
from retrieval.encode.fake import FakeEncoder
from retrieval.index.version import IndexVersion, current_version
from retrieval.ingest.loading import load_articles
from retrieval.types import Article


def articles_of(corpus: Path) -> list[Article]:
    return sorted(load_articles(corpus).articles, key=lambda a: a.id)


def test_a_new_article_is_split_and_marked_for_embedding(corpus: Path) -> None:
    first, second = articles_of(corpus)[:2]
    rows = Rows()
    rows.add(first, None)
    before = len(rows.sentences)
    rows.add(second, None)
    assert [s.id for s in rows.sentences] == list(range(len(rows.sentences)))
    assert [p.id for p in rows.passages] == list(range(len(rows.passages)))
    texts = {first.id: first.text, second.id: second.text}
    for sentence, text in zip(rows.sentences, rows.sentence_texts, strict=True):
        assert texts[sentence.article_id][sentence.start : sentence.end] == text
    for passage, text in zip(rows.passages, rows.passage_texts, strict=True):
        assert texts[passage.article_id][passage.start : passage.end] == text
        first_s, last_s = (
            rows.sentences[passage.first_sentence],
            rows.sentences[passage.last_sentence],
        )
        # A passage's sentences are its article's, numbered after the earlier articles'.
        assert first_s.article_id == last_s.article_id == passage.article_id
        assert (first_s.start, last_s.end) == (passage.start, passage.end)
    assert rows.sentences[before].article_id == second.id and rows.sentences[before].ordinal == 0
    assert set(rows.sentence_source) == set(rows.passage_source) == {EMBED}
    assert rows.to_embed() == len(rows.sentences) + len(rows.passages)


def test_an_unchanged_article_reuses_the_served_rows(corpus: Path, tmp_path: Path) -> None:
    build_index(corpus, tmp_path / "index", FakeEncoder())
    old = IndexVersion.open(current_version(tmp_path / "index"), model="fake", dimension=256)
    try:
        articles = articles_of(corpus)
        fresh, reused = Rows(), Rows()
        for article in articles:
            fresh.add(article, None)
            reused.add(article, old)
        served = [s.id for a in articles for s in old.store.sentences_of_article(a.id)]
        served_p = [p.id for a in articles for p in old.store.passages_of_article(a.id)]
    finally:
        old.close()
    # The same rows as splitting anew, each pointing at its vector in the served version.
    assert (reused.sentences, reused.passages) == (fresh.sentences, fresh.passages)
    assert (reused.sentence_texts, reused.passage_texts) == (
        fresh.sentence_texts,
        fresh.passage_texts,
    )
    assert (reused.sentence_source, reused.passage_source) == (served, served_p)
    assert reused.to_embed() == 0
