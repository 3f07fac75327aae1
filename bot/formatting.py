"""What the bot shows in Discord, as plain functions: answers, sources, status and reindex
reports become embeds that always fit Discord's limits, quote text safely and ping no one.

Limits: https://discord.com/developers/docs/resources/message#embed-object-embed-limits.
Text from articles and questions is never trusted: markdown is escaped where Discord renders it
(titles, descriptions, field names and values) and mentions are neutralised everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import discord

from retrieval import Answer, IndexStats, ReindexReport, Source

CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
URL_MAX = 512

SOURCES_PER_PAGE = 10
FURTHER_MAX = 3
ELLIPSIS = "…"
PROGRESS_PREFIX = "Reindexing"

ANSWER_COLOUR = discord.Colour.blurple()
ABSTAIN_COLOUR = discord.Colour.light_grey()
STATUS_COLOUR = discord.Colour.dark_teal()


@dataclass(frozen=True)
class Reply:
    """One message's worth of reply: text, an embed, or both."""

    content: str | None = None
    embed: discord.Embed | None = None


# --- text -----------------------------------------------------------------------------------


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, ending in an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - len(ELLIPSIS), 0)]
    # An odd run of trailing backslashes would escape the ellipsis: drop the dangling one.
    trailing = len(cut) - len(cut.rstrip("\\"))
    if trailing % 2:
        cut = cut[:-1]
    return cut + ELLIPSIS


def one_line(text: str) -> str:
    """Whitespace (newlines included) folded to single spaces."""
    return " ".join(text.split())


def neutralise(text: str) -> str:
    """@everyone, @here, user and role mentions become inert text (a zero-width space)."""
    return discord.utils.escape_mentions(text)


def safe(text: str, limit: int) -> str:
    """Untrusted text for a place where Discord renders markdown: one line, escaped, inert,
    and at most `limit` characters."""
    return truncate(neutralise(discord.utils.escape_markdown(one_line(text))), limit)


def plain(text: str, limit: int) -> str:
    """Untrusted text for a place that shows markdown literally (footer, author, content that
    is not markdown): one line, inert, at most `limit` characters."""
    return truncate(neutralise(one_line(text)), limit)


def content(text: str) -> str:
    """A message's text content, within Discord's 2,000 characters and pinging no one."""
    return truncate(neutralise(text), CONTENT_MAX)


def safe_url(url: str | None) -> str | None:
    """`url` when Discord accepts it as an embed or link target (http or https, no spaces or
    brackets that would break a markdown link); otherwise None."""
    if not url:
        return None
    url = url.strip()
    if len(url) > URL_MAX or not url.isascii() or any(c in '()<>"\\`' for c in url):
        return None
    if any(c.isspace() or not c.isprintable() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return url


def title_of(source: Source, limit: int) -> str:
    """The article's title for display; its file when it has none."""
    return safe(source.title, limit) or safe(source.path, limit) or "(untitled)"


def link(title: str, url: str | None, limit: int) -> str:
    """A markdown link `[title](url)`, or the escaped title alone when the url is unusable."""
    target = safe_url(url)
    if target is None:
        return safe(title, limit) or "(untitled)"
    # Brackets in the text would end the link early; round ones read the same.
    text = safe(title.replace("[", "(").replace("]", ")"), max(limit - len(target) - 4, 1))
    return f"[{text or 'link'}]({target})"


def source_line(source: Source, limit: int = 300) -> str:
    """`• title` linked to its url (or followed by its file), and its date when known."""
    published = plain(source.published or "", 40)
    date = f" ({published})" if published else ""
    url = safe_url(source.url)
    if url is not None and len(url) <= limit // 2:  # a link cut short would show as raw text
        head = link(source.title or source.path, url, limit - len(date) - 2)
    else:
        name = title_of(source, max((limit - len(date)) // 2, 10))
        path = safe(source.path, limit)
        head = truncate(f"{name} — {path}" if path else name, limit - len(date) - 2)
    return truncate(f"• {head}{date}", limit)


def _field_value(lines: Sequence[str]) -> str:
    """Whole lines up to the field limit; a line that does not fit is left out, not cut."""
    kept: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > FIELD_VALUE_MAX:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept) or "—"


def _add_field(embed: discord.Embed, name: str, value: str, *, inline: bool = True) -> None:
    """A field, unless its value came out empty (Discord rejects empty fields)."""
    if value:
        embed.add_field(name=name, value=value, inline=inline)


def _budget(embed: discord.Embed, limit: int) -> int:
    """How much description still fits under the per-field and total limits."""
    return max(min(limit, EMBED_TOTAL_MAX - len(embed)), 0)


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
            embed.add_field(name="Nearest articles", value=_field_value(further), inline=False)
        embed.set_footer(text=footer)
        embed.description = truncate(
            "Nothing in the indexed articles answers that question.",
            _budget(embed, DESCRIPTION_MAX),
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
    _add_field(embed, "Published", safe(source.published or "", 100))
    _add_field(embed, "Time mentioned", safe(c.resolved_date or "", 100))
    if safe_url(source.url) is None:
        _add_field(embed, "File", safe(source.path, 300))
    if further:
        embed.add_field(name="Further sources", value=_field_value(further), inline=False)
    embed.set_footer(text=footer)
    quote = "> "
    embed.description = quote + safe(c.snippet, _budget(embed, DESCRIPTION_MAX) - len(quote))
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
        _add_field(embed, "Built", safe(when(stats.built_at), 100))
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
        value = _field_value(lines)
        left = len(report.skipped) - value.count("\n") - 1
        if left > 0:
            value = truncate(value, FIELD_VALUE_MAX - 20) + f"\n…and {left} more"
        embed.add_field(name="Skipped", value=value, inline=False)
    return Reply(embed=embed)


# --- checks ---------------------------------------------------------------------------------


def limit_violations(embed: discord.Embed) -> list[str]:
    """Every Discord limit `embed` breaks, in words (empty when it fits)."""
    problems: list[str] = []
    data: dict[str, Any] = dict(embed.to_dict())

    def check(what: str, value: object, limit: int) -> None:
        if isinstance(value, str) and len(value) > limit:
            problems.append(f"{what} has {len(value)} characters, over {limit}")

    check("title", data.get("title"), TITLE_MAX)
    check("description", data.get("description"), DESCRIPTION_MAX)
    check("footer", (data.get("footer") or {}).get("text"), FOOTER_MAX)
    check("author", (data.get("author") or {}).get("name"), AUTHOR_MAX)
    fields = data.get("fields") or []
    if len(fields) > 25:
        problems.append(f"{len(fields)} fields, over 25")
    for n, field in enumerate(fields):
        check(f"field {n} name", field["name"], FIELD_NAME_MAX)
        check(f"field {n} value", field["value"], FIELD_VALUE_MAX)
        if not field["name"] or not field["value"]:
            problems.append(f"field {n} is empty")
    if len(embed) > EMBED_TOTAL_MAX:
        problems.append(f"{len(embed)} characters in all, over {EMBED_TOTAL_MAX}")
    url = data.get("url")
    if url is not None and safe_url(str(url)) != url:
        problems.append(f"url {url!r} is not an http(s) link")
    return problems
