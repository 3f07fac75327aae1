"""HTML articles: the main text and metadata trafilatura finds (retrieval/webpage.py)."""

from __future__ import annotations

from pathlib import Path

from retrieval.ingest.loading import LoadResult, load_articles
from retrieval.types import Skipped
from tests.retrieval.ingest.test_loading import only, write

NEWS_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>Council approves new bridge | Riverside Gazette</title>
<link rel="canonical" href="https://gazette.example/news/bridge">
<meta property="og:site_name" content="Riverside Gazette">
<meta name="date" content="2024-03-05T10:00:00Z">
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>
<li><a href="/sport">Sport</a></li></ul></nav>
<article>
<h1>Council approves new bridge</h1>
<p>The city council voted on Tuesday to approve a new pedestrian bridge across the Riverside
canal, ending a debate that lasted nearly three years.</p>
<p>The bridge will cost 4.2 million dollars and is expected to open in the spring of 2026,
according to the mayor's office.</p>
<p>Residents of the east bank had long complained that the nearest crossing was more than a
mile away from the market square.</p>
</article>
<footer><p>Copyright 2024 Riverside Gazette. All rights reserved.</p>
<a href="/privacy">Privacy policy</a></footer>
</body></html>"""


def test_html_main_text_without_boilerplate(tmp_path: Path) -> None:
    write(tmp_path, "bridge.html", NEWS_HTML)
    article = only(load_articles(tmp_path))
    assert article.title == "Council approves new bridge"
    assert article.url == "https://gazette.example/news/bridge"
    assert article.published == "2024-03-05"
    assert article.source == "Riverside Gazette"
    assert "ending a debate that lasted nearly three years." in article.text
    assert "more than a\nmile away" in article.text or "more than a mile away" in article.text
    for boilerplate in ("Home", "Sport", "Privacy policy", "All rights reserved"):
        assert boilerplate not in article.text


def test_html_date_in_the_story_is_not_taken_for_the_publication_date(tmp_path: Path) -> None:
    story = "The council discussed the plans for the new bridge across the canal at length. " * 4
    write(
        tmp_path,
        "old.html",
        f"<html><head><title>Bridge</title></head><body><article><h1>Bridge</h1>"
        f"<p>The vote held on May 1, 2019 was close.</p><p>{story}</p></article></body></html>",
    )
    article = only(load_articles(tmp_path))
    assert article.text.startswith("Bridge\nThe vote held on May 1, 2019 was close.")
    assert (article.published, article.url) == (None, None)


def test_html_without_main_text_is_skipped(tmp_path: Path) -> None:
    write(
        tmp_path,
        "nav.htm",
        "<html><head><title>Nav</title></head><body><nav><ul><li><a href='/'>Home</a></li>"
        "<li><a href='/news'>News</a></li></ul></nav><footer>Copyright 2024</footer></body></html>",
    )
    result = load_articles(tmp_path)
    assert result == LoadResult((), (Skipped("nav.htm", "No main text found in HTML."),))
