"""Registered application commands, and what Discord's client checks before an invocation.

Discord enforces ``default_member_permissions``, DM availability, required options, choices and
bounds in its client, before the bot ever sees an interaction; discord.py does not re-check them.
``invocation_data`` applies the same rules so a test learns that a real user could not have made
the call, instead of the bot answering an interaction Discord would never send.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvocationError
from .world import ADMINISTRATOR, World

JSON = dict[str, Any]

CHAT_INPUT = 1
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, NUMBER = 3, 4, 5, 10
OPTION_TYPE_NAMES = {STRING: "string", INTEGER: "integer", BOOLEAN: "boolean", NUMBER: "number"}
CONTEXT_GUILD, CONTEXT_BOT_DM = 0, 1


@dataclass(frozen=True)
class RegisteredCommand:
    id: int
    guild_id: int | None  # None: a global command
    payload: JSON  # as returned by the bulk overwrite

    @property
    def name(self) -> str:
        return str(self.payload["name"])


class CommandRegistry:
    def __init__(self, world: World) -> None:
        self.world = world
        self.commands: dict[int | None, list[RegisteredCommand]] = {}

    def overwrite(self, guild_id: int | None, items: list[JSON]) -> list[JSON]:
        """``PUT .../commands``: replace the scope's commands; echo them with ids."""
        previous = {
            (c.name, c.payload.get("type", 1)): c.id for c in self.commands.get(guild_id, [])
        }
        registered = []
        for item in items:
            kind = item.get("type", CHAT_INPUT)
            command_id = previous.get((item["name"], kind)) or self.world.new_id()
            payload: JSON = {
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "dm_permission": True,
                "nsfw": False,
                **item,
                "id": str(command_id),
                "application_id": str(self.world.bot_user.id),
                "type": kind,
                "version": str(self.world.new_id()),
            }
            if guild_id is not None:
                payload["guild_id"] = str(guild_id)
            if payload["default_member_permissions"] is not None:
                # A permission bit set is a string on Discord, whatever the request sent.
                payload["default_member_permissions"] = str(payload["default_member_permissions"])
            registered.append(RegisteredCommand(command_id, guild_id, payload))
        self.commands[guild_id] = registered
        return [c.payload for c in registered]

    def listed(self, guild_id: int | None) -> list[JSON]:
        return [c.payload for c in self.commands.get(guild_id, [])]

    def find(self, name: str, *, guild_id: int | None) -> RegisteredCommand:
        """The command ``/name`` as seen in ``guild_id`` (None: a DM)."""
        in_guild = guild_id is not None
        scopes: list[int | None] = [guild_id, None] if in_guild else [None]
        for scope in scopes:
            for command in self.commands.get(scope, []):
                if command.name == name and command.payload.get("type", 1) == CHAT_INPUT:
                    return command
        known = sorted(f"/{c.name}" for cs in self.commands.values() for c in cs)
        where = "this guild or globally" if in_guild else "globally (DMs see global commands only)"
        raise InvocationError(
            f"/{name} is not registered {where}; registered: {known or 'none'}. "
            "Does the bot sync its command tree in setup_hook?"
        )


def check_visible(
    world: World, command: RegisteredCommand, *, permissions: int, in_dm: bool, user_name: str
) -> None:
    """Raise if Discord's client would not offer ``command`` to this user here."""
    payload = command.payload
    if in_dm:
        contexts = payload.get("contexts")
        allowed = CONTEXT_BOT_DM in contexts if contexts else payload.get("dm_permission", True)
        if not allowed:
            raise InvocationError(f"/{command.name} is not available in DMs (guild_only)")
        return
    contexts = payload.get("contexts")
    if contexts and CONTEXT_GUILD not in contexts:
        raise InvocationError(f"/{command.name} is not available in guilds (contexts={contexts})")
    required = payload.get("default_member_permissions")
    if required is None or permissions & ADMINISTRATOR:
        return
    needed = int(required)
    if needed == 0 or permissions & needed != needed:
        raise InvocationError(
            f"Discord would not show /{command.name} to {user_name}: it needs "
            f"default_member_permissions={needed}, {user_name} has {permissions}. Pass "
            "permissions=... or a user with the right role (users.mod has Manage Server), or "
            "check_visible=False to send it anyway."
        )


