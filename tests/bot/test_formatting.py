"""What the bot shows, tested as plain functions: no Discord, no network."""

from __future__ import annotations

import logging

import discord
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.embeds import limit_violations
from bot.formatting import answer_embed, progress_text, report_reply, sources_reply, status_reply
from bot.replies import GENERIC, REINDEX_RUNNING, cooling_down, error_reply
from bot.text import CONTENT_MAX, content, safe, safe_url, truncate
from retrieval import (
    Answer,
    Citation,
    CitebotError,
    IndexStats,
    IndexUnavailable,
    InvalidQuestion,
    ModelMismatch,
    ReindexInProgress,
    ReindexReport,
    Skipped,
    Source,
)

LEE = (
    "Lee is reportedly planning to visit Japan later this month to meet Prime Minister "
    "Sanae Takaichi."
)
STATS = IndexStats(3, 7, "fake", 256, "2026-01-05T10:00:00+00:00", "v1")


def source(n: int = 0, *, url: str | None = None, published: str | None = None) -> Source:
    return Source(f"a{n}", f"Article {n}", f"a{n}.txt", url=url, published=published)


def cited(
    snippet: str = LEE,
    *,
    src: Source | None = None,
    further: tuple[Source, ...] = (),
    resolved: str | None = None,
    question: str = "When is Lee visiting Japan?",
) -> Answer:
    s = src or source(url="https://example.org/lee", published="2026-01-05")
    return Answer(question, Citation(s, snippet, 0, len(snippet), 0.8, resolved), further)


def test_answer_quotes_the_snippet_and_links_the_article() -> None:
    answer = cited(resolved="January 2026", further=tuple(source(n) for n in range(1, 6)))
    embed = answer_embed(answer)
    assert embed.title == "Article 0"
    assert embed.url == "https://example.org/lee"
    assert embed.description == f"> {LEE}"
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Published"] == "2026-01-05"
    assert fields["Time mentioned"] == "January 2026"
    assert "File" not in fields  # the title links to the article instead
    further = fields["Further sources"].splitlines()
    assert further == [f"• Article {n} — a{n}.txt" for n in (1, 2, 3)]  # three at most
    assert embed.footer.text == "Asked: When is Lee visiting Japan?"
    assert limit_violations(embed) == []


def test_an_article_without_url_names_its_file() -> None:
    embed = answer_embed(cited(src=source(url="javascript:alert(1)")))
    assert embed.url is None
    assert {f.name: f.value for f in embed.fields}["File"] == "a0.txt"


def test_abstention_names_the_nearest_articles() -> None:
    answer = Answer(
        "Who won?", None, (source(1, url="https://x.org/1", published="2024-01-01"), source(2))
    )
    embed = answer_embed(answer)
    assert embed.title == "Not in the articles"
    assert embed.description is not None and "Nothing in the indexed articles" in embed.description
    [field] = embed.fields
    assert field.name == "Nearest articles"
    assert field.value == "• [Article 1](https://x.org/1) (2024-01-01)\n• Article 2 — a2.txt"


def test_quoted_text_is_escaped_and_pings_no_one() -> None:
    snippet = "**Big** news_for @everyone and <@&123456789012345678> [click](https://evil.example)"
    title = "# Breaking > now `code`"
    embed = answer_embed(
        cited(
            snippet, src=Source("x", title, "x.txt"), question="@here what? <@123456789012345678>"
        )
    )
    assert embed.description is not None
    assert "\\*\\*Big\\*\\*" in embed.description
    assert "news\\_for" in embed.description
    assert "@\u200beveryone" in embed.description
    assert "<@\u200b&123456789012345678>" in embed.description
    assert "\\[click](https://evil.example)" in embed.description
    assert embed.title == "\\# Breaking > now \\`code\\`"
    assert embed.footer.text == "Asked: @\u200bhere what? <@\u200b123456789012345678>"


def test_huge_texts_are_cut_to_fit() -> None:
    huge = "word " * 3000
    src = Source("x", "T" * 1000, "p" * 2000, url="https://example.org/" + "a" * 2000)
    embed = answer_embed(
        cited(huge, src=src, further=(src, src, src), resolved="r" * 500, question="q" * 5000)
    )
    assert limit_violations(embed) == []
    assert embed.description is not None and embed.description.endswith("…")
    assert embed.title is not None and len(embed.title) == 256
    assert embed.url is None  # too long to be a link


