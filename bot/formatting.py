"""What the bot shows in Discord, as plain functions: answers, sources, status and reindex
reports become replies whose embeds always fit Discord's limits (embeds.py), quote text safely
and ping no one (text.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import discord

from bot.embeds import (
    ABSTAIN_COLOUR,
    ANSWER_COLOUR,
    AUTHOR_MAX,
    DESCRIPTION_MAX,
    FIELD_VALUE_MAX,
    STATUS_COLOUR,
    TITLE_MAX,
    add_field,
    budget,
    field_value,
)
from bot.text import plain, safe, safe_url, source_line, title_of, truncate
from retrieval import Answer, IndexStats, ReindexReport, Source

SOURCES_PER_PAGE = 10
FURTHER_MAX = 3
PROGRESS_PREFIX = "Reindexing"


@dataclass(frozen=True)
class Reply:
    """One message's worth of reply: text, an embed, or both."""

    content: str | None = None
    embed: discord.Embed | None = None


# --- answers --------------------------------------------------------------------------------


def answer_embed(answer: Answer) -> discord.Embed:
    """The answer: the quoted sentence, its article (linked), dates, and further sources;
    or, when citebot abstains, "not in the articles" and the nearest articles."""
    footer = plain(f"Asked: {answer.question}", 300)
    further = [source_line(s) for s in answer.further[:FURTHER_MAX]]
    c = answer.citation
    if c is None:
        embed = discord.Embed(title="Not in the articles", colour=ABSTAIN_COLOUR)
        if further:
            embed.add_field(name="Nearest articles", value=field_value(further), inline=False)
        embed.set_footer(text=footer)
        embed.description = truncate(
            "Nothing in the indexed articles answers that question.",
            budget(embed, DESCRIPTION_MAX),
        )
        return embed

    source = c.source
    embed = discord.Embed(
        title=title_of(source, TITLE_MAX),
        url=safe_url(source.url),
        colour=ANSWER_COLOUR,
    )
    if source.source and plain(source.source, AUTHOR_MAX):
        embed.set_author(name=plain(source.source, AUTHOR_MAX))
    add_field(embed, "Published", safe(source.published or "", 100))
    add_field(embed, "Time mentioned", safe(c.resolved_date or "", 100))
    if safe_url(source.url) is None:
        add_field(embed, "File", safe(source.path, 300))
    if further:
        embed.add_field(name="Further sources", value=field_value(further), inline=False)
    embed.set_footer(text=footer)
    quote = "> "
    embed.description = quote + safe(c.snippet, budget(embed, DESCRIPTION_MAX) - len(quote))
    return embed


def answer_reply(answer: Answer) -> Reply:
    return Reply(embed=answer_embed(answer))


# --- sources and status ---------------------------------------------------------------------


