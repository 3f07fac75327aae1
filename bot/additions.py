"""Adding and removing articles from Discord and the command line: the fetch limits the settings
set, who may, and the replies saying what was added or removed, or why nothing was."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path

import discord

from bot.embeds import STATUS_COLOUR, add_field
from bot.formatting import Reply
from bot.permissions import RoleLike, may_reindex
from bot.settings import Settings
from bot.terminal import shown
from bot.text import content, safe, safe_url
from retrieval import ArticleError, CitebotError, Engine, ReindexInProgress
from retrieval.adding import AddReport, RemoveReport, add_incoming, already_there
from retrieval.errors import AlreadyAdded
from retrieval.ingest.fetch import FetchLimits, fetch
from retrieval.ingest.incoming import from_page, from_upload

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


# --- the command line ----------------------------------------------------------------------


def add_from_command_line(settings: Settings, engine: Engine, target: str) -> AddReport:
    """`citebot add URL|FILE`: fetch the link, or read the file, then add it to `engine`."""
    if target.strip().lower().startswith(("http://", "https://")):
        if known := already_there(engine, url=target.strip()):
            raise AlreadyAdded(known)
        incoming = from_page(asyncio.run(fetch(target, fetch_limits(settings))))
    else:
        path = Path(target).expanduser()
        if not path.is_file():
            raise CitebotError(
                f"{target} is neither a link (http:// or https://) nor a file; give one of them."
            )
        size = path.stat().st_size
        if size > settings.max_file_bytes:
            raise ArticleError(
                f"{target} is {size:,} bytes, over the limit of {settings.max_file_bytes:,} "
                "bytes (CITEBOT_MAX_FILE_BYTES)."
            )
        incoming = from_upload(path.name, path.read_bytes())
    return add_incoming(engine, incoming, max_shrink=settings.max_shrink)


def format_added(report: AddReport) -> str:
    lines = []
    for article in report.added:
        date = f" ({article.published})" if article.published else ""
        unit = "passage" if article.passages == 1 else "passages"
        lines.append(f"Added {shown(article.title)}{date}: {article.passages} {unit}")
        lines.append(
            f"    id {shown(article.id)}" + (f", {shown(article.url)}" if article.url else "")
        )
    if report.already:
        lines.append(f"  {len(report.already)} of its articles were already there.")
    lines += [f"  skipped {shown(s.path)}: {shown(s.reason)}" for s in report.skipped]
    lines.append(f"The index now holds {report.report.stats.articles} articles.")
    return "\n".join(lines)


def format_removed(report: RemoveReport) -> str:
    return (
        f"Removed {shown(report.article.title)} ({shown(report.article.id)}); deleted "
        f"{', '.join(shown(f) for f in report.files)}. The index now holds "
        f"{report.report.stats.articles} articles."
    )