def test_truncate_never_leaves_a_dangling_escape() -> None:
    assert truncate("abc", 3) == "abc"
    assert truncate("abcd", 3) == "ab…"
    assert truncate("a\\*bc", 3) == "a…"  # "a\\" would escape the ellipsis
    assert truncate("a\\\\bc", 4) == "a\\\\…"  # an escaped backslash stays whole
    assert safe("a\nb\t c", 100) == "a b c"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.org/a?b=c#d", True),
        ("http://example.org", True),
        ("HTTPS://example.org", True),
        ("ftp://example.org", False),
        ("javascript:alert(1)", False),
        ("https://exa mple.org", False),
        ("https://example.org/a)b", False),
        ("https://", False),
        ("https://[::1", False),
        ("https://例え.jp", False),
        (None, False),
        ("", False),
    ],
)
def test_safe_url(url: str | None, ok: bool) -> None:
    assert (safe_url(url) is not None) is ok


def test_sources_are_paginated() -> None:
    sources = [source(n) for n in range(23)]
    first = sources_reply(sources, 1)
    assert first.embed is not None and first.embed.description is not None
    lines = first.embed.description.splitlines()
    assert len(lines) == 10
    assert lines[0] == "**1.** Article 0 — a0.txt"
    assert first.embed.title == "Indexed articles (23)"
    assert first.embed.footer.text == "Page 1 of 3 · /sources page:2 for more"
    last = sources_reply(sources, 3)
    assert last.embed is not None and last.embed.description is not None
    assert last.embed.description.splitlines()[0] == "**21.** Article 20 — a20.txt"
    assert last.embed.footer.text == "Page 3 of 3"
    past = sources_reply(sources, 4)
    assert past.embed is None
    assert past.content == "There is no page 4: 23 articles fit on 3 pages. Try /sources page:3."
    assert sources_reply([], 1).content is not None


def test_status_shows_counts_model_and_build_time() -> None:
    embed = status_reply(STATS, None, reindexing=True).embed
    assert embed is not None
    fields = {f.name: f.value for f in embed.fields}
    assert fields == {
        "Articles": "3",
        "Passages": "7",
        "Model": "fake (256 dimensions)",
        "Built": "2026-01-05 10:00 UTC",
    }
    assert embed.footer.text is not None and "reindex is running" in embed.footer.text
    down = status_reply(None, "No index has been built in index yet.", reindexing=False).embed
    assert down is not None and down.description == (
        "The index is unavailable: No index has been built in index yet. An admin can run /reindex."
    )


def test_report_lists_counts_and_skipped_files_within_limits() -> None:
    skipped = tuple(Skipped(f"bad-{n}.txt", "not valid UTF-8 " * 10) for n in range(200))
    report = ReindexReport(
        added=tuple(f"new-{n}.txt" for n in range(500)),
        changed=("c.txt",),
        removed=(),
        unchanged=4,
        skipped=skipped,
        embedded_passages=12,
        stats=STATS,
    )
    embed = report_reply(report).embed
    assert embed is not None
    assert limit_violations(embed) == []
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Articles"] == "added 500, changed 1, removed 0, unchanged 4, skipped 200"
    assert fields["Added"].startswith("new-0.txt, new-1.txt") and fields["Added"].endswith("more")
    assert fields["Changed"] == "c.txt"
    assert "Removed" not in fields
    assert fields["Skipped"].startswith("• bad-0.txt: not valid UTF-8")
    assert fields["Skipped"].endswith("more")


def test_progress_text() -> None:
    assert progress_text("embedding", 50, 200).startswith(
        "Reindexing… embedding 50/200 passages and sentences (25%)"
    )
    assert progress_text("reading", 0, 1).startswith("Reindexing… reading the articles folder")
    assert progress_text("checking", 0, 1).startswith(
        "Reindexing… checking the current index's vectors before reusing them"
    )


def test_report_says_why_every_article_was_embedded_afresh() -> None:
    why = (
        "Every article was embedded afresh: the served version v1 is damaged (sentences.npy: "
        "does not match the checksum recorded when it was built), so nothing was reused from it."
    )
    report = ReindexReport(("a.txt",), (), (), 2, (), 9, STATS, why)
    embed = report_reply(report).embed
    assert embed is not None and limit_violations(embed) == []
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Rebuilt in full"] == why
    plain_report = report_reply(ReindexReport(("a.txt",), (), (), 2, (), 9, STATS)).embed
    assert plain_report is not None
    assert "Rebuilt in full" not in {f.name for f in plain_report.fields}


def test_errors_map_to_short_replies(caplog: pytest.LogCaptureFixture) -> None:
    assert error_reply(IndexUnavailable("No index has been built in x yet.")) == (
        "The index is unavailable: No index has been built in x yet. An admin can run /reindex."
    )
    assert error_reply(ModelMismatch("built with model 'a'")).startswith(
        "The index is unavailable: built with model 'a'. An admin can run /reindex."
    )
    assert error_reply(ReindexInProgress("busy")) == REINDEX_RUNNING
    assert error_reply(InvalidQuestion("Ask in words.")) == "Ask in words."
    assert error_reply(CitebotError("Nope @everyone")) == "Nope @\u200beveryone"
    assert not caplog.records
    with caplog.at_level(logging.ERROR, logger="citebot.bot"):
        assert error_reply(ZeroDivisionError("boom")) == GENERIC
    [record] = caplog.records
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError


