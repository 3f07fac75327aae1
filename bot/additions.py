"""Adding and removing articles from Discord and the command line: the fetch limits the settings
set, who may, and the replies saying what was added or removed, or why nothing was."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import discord

from bot.embeds import STATUS_COLOUR, add_field
from bot.formatting import Reply
from bot.permissions import RoleLike, may_reindex
from bot.settings import Settings
from bot.text import content, safe, safe_url
from retrieval import CitebotError, ReindexInProgress
from retrieval.adding import AddReport, RemoveReport
from retrieval.ingest.fetch import FetchLimits

log = logging.getLogger("citebot.bot")

ADD_DENIED = (
    "Only members with Manage Server (or the bot's admin role) can add articles here. Ask a "
    "server admin, or to let everyone add, set CITEBOT_ANYONE_MAY_ADD=on."
)
REMOVE_DENIED = (
    "Only members with Manage Server (or the bot's admin role) can remove articles. Ask a "
    "server admin."
)
ADD_GUILD_ONLY = "/add and /remove work in a server channel, not in direct messages."
ADD_WHAT = "Give a link (url:) or attach a file (file:), one of the two."
BUSY = "A reindex or another /add or /remove is running; try again when it finishes."


def fetch_limits(settings: Settings) -> FetchLimits:
    return FetchLimits(
        max_bytes=settings.max_file_bytes,
        timeout=settings.fetch_timeout,
        max_redirects=settings.fetch_max_redirects,
        allowed=settings.fetch_allow,
    )


def may_add(
    permissions: discord.Permissions,
    roles: Iterable[RoleLike],
    settings: Settings,
) -> bool:
    """Anyone, when CITEBOT_ANYONE_MAY_ADD is on; otherwise those who may /reindex."""
    return settings.anyone_may_add or may_reindex(permissions, roles, settings.admin_role)


def added_reply(report: AddReport) -> Reply:
    """What was added: each article's title (linked), date and passages."""
    count = len(report.added)
    embed = discord.Embed(
        title="Article added" if count == 1 else f"{count} articles added", colour=STATUS_COLOUR
    )
    lines = []
    for article in report.added[:10]:
        title = safe(article.title, 200) or "(untitled)"
        url = safe_url(article.url)
        shown = f"[{title}]({url})" if url else title
        date = f" · {article.published}" if article.published else ""
        unit = "passage" if article.passages == 1 else "passages"
        lines.append(f"{shown}{date} · {article.passages} {unit}")
    if count > 10:
        lines.append(f"… and {count - 10} more")
    embed.description = "\n".join(lines)
    add_field(embed, "File", safe(report.name, 200), inline=False)
    if report.already:
        add_field(embed, "Already there", f"{len(report.already)} of its articles", inline=False)
    if report.skipped:
        add_field(embed, "Skipped", f"{len(report.skipped)} records that cannot be read")
    stats = report.report.stats
    embed.set_footer(text=f"The index now holds {stats.articles} articles.")
    return Reply(embed=embed)


def removed_reply(report: RemoveReport) -> Reply:
    title = safe(report.article.title, 200) or "(untitled)"
    return Reply(
        content=content(
            f"Removed “{title}” ({safe(report.article.id, 200)}). The index now holds "
            f"{report.report.stats.articles} articles."
        )
    )


def failed(what: str, exc: BaseException) -> str:
    """Why an add or a remove did nothing, in words; the served index is as it was."""
    if isinstance(exc, ReindexInProgress):
        return BUSY
    if isinstance(exc, CitebotError):
        return content(f"Nothing was {what}: {str(exc).rstrip('. ')}.")
    log.error("Unexpected error while an article was %s", what, exc_info=exc)
    return f"Nothing was {what}: an unexpected error, which is logged. The index is unchanged."