def _option_value(command: str, spec: JSON, value: object) -> JSON:
    kind = int(spec["type"])
    name = spec["name"]
    accepted: dict[int, tuple[type, ...]] = {
        STRING: (str,),
        INTEGER: (int,),
        BOOLEAN: (bool,),
        NUMBER: (int, float),
    }
    if kind not in accepted:
        raise InvocationError(
            f"/{command} option {name!r} has type {kind}; only string, integer, boolean and "
            "number options can be invoked here"
        )
    wrong_bool = isinstance(value, bool) and kind != BOOLEAN
    if wrong_bool or not isinstance(value, accepted[kind]):
        raise InvocationError(
            f"/{command} option {name!r} must be a {OPTION_TYPE_NAMES[kind]}, got {value!r}"
        )
    choices = spec.get("choices") or []
    if choices and value not in [c["value"] for c in choices]:
        raise InvocationError(
            f"/{command} option {name!r}={value!r} is not one of {[c['value'] for c in choices]}"
        )
    if isinstance(value, str):
        low, high = spec.get("min_length", 0), spec.get("max_length", 6000)
        if not low <= len(value) <= high:
            raise InvocationError(
                f"/{command} option {name!r} has length {len(value)}; Discord allows {low}..{high}"
            )
    elif not isinstance(value, bool) and isinstance(value, int | float):
        low_v, high_v = spec.get("min_value"), spec.get("max_value")
        if (low_v is not None and value < low_v) or (high_v is not None and value > high_v):
            raise InvocationError(
                f"/{command} option {name!r}={value} is outside {low_v}..{high_v}"
            )
    return {"name": name, "type": kind, "value": value}


def _options(command: str, specs: list[JSON], values: Mapping[str, object]) -> list[JSON]:
    by_name = {s["name"]: s for s in specs}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise InvocationError(f"/{command} has no option {unknown}; options: {sorted(by_name)}")
    missing = [s["name"] for s in specs if s.get("required") and s["name"] not in values]
    if missing:
        raise InvocationError(f"/{command} needs option(s) {missing}")
    return [_option_value(command, by_name[k], v) for k, v in values.items()]


def invocation_data(
    command: RegisteredCommand, path: list[str], values: Mapping[str, object]
) -> JSON:
    """``interaction.data`` for ``/name sub... option=value``; ``path`` are subcommand names."""
    options = _options_for_path(command, path, values)
    data: JSON = {
        "id": str(command.id),
        "name": command.name,
        "type": CHAT_INPUT,
        "options": options,
    }
    if command.guild_id is not None:
        data["guild_id"] = str(command.guild_id)
    return data


def _options_for_path(
    command: RegisteredCommand, path: list[str], values: Mapping[str, object]
) -> list[JSON]:
    specs: list[JSON] = command.payload.get("options") or []
    subs = [s["name"] for s in specs if s["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)]
    if not path:
        if subs:
            raise InvocationError(f"/{command.name} needs a subcommand: one of {subs}")
        return _options(command.name, specs, values)
    head, rest = path[0], path[1:]
    for spec in specs:
        if spec["name"] == head and spec["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP):
            sub = RegisteredCommand(
                command.id, command.guild_id, {**spec, "name": f"{command.name} {head}"}
            )
            return [
                {
                    "name": head,
                    "type": spec["type"],
                    "options": _options_for_path(sub, rest, values),
                }
            ]
    raise InvocationError(f"/{command.name} has no subcommand {head!r}; subcommands: {subs}")
