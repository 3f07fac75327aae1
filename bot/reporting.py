"""The ledger's report for people: an embed for /report, text and JSON for `citebot report`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import discord

from bot.embeds import STATUS_COLOUR, field_value
from bot.ledger import Report
from bot.text import plain, safe

ABSTENTIONS = "(abstentions)"


def _when(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _name(article_id: str | None, titles: Mapping[str, str]) -> str:
    if article_id is None:
        return ABSTENTIONS
    return titles.get(article_id, article_id)


def report_json(report: Report) -> dict[str, Any]:
    return asdict(report)


def report_text(report: Report) -> str:
    lines = [
        f"Last {report.retention_days} days (the retention): {report.asked} questions asked, "
        f"{report.answered} answered, {report.abstained} abstained.",
        "",
        "Votes per article (👍 helpful, 👎 wrong):",
    ]
    lines += [f"  +{v.up} -{v.down}  {_name(v.article_id, {})}" for v in report.votes] or [
        "  none yet"
    ]
    lines += ["", "Latest unanswered questions:"]
    lines += [
        f"  {_when(u.asked_at)}  #{u.channel_name or u.channel_id or '?'}  {u.question}"
        for u in report.unanswered
    ] or ["  none"]
    lines += ["", "Most cited articles:"]
    lines += [f"  {n:>5}  {article}" for article, n in report.cited] or ["  none yet"]
    return "\n".join(lines)


def report_embed(report: Report, titles: Mapping[str, str]) -> discord.Embed:
    """/report: `titles` names articles by id (those no longer indexed show their id)."""
    embed = discord.Embed(
        title="What citebot was asked",
        description=(
            f"Last {report.retention_days} days: **{report.asked}** questions asked, "
            f"**{report.answered}** answered, **{report.abstained}** not in the articles."
        ),
        colour=STATUS_COLOUR,
    )
    votes = [
        f"👍 {v.up} 👎 {v.down} · {safe(_name(v.article_id, titles), 200)}" for v in report.votes
    ]
    embed.add_field(
        name="Votes per article", value=field_value(votes or ["none yet"]), inline=False
    )
    unanswered = [
        f"<t:{int(u.asked_at)}:R> "
        + (f"<#{u.channel_id}>" if u.channel_id else plain(u.channel_name or "?", 50))
        + f" · {safe(u.question, 200)}"
        for u in report.unanswered
    ]
    embed.add_field(
        name="Latest unanswered", value=field_value(unanswered or ["none"]), inline=False
    )
    cited = [f"{n} × {safe(_name(a, titles), 200)}" for a, n in report.cited]
    embed.add_field(name="Most cited", value=field_value(cited or ["none yet"]), inline=False)
    embed.set_footer(text="Users are kept only as salted hashes; see docs/discord.md.")
    return embed