def test_cooldown_reply_rounds_up() -> None:
    assert cooling_down(12.1) == "You're asking quickly — try again in 13 s."
    assert cooling_down(0.01) == "You're asking quickly — try again in 1 s."


def test_content_fits_and_pings_no_one() -> None:
    text = content("@everyone " + "x" * 5000)
    assert len(text) == CONTENT_MAX
    assert text.startswith("@\u200beveryone")


# --- every limit holds, whatever the text ---------------------------------------------------

texts = st.text(
    st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Z", "Cc")), max_size=3000
)
urls = st.one_of(
    st.none(),
    texts,
    st.builds(lambda path: "https://example.org/" + path, texts),
)
sources = st.builds(
    Source,
    article_id=texts,
    title=texts,
    path=texts,
    url=urls,
    published=st.one_of(st.none(), texts),
    source=st.one_of(st.none(), texts),
)


@settings(max_examples=60, deadline=None)
@given(
    question=texts,
    snippet=texts,
    src=sources,
    resolved=st.one_of(st.none(), texts),
    further=st.lists(sources, max_size=5),
    abstain=st.booleans(),
)
def test_every_answer_fits_discord_limits(
    question: str,
    snippet: str,
    src: Source,
    resolved: str | None,
    further: list[Source],
    abstain: bool,
) -> None:
    citation = None if abstain else Citation(src, snippet, 0, len(snippet), 0.5, resolved)
    embed = answer_embed(Answer(question, citation, tuple(further)))
    assert limit_violations(embed) == []
    assert isinstance(embed.to_dict(), dict)
    for text in (embed.title or "", embed.description or "", embed.footer.text or ""):
        assert "@everyone" not in text and "@here" not in text


@settings(max_examples=50, deadline=None)
@given(st.lists(sources, max_size=25), st.integers(1, 5), texts)
def test_every_listing_and_report_fits(found: list[Source], page: int, reason: str) -> None:
    listing = sources_reply(found, page)
    if listing.embed is not None:
        assert limit_violations(listing.embed) == []
    assert listing.content is None or len(listing.content) <= CONTENT_MAX
    report = ReindexReport(
        tuple(s.article_id for s in found),
        (),
        tuple(s.title for s in found),
        0,
        tuple(Skipped(s.path, reason) for s in found),
        0,
        IndexStats(len(found), 0, reason, 1, reason, "v"),
        reason,
    )
    embed = report_reply(report).embed
    assert embed is not None and limit_violations(embed) == []
    status = status_reply(None, reason, reindexing=False).embed
    assert status is not None and limit_violations(status) == []


def test_limit_violations_reports_each_problem() -> None:
    embed = discord.Embed(title="t" * 300, description="d" * 5000, url="ftp://x")
    embed.add_field(name="n", value="v" * 2000)
    problems = limit_violations(embed)
    assert len(problems) == 5
    assert problems[0] == "title has 300 characters, over 256"


def test_a_link_too_long_for_its_line_is_not_cut() -> None:
    long_url = "https://example.org/" + "a" * 400
    line = sources_reply([Source("x", "Title", "x.txt", url=long_url)], 1)
    assert line.embed is not None
    assert line.embed.description == "**1.** Title — x.txt"


def test_the_terminal_gets_no_control_characters_from_titles_and_paths() -> None:
    from bot.terminal import format_answer, format_report, format_sources
    from retrieval import Answer, Citation, IndexStats, ReindexReport, Skipped, Source

    odd = Source("a", "Red\x1b[31m alert\u202e", "news/line\nbreak.txt")
    listing = format_sources([odd])
    assert listing.splitlines() == [
        "Red\\x1b[31m alert\\u202e",
        "    news/line\\nbreak.txt",
        "1 articles",
    ]
    answer = Answer("q", Citation(odd, "One.\nTwo\x1b[2J.", 0, 9, 1.0), (odd,))
    shown = format_answer(answer)
    assert "\x1b" not in shown and "\u202e" not in shown and "One.\nTwo\\x1b[2J." in shown
    stats = IndexStats(0, 0, "fake", 8, "now", "v")
    report = ReindexReport((), (), (), 0, (Skipped("bad\nname.txt", "Empty."),), 0, stats)
    assert "    bad\\nname.txt: Empty." in format_report(report)
