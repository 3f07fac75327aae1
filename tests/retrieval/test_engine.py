"""The engine end to end on tiny corpora with the deterministic fake encoder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval import Engine, IndexUnavailable, InvalidQuestion, ModelMismatch, ReindexInProgress
from retrieval.build.reindex import build_index, reindex_lock
from retrieval.encode.fake import FakeEncoder
from retrieval.index.version import MANIFEST, current_version
from tests.conftest import CORPUS, CountingEncoder

WORDS = sorted(
    {
        w.strip(".,'?")
        for text in CORPUS.values()
        for w in text.split()
        if any(c.isalnum() for c in w)
    }
)


def test_answer_quotes_the_article_verbatim(fake_engine: Engine) -> None:
    answer = fake_engine.ask("How many workers will the chipmaker hire?")
    assert answer.citation is not None
    c = answer.citation
    assert c.source.article_id == "chips-1"
    assert c.snippet == "The chipmaker expects to hire 3,000 workers by 2027."
    article = fake_engine.sources()
    assert [s.article_id for s in article] == ["chips-1", "rain.md", "lee.txt"]


def test_a_sentence_leaning_on_the_one_before_is_quoted_with_it(fake_engine: Engine) -> None:
    answer = fake_engine.ask("Which phone did Lee use to take selfies with Xi?")
    assert answer.citation is not None
    assert answer.citation.snippet == (
        "Lee is reportedly planning to visit Japan later this month to meet Prime Minister "
        "Sanae Takaichi.\nHe also took selfies with Xi using a Xiaomi phone."
    )


def test_markdown_metadata_travels_with_the_citation(fake_engine: Engine) -> None:
    answer = fake_engine.ask("How many people did emergency services rescue from flooded cars?")
    assert answer.citation is not None
    source = answer.citation.source
    assert (source.title, source.url, source.published) == (
        "Floods in Valencia",
        "https://example.org/valencia",
        "2024-10-30",
    )


def test_unrelated_question_abstains_with_nearest_articles(fake_engine: Engine) -> None:
    answer = fake_engine.ask("Quantum entanglement spectroscopy bandwidth?")
    assert answer.abstained
    assert answer.citation is None


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=8))
def test_every_citation_keeps_the_offsets_contract(fake_engine: Engine, words: list[str]) -> None:
    question = " ".join(words) + "?"
    for mode in ("hybrid", "dense", "bm25"):
        answer = fake_engine.ask(question, mode=mode)  # type: ignore[arg-type]
        if answer.citation is None:
            continue
        c = answer.citation
        text = {a.id: a for a in _articles(fake_engine)}[c.source.article_id].text
        assert text[c.start : c.end] == c.snippet
        assert c.snippet.strip() == c.snippet and c.snippet


def _articles(engine: Engine) -> list:  # type: ignore[type-arg]
    with engine._reading() as version:
        return version.store.articles()


@pytest.mark.parametrize("question", ["", "   ", "?!…", "🙂🙂", "\u200b\u200b", "\x00\x07"])
def test_questions_without_words_are_refused_clearly(fake_engine: Engine, question: str) -> None:
    with pytest.raises(InvalidQuestion, match="Ask a question in words"):
        fake_engine.ask(question)


def test_reindex_embeds_only_what_changed_and_forgets_what_was_removed(
    corpus: Path, tmp_path: Path, fake_encoder: CountingEncoder
) -> None:
    engine = Engine(tmp_path / "index", corpus, fake_encoder)
    first = engine.reindex()
    assert first.added == ("chips-1", "lee.txt", "rain.md")

    fake_encoder.texts.clear()
    same = engine.reindex()
    assert (same.added, same.changed, same.removed, same.unchanged) == ((), (), (), 3)
    assert fake_encoder.texts == []

    (corpus / "new.txt").write_text("Volcano erupts\nThe volcano erupted near Catania.")
    (corpus / "rain.md").write_text(CORPUS["rain.md"].replace("200 people", "350 people"))
    (corpus / "lee.txt").unlink()
    fake_encoder.texts.clear()
    report = engine.reindex()
    assert (report.added, report.changed, report.removed, report.unchanged) == (
        ("new.txt",),
        ("rain.md",),
        ("lee.txt",),
        1,
    )
    embedded = " ".join(fake_encoder.texts)
    assert "Catania" in embedded and "350 people" in embedded
    assert "chipmaker" not in embedded and "Xiaomi" not in embedded

    for mode in ("dense", "bm25", "hybrid"):
        found = engine.search("Lee Xiaomi phone selfies Xi Japan", mode=mode, k=20)  # type: ignore[arg-type]
        assert all(h.article_id != "lee.txt" for h in found), mode
        answer = engine.ask("Lee Xiaomi phone selfies", mode=mode)  # type: ignore[arg-type]
        assert "lee.txt" not in answer.ranked_article_ids
    changed = engine.ask("How many people were rescued from flooded cars?")
    assert changed.citation is not None and "350 people" in changed.citation.snippet
    engine.close()


def test_an_index_of_an_older_format_is_refused_with_reindex_and_a_reindex_rebuilds_it(
    corpus: Path, tmp_path: Path, fake_encoder: CountingEncoder
) -> None:
    engine = Engine(tmp_path / "index", corpus, fake_encoder)
    engine.reindex()
    question = "How many workers will the chipmaker hire?"
    expected = engine.ask(question)
    engine.close()
    # A version written by citebot 0.1's first format: no checksums of its SQLite file.
    manifest = current_version(tmp_path / "index") / MANIFEST
    data = json.loads(manifest.read_text())
    data["format"] = 1
    data["checksums"] = {k: v for k, v in data["checksums"].items() if k.endswith(".npy")}
    manifest.write_text(json.dumps(data))

    engine = Engine(tmp_path / "index", corpus, fake_encoder)
    assert not engine.load()
    reason = engine.unavailable_reason or ""
    assert "has format 1" in reason and "reads format 2" in reason
    assert "Reindex to rebuild it" in reason
    fake_encoder.texts.clear()
    report = engine.reindex()  # nothing changed in the folder, but nothing can be reused
    assert fake_encoder.texts != []
    assert report.full_rebuild is not None and "has format 1" in report.full_rebuild
    assert engine.ask(question) == expected
    engine.close()


def test_a_bad_file_is_skipped_and_reported_never_stopping_the_build(
    corpus: Path, tmp_path: Path, fake_encoder: CountingEncoder
) -> None:
    (corpus / "broken.bin.txt").write_bytes(b"\x00\x01\x02binary\x00")
    (corpus / "empty.txt").write_text("   \n")
    engine = Engine(tmp_path / "index", corpus, fake_encoder)
    report = engine.reindex()
    assert report.stats.articles == 3
    assert {s.path for s in report.skipped} == {"broken.bin.txt", "empty.txt"}
    assert all(s.reason for s in report.skipped)
    engine.close()


class ExplodingEncoder(CountingEncoder):
    def encode_documents(self, texts):  # type: ignore[no-untyped-def]
        if any("Catania" in t for t in texts):
            raise RuntimeError("encoder died mid-build")
        return super().encode_documents(texts)


def test_failed_reindex_leaves_the_previous_index_serving(corpus: Path, tmp_path: Path) -> None:
    engine = Engine(tmp_path / "index", corpus, ExplodingEncoder(FakeEncoder()))
    first = engine.reindex()
    served = current_version(tmp_path / "index")
    (corpus / "new.txt").write_text("Volcano erupts\nThe volcano erupted near Catania.")
    with pytest.raises(RuntimeError, match="mid-build"):
        engine.reindex()
    assert current_version(tmp_path / "index") == served
    assert engine.stats() == first.stats
    assert not list((tmp_path / "index").glob("building-*"))
    fresh = Engine(tmp_path / "index", corpus, FakeEncoder())
    assert fresh.load() and fresh.stats().articles == 3
    answer = fresh.ask("How many workers will the chipmaker hire?")
    assert answer.citation is not None
    fresh.close()
    engine.close()


def test_an_index_built_with_another_model_is_refused(corpus: Path, tmp_path: Path) -> None:
    build_index(corpus, tmp_path / "index", FakeEncoder(dimension=256))
    other = Engine(tmp_path / "index", corpus, FakeEncoder(dimension=128))
    assert not other.load()
    assert other.unavailable_reason is not None and "reindex" in other.unavailable_reason
    with pytest.raises(ModelMismatch):
        from retrieval.index.version import IndexVersion

        IndexVersion.open(current_version(tmp_path / "index"), model="fake", dimension=128)
    with pytest.raises(IndexUnavailable, match="reindex"):
        other.ask("anything at all")


def test_one_reindex_at_a_time(corpus: Path, tmp_path: Path) -> None:
    with reindex_lock(tmp_path / "index"), pytest.raises(ReindexInProgress):
        build_index(corpus, tmp_path / "index", FakeEncoder())


def test_no_index_yet_says_how_to_build_one(corpus: Path, tmp_path: Path) -> None:
    engine = Engine(tmp_path / "index", corpus, FakeEncoder())
    assert not engine.load()
    assert "citebot index" in (engine.unavailable_reason or "")


def test_serving_questions_never_imports_trafilatura(fake_engine: Engine, tmp_path: Path) -> None:
    web = tmp_path / "web"
    web.mkdir()
    (web / "page.html").write_text(
        "<html><body><article><p>The council approved the new bridge on Tuesday after a long "
        "debate that lasted nearly three years.</p></article></body></html>",
        encoding="utf-8",
    )
    code = f"""
import sys
from pathlib import Path
from retrieval import Engine
from retrieval.encode.fake import FakeEncoder
from retrieval.ingest.loading import load_articles

engine = Engine(Path({str(fake_engine.index_dir)!r}), Path({str(fake_engine.articles_dir)!r}),
                FakeEncoder())
assert engine.load(), engine.unavailable_reason
answer = engine.ask("How many workers will the chipmaker hire?")
assert answer.citation is not None, answer
engine.search("Lee Japan")
engine.sources()
engine.stats()
engine.close()
loaded = [m for m in sys.modules if m.split(".")[0] == "trafilatura"]
assert not loaded, loaded
# Reading HTML is what loads it, so the check above can see it.
assert load_articles(Path({str(web)!r})).articles
assert "trafilatura" in sys.modules
"""
    subprocess.run([sys.executable, "-c", code], check=True)
