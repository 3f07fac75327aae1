"""Readable terminal text for what the bot sent: content plus embeds (title, url, description,
fields, footer), for ``citebot chat`` and the README demo."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

from .components import button_label, buttons_of
from .records import BotMessage, InteractionResult

BAR = "│ "


def _wrap(text: str, width: int, indent: str = "") -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        wrapped = textwrap.wrap(
            paragraph, width=max(width, 20), initial_indent=indent, subsequent_indent=indent
        )
        lines.extend(wrapped or [indent.rstrip()])
    return lines


def render_embed(embed: Mapping[str, Any], *, width: int = 88) -> str:
    inner = width - len(BAR)
    lines: list[str] = []
    author = (embed.get("author") or {}).get("name")
    if author:
        lines.append(str(author))
    title = embed.get("title")
    if title:
        lines.extend(_wrap(str(title), inner))
    if embed.get("url"):
        lines.append(f"<{embed['url']}>")
    if embed.get("description"):
        if lines:
            lines.append("")
        lines.extend(_wrap(str(embed["description"]), inner))
    for field in embed.get("fields") or []:
        lines.append("")
        lines.append(f"{field.get('name', '')}:")
        lines.extend(_wrap(str(field.get("value", "")), inner, indent="  "))
    footer = (embed.get("footer") or {}).get("text")
    if footer:
        lines.append("")
        lines.extend(_wrap(f"— {footer}", inner))
    return "\n".join(BAR + line if line else BAR.rstrip() for line in lines)


def render_message(message: BotMessage, *, width: int = 88) -> str:
    notes = []
    if message.loading:
        notes.append("thinking…")
    if message.ephemeral:
        notes.append("only you can see this")
    if message.edited:
        notes.append("edited")
    if message.deleted:
        notes.append("deleted")
    parts: list[str] = []
    if notes:
        parts.append(f"({', '.join(notes)})")
    if message.content:
        parts.append("\n".join(_wrap(message.content, width)))
    parts.extend(render_embed(embed, width=width) for embed in message.embeds)
    parts.extend(f"[attachment: {a.get('filename', '?')}]" for a in message.attachments)
    buttons = buttons_of({"components": list(message.components)})
    if buttons:
        parts.append(" ".join(f"[{button_label(b) or b.get('custom_id')}]" for b in buttons))
    return "\n".join(parts) if parts else "(empty message)"


def render_result(result: InteractionResult, *, width: int = 88) -> str:
    """The messages a user sees for one slash command, in order."""
    messages = result.messages
    if not messages:
        return (
            "(the bot did not answer)"
            if not result.expired
            else "(the application did not respond)"
        )
    return "\n\n".join(render_message(m, width=width) for m in messages)
