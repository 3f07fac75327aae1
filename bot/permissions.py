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


def may_reindex(
    permissions: discord.Permissions, roles: Iterable[RoleLike], admin_role: int | None
) -> bool:
    """Manage Server or Administrator, or one of `roles` is the configured admin role.

    By id only: anyone with Manage Roles can create a role with any name, or one named like an
    id, so a name would let them grant themselves /reindex.
    """
    if permissions.manage_guild or permissions.administrator:
        return True
    return admin_role is not None and any(role.id == admin_role for role in roles)


def interaction_may_reindex(interaction: discord.Interaction, admin_role: int | None) -> bool:
    """`may_reindex` for the member behind `interaction`; never in DMs."""
    if interaction.guild_id is None:
        return False
    user = interaction.user
    roles = user.roles if isinstance(user, discord.Member) else []
    return may_reindex(interaction.permissions, roles, admin_role)
