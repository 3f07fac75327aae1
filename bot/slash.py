"""Slash commands as typed lines in `citebot chat`: `/sources page:4` as Discord's client writes
options, or `/sources 4` in order. The bot's command tree says which options there are."""

from __future__ import annotations

import re
from typing import Any

from discord import AppCommandOptionType, app_commands

from bot.client import CitebotBot

SlashCommand = app_commands.Command[Any, ..., Any]


def slash_commands(bot: CitebotBot) -> dict[str, SlashCommand]:
    """The bot's slash commands by name, read from its command tree (what Discord is sent)."""
    return {c.name: c for c in bot.tree.get_commands() if isinstance(c, app_commands.Command)}


def usage(command: SlashCommand) -> str:
    """`/name ARGS` as typed here: a text option takes the rest of the line, a number is one
    word, and true/false options are given by name ("/reindex full")."""
    flags = [p.name for p in command.parameters if p.type is AppCommandOptionType.boolean]
    words = [f"/{command.name}"]
    for p in command.parameters:
        if p.type is not AppCommandOptionType.boolean:
            words.append(p.name.upper() if p.required else f"[{p.name.upper()}]")
    if flags:
        words.append(f"[{'|'.join(flags)}]")
    return " ".join(words)


def options_of(command: SlashCommand, rest: str) -> dict[str, object] | None:
    """The options a line's words after `/name` give `command`; None when they do not fit.

    Either as Discord's client writes them (`page:4`, `full:True`, `question:When…`), or in
    order: a text option takes the rest of the line, a number is one word, and true/false
    options are given by name (`/reindex full`)."""
    names = [p.name for p in command.parameters]
    if names and re.match(rf"(?:{'|'.join(map(re.escape, names))}):", rest):
        return _named_options(command, rest, names)
    options: dict[str, object] = {}
    flags = {p.name for p in command.parameters if p.type is AppCommandOptionType.boolean}
    for p in command.parameters:
        if p.type is AppCommandOptionType.string:
            if rest:
                options[p.name] = rest
                rest = ""
            elif p.required:
                return None
        elif p.type is AppCommandOptionType.integer and rest and rest.split()[0].isdigit():
            word, _, rest = rest.partition(" ")
            options[p.name] = int(word)
            rest = rest.strip()
    if rest in flags:
        options[rest] = True
    elif rest:
        return None
    return options


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _named_options(command: SlashCommand, rest: str, names: list[str]) -> dict[str, object] | None:
    """`name:value` pairs; a value runs to the next `name:` (so text may hold spaces)."""
    pieces = re.split(rf"\s+(?=(?:{'|'.join(map(re.escape, names))}):)", rest.strip())
    params = {p.name: p for p in command.parameters}
    options: dict[str, object] = {}
    for piece in pieces:
        name, _, value = piece.partition(":")
        value = value.strip()
        param = params.get(name)
        if param is None or name in options or not value:
            return None
        if param.type is AppCommandOptionType.integer:
            if not value.lstrip("-").isdigit():
                return None
            options[name] = int(value)
        elif param.type is AppCommandOptionType.boolean:
            if value.lower() not in _TRUE + _FALSE:
                return None
            options[name] = value.lower() in _TRUE
        else:
            options[name] = value
    if any(p.required and p.name not in options for p in command.parameters):
        return None
    return options