def page_count(items: int, per_page: int = SOURCES_PER_PAGE) -> int:
    return max((items + per_page - 1) // per_page, 1)


def sources_reply(sources: Sequence[Source], page: int, per_page: int = SOURCES_PER_PAGE) -> Reply:
    """One page of the indexed articles (pages count from 1)."""
    pages = page_count(len(sources), per_page)
    if not sources:
        return Reply(content="The index holds no articles yet. An admin can run /reindex.")
    if page > pages:
        return Reply(
            content=f"There is no page {page}: {len(sources)} articles fit on {pages} "
            f"page{'s' if pages != 1 else ''}. Try /sources page:{pages}."
        )
    first = (page - 1) * per_page
    shown = sources[first : first + per_page]
    lines = [
        f"**{first + n}.** {source_line(s, 380).removeprefix('• ')}"
        for n, s in enumerate(shown, start=1)
    ]
    embed = discord.Embed(
        title=f"Indexed articles ({len(sources)})",
        description=truncate("\n".join(lines), DESCRIPTION_MAX),
        colour=STATUS_COLOUR,
    )
    more = f" · /sources page:{page + 1} for more" if page < pages else ""
    embed.set_footer(text=f"Page {page} of {pages}{more}")
    return Reply(embed=embed)


def when(iso: str) -> str:
    """An ISO timestamp as people read it ("2026-01-05 10:00 UTC"); other text as is."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    text = moment.strftime("%Y-%m-%d %H:%M")
    return f"{text} {moment.tzname()}" if moment.tzinfo is not None else text


def status_reply(stats: IndexStats | None, unavailable: str | None, *, reindexing: bool) -> Reply:
    """The index at a glance: articles, passages, model and when it was built."""
    embed = discord.Embed(title="citebot status", colour=STATUS_COLOUR)
    if stats is None:
        reason = unavailable or "no index is loaded"
        embed.description = truncate(
            f"The index is unavailable: {reason.rstrip('.')}. An admin can run /reindex.",
            DESCRIPTION_MAX,
        )
    else:
        embed.add_field(name="Articles", value=f"{stats.articles:,}", inline=True)
        embed.add_field(name="Passages", value=f"{stats.passages:,}", inline=True)
        embed.add_field(
            name="Model", value=safe(f"{stats.model} ({stats.dimension} dimensions)", 200)
        )
        add_field(embed, "Built", safe(when(stats.built_at), 100))
    if reindexing:
        embed.set_footer(text="A reindex is running; questions use the current index meanwhile.")
    return Reply(embed=embed)


# --- reindexing -----------------------------------------------------------------------------


def progress_text(stage: str, done: int, total: int) -> str:
    """One line of reindex progress, for the message /reindex keeps editing."""
    if stage == "reading":
        step = "reading the articles folder"
    elif stage == "checking":
        step = "checking the current index's vectors before reusing them"
    elif stage == "embedding":
        share = f" ({100 * done // total}%)" if total else ""
        step = f"embedding {done:,}/{total:,} passages and sentences{share}"
    elif stage == "writing":
        step = "writing the new index"
    else:
        step = f"{stage} {done}/{total}"
    return (
        f"{PROGRESS_PREFIX}… {step}\nQuestions are still answered from the current index meanwhile."
    )


def _names(ids: Sequence[str], budget: int) -> str:
    """Names joined by commas, ending in "and N more" when they do not all fit."""
    shown: list[str] = []
    size = 0
    for n, name in enumerate(ids):
        piece = safe(name, 120) or "(unnamed)"
        rest = len(ids) - n - 1
        if size + len(piece) + 2 + len(f" and {rest} more") > budget:
            if not shown:
                return f"{len(ids)} articles"
            return ", ".join(shown) + f" and {len(ids) - n} more"
        shown.append(piece)
        size += len(piece) + 2
    return ", ".join(shown)


def report_reply(report: ReindexReport) -> Reply:
    """The end of a reindex: counts of what changed, and each skipped file with its reason."""
    s = report.stats
    embed = discord.Embed(
        title="Reindex finished",
        description=truncate(
            f"Indexed {s.articles:,} articles, {s.passages:,} passages "
            f"({plain(s.model, 200)}); {report.embedded_passages:,} new passage vectors.",
            DESCRIPTION_MAX,
        ),
        colour=ANSWER_COLOUR,
    )
    counts = (
        f"added {len(report.added)}, changed {len(report.changed)}, "
        f"removed {len(report.removed)}, unchanged {report.unchanged}, "
        f"skipped {len(report.skipped)}"
    )
    embed.add_field(name="Articles", value=counts, inline=False)
    if report.full_rebuild:
        why = safe(report.full_rebuild, 600) or "Every article was embedded afresh."
        embed.add_field(name="Rebuilt in full", value=why, inline=False)
    if report.rewritten:
        why = safe(report.rewritten, 600) or "Every file was written anew."
        embed.add_field(name="Rewritten", value=why, inline=False)
    for name, ids in (
        ("Added", report.added),
        ("Changed", report.changed),
        ("Removed", report.removed),
    ):
        if ids:
            embed.add_field(name=name, value=_names(ids, 900), inline=False)
    if report.skipped:
        lines = [f"• {safe(k.path, 200)}: {safe(k.reason, 300)}" for k in report.skipped]
        value = field_value(lines)
        left = len(report.skipped) - value.count("\n") - 1
        if left > 0:
            value = truncate(value, FIELD_VALUE_MAX - 20) + f"\n…and {left} more"
        embed.add_field(name="Skipped", value=value, inline=False)
    return Reply(embed=embed)
