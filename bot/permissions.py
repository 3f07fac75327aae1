"""Who may run /reindex: members with Manage Server (or Administrator), or the admin role.

Discord hides /reindex from everyone without Manage Server (the command's default permissions);
server admins can grant it to other roles in Server Settings → Integrations. The bot checks again
at run time, since a command's visibility is the server's to change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import discord


class RoleLike(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...


def admin_role_key(setting: str) -> str:
    """The configured admin role as written in .env, normalised: a role id, or a name as
    compared (case-insensitively). Accepts `1234…`, `<@&1234…>`, `@Name` or `Name`."""
    key = setting.strip()
    if key.startswith("<@&") and key.endswith(">"):
        key = key[3:-1]
    return key.removeprefix("@").strip().casefold()


def may_reindex(
    permissions: discord.Permissions, roles: Iterable[RoleLike], admin_role: str | None
) -> bool:
    """Manage Server or Administrator, or one of `roles` is the configured admin role (by id or
    by name)."""
    if permissions.manage_guild or permissions.administrator:
        return True
    if not admin_role:
        return False
    key = admin_role_key(admin_role)
    if not key:
        return False
    return any(str(role.id) == key or role.name.casefold() == key for role in roles)


def interaction_may_reindex(interaction: discord.Interaction, admin_role: str | None) -> bool:
    """`may_reindex` for the member behind `interaction`; never in DMs."""
    if interaction.guild_id is None:
        return False
    user = interaction.user
    roles = user.roles if isinstance(user, discord.Member) else []
    return may_reindex(interaction.permissions, roles, admin_role)
