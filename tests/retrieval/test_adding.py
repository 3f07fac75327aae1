"""Adding a file to an engine's folder and removing an article: indexed incrementally, never twice,
and undone when the build fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval import Engine
from retrieval.adding import add_incoming, already_there, remove_article
from retrieval.build import reindex as reindex_module
from retrieval.errors import AlreadyAdded, CitebotError, NotFound, StorageError
from retrieval.ingest.fetch import Fetched
from retrieval.ingest.incoming import from_page, from_upload
from tests.conftest import CountingEncoder
from tests.webpages import page

URL = "https://coastal.example/news/harbour-bridge"


def harbour() -> Fetched:
    return Fetched(URL, URL, ".html", "utf-8", page("harbour.html"))


def test_an_added_page_is_indexed_incrementally_and_cited(
    fake_engine: Engine, fake_encoder: CountingEncoder, corpus: Path
) -> None:
    fake_encoder.texts.clear()
    report = add_incoming(fake_engine, from_page(harbour()))
    [added] = report.added
    assert added.title == "Harbour bridge reopens after repairs"
    assert added.published == "2025-03-14"
    assert added.url == URL
    assert added.passages >= 1
    assert report.report.added == (added.id,)
    assert report.report.unchanged == 3  # the others were not embedded again
    # Only the new article was embedded.
    assert fake_encoder.texts
    assert not any(w in t for t in fake_encoder.texts for w in ("Lee", "chipmaker", "Valencia"))
    saved = (corpus / report.name).read_text(encoding="utf-8")
    assert saved.startswith("---\n") and f"url: {URL}" in saved
    answer = fake_engine.ask("How many cables did engineers replace on the harbour bridge?")
    assert answer.citation is not None
    assert answer.citation.source.article_id == added.id
    assert answer.citation.source.url == URL


def test_the_same_link_or_text_is_not_added_twice(fake_engine: Engine, corpus: Path) -> None:
    first = add_incoming(fake_engine, from_page(harbour()))
    files = sorted(p.name for p in (corpus / "added").iterdir())
    assert already_there(fake_engine, url=URL).startswith("Already there: “Harbour bridge")
    with pytest.raises(AlreadyAdded, match="same link"):
        add_incoming(fake_engine, from_page(harbour()))
    # The same story at another address: the same text.
    elsewhere = Fetched(
        "https://mirror.example/x",
        "https://mirror.example/x",
        ".html",
        "utf-8",
        page("harbour.html"),
    )
    with pytest.raises(AlreadyAdded, match="same text"):
        add_incoming(fake_engine, from_page(elsewhere))
    assert sorted(p.name for p in (corpus / "added").iterdir()) == files
    assert fake_engine.stats().articles == 4
    assert first.added[0].id in {s.article_id for s in fake_engine.sources()}


def test_a_failed_build_leaves_the_folder_and_the_served_index_as_they_were(
    fake_engine: Engine, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = fake_engine.stats()

    def broken(*args: object, **kwargs: object) -> None:
        raise StorageError("disk full")

    monkeypatch.setattr(reindex_module, "publish_version", broken)
    with pytest.raises(StorageError):
        add_incoming(fake_engine, from_page(harbour()))
    assert not any((corpus / "added").iterdir())
    assert fake_engine.stats() == before


def test_uploads_of_each_kind(fake_engine: Engine) -> None:
    jsonl = (
        b'{"id": "a1", "title": "Tram line opens", "text": "The new tram line opened on Monday '
        b'with twelve stops."}\nnot json\n'
    )
    report = add_incoming(fake_engine, from_upload("trams.jsonl", jsonl))
    assert [a.id for a in report.added] == ["a1"]
    assert len(report.skipped) == 1 and report.skipped[0].path.endswith(":2")
    pdf = add_incoming(fake_engine, from_upload("notice.pdf", page("library.pdf")))
    assert pdf.added[0].title == "Library extends opening hours"
    assert pdf.name.endswith(".md")
    html = add_incoming(fake_engine, from_upload("orchard.html", page("orchard.html")))
    assert html.added[0].title == "Frost damages apple orchards"
    assert html.added[0].published == "2024-04-22"
    markdown = b"---\ntitle: Ferry fares rise\nurl: https://f.example/x\n---\nFares rose by 5%."
    md = add_incoming(fake_engine, from_upload("../../ferry.md", markdown))
    assert md.name.startswith("added/ferry-") and md.added[0].url == "https://f.example/x"
    with pytest.raises(CitebotError, match="not a kind of file"):
        from_upload("photo.png", b"\x89PNG")
    with pytest.raises(CitebotError, match="empty"):
        from_upload("blank.txt", b"  \n")


def test_remove_by_id_or_link(fake_engine: Engine, corpus: Path) -> None:
    added = add_incoming(fake_engine, from_page(harbour())).added[0]
    removed = remove_article(fake_engine, URL)
    assert removed.article.id == added.id
    assert not (corpus / added.id).exists()
    assert removed.report.removed == (added.id,)
    remove_article(fake_engine, "lee.txt")
    assert not (corpus / "lee.txt").exists()
    assert {s.article_id for s in fake_engine.sources()} == {"chips-1", "rain.md"}
    with pytest.raises(NotFound, match="No indexed article"):
        remove_article(fake_engine, "lee.txt")
    with pytest.raises(CitebotError, match="one record of a file"):
        remove_article(fake_engine, "chips-1")
    assert (corpus / "chips.jsonl").exists()


def test_a_failed_build_puts_a_removed_file_back(
    fake_engine: Engine, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise StorageError("disk full")

    monkeypatch.setattr(reindex_module, "publish_version", broken)
    with pytest.raises(StorageError):
        remove_article(fake_engine, "lee.txt")
    assert (corpus / "lee.txt").exists()
    assert "lee.txt" in {s.article_id for s in fake_engine.sources()}
    assert not any((corpus / ".removed").iterdir())
