"""Discord's embed limits, the helpers that keep an embed inside them, and the check that it is.

Limits: https://discord.com/developers/docs/resources/message#embed-object-embed-limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord

from bot.text import safe_url

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000

ANSWER_COLOUR = discord.Colour.blurple()
ABSTAIN_COLOUR = discord.Colour.light_grey()
STATUS_COLOUR = discord.Colour.dark_teal()


def field_value(lines: Sequence[str]) -> str:
    """Whole lines up to the field limit; a line that does not fit is left out, not cut."""
    kept: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > FIELD_VALUE_MAX:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept) or "—"


def add_field(embed: discord.Embed, name: str, value: str, *, inline: bool = True) -> None:
    """A field, unless its value came out empty (Discord rejects empty fields)."""
    if value:
        embed.add_field(name=name, value=value, inline=inline)


def budget(embed: discord.Embed, limit: int) -> int:
    """How much description still fits under the per-field and total limits."""
    return max(min(limit, EMBED_TOTAL_MAX - len(embed)), 0)


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
