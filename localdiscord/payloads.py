"""JSON payloads in the shapes discord.py 2.7 parses (see discord/types/*.py).

A missing required key raises inside discord.py's gateway parser and kills the connection, so
every builder here fills the keys that discord.py reads with ``data[...]`` rather than ``.get``.
Snowflakes are strings on the wire, as on Discord.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from .world import Channel, Member, Role, User, World

JSON = dict[str, Any]

USER_MENTION = re.compile(r"<@!?([0-9]{15,20})>")
ROLE_MENTION = re.compile(r"<@&([0-9]{15,20})>")
EVERYONE_MENTION = re.compile(r"@(everyone|here)\b")

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024  # a server without boosts
MESSAGE_TYPE_DEFAULT = 0
MESSAGE_TYPE_REPLY = 19
MESSAGE_TYPE_CHAT_INPUT_COMMAND = 20


def timestamp() -> str:
    return datetime.now(UTC).isoformat()


def user_payload(user: User) -> JSON:
    return {
        "id": str(user.id),
        "username": user.name,
        "discriminator": "0",
        "global_name": None if user.bot else user.name.title(),
        "avatar": None,
        "bot": user.bot,
        "public_flags": 0,
    }


def client_user_payload(user: User) -> JSON:
    """``GET /users/@me`` and READY's ``user``: a user plus the account fields."""
    return {**user_payload(user), "verified": True, "mfa_enabled": False, "flags": 0}


def role_payload(role: Role) -> JSON:
    tags: JSON = {} if role.bot_id is None else {"tags": {"bot_id": str(role.bot_id)}}
    return {
        **tags,
        "id": str(role.id),
        "name": role.name,
        "permissions": str(role.permissions),
        "position": role.position,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "color": 0,
        "hoist": False,
        "managed": role.managed,
        "mentionable": False,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }


def member_payload(
    member: Member, *, with_user: bool = True, permissions: int | None = None
) -> JSON:
    """A guild member; ``member`` holds their roles in that guild (``World.member_in``)."""
    data: JSON = {
        "roles": [str(r) for r in member.role_ids],
        "nick": member.nick,
        "avatar": None,
        "joined_at": member.joined_at,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,  # discord.py reads data['flags']
        "communication_disabled_until": None,
    }
    if with_user:
        data["user"] = user_payload(member.user)
    if permissions is not None:
        data["permissions"] = str(permissions)  # only in interactions
    return data


def thread_payload(world: World, thread: Channel) -> JSON:
    """A thread (type 11 public, 12 private): a channel with a parent and thread metadata."""
    data: JSON = {
        "id": str(thread.id),
        "type": 12 if thread.kind == "private_thread" else 11,
        "guild_id": str(thread.guild_id),
        "parent_id": str(thread.parent_id),
        "owner_id": str(thread.owner_id),
        "name": thread.name,
        "member_count": 2,
        "message_count": 0,
        "total_message_sent": 0,
        "rate_limit_per_user": 0,
        "last_message_id": None,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": timestamp(),
            "locked": False,
            "create_timestamp": timestamp(),
        },
    }
    if thread.kind == "private_thread":
        data["thread_metadata"]["invitable"] = True
        # Discord shows a bot only the private threads it was added to.
        data["member"] = {
            "id": str(thread.id),
            "user_id": str(world.bot_user.id),
            "join_timestamp": timestamp(),
            "flags": 0,
        }
    return data


def channel_payload(world: World, channel: Channel) -> JSON:
    if channel.is_thread:
        return thread_payload(world, channel)
    if channel.is_dm:
        recipient = world.users[channel.recipient_id or 0]
        return {
            "id": str(channel.id),
            "type": 1,
            "recipients": [user_payload(recipient)],
            "last_message_id": None,
            "flags": 0,
        }
    return {
        "id": str(channel.id),
        "type": 0,
        "guild_id": str(channel.guild_id),
        "name": channel.name,
        "position": channel.position,
        "permission_overwrites": [],
        "topic": None,
        "nsfw": False,
        "parent_id": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }


def guild_payload(world: World, *, all_members: bool, guild_id: int | None = None) -> JSON:
    """GUILD_CREATE for ``guild_id`` (default: the first guild), each member with their roles
    there. Without the members intent Discord sends only the bot's own member; ``member_count``
    always counts everyone, so a members-intent bot finds the guild chunked."""
    guild = world.guilds[world.guild_id if guild_id is None else guild_id]
    members = [
        member
        for m in world.members.values()
        if (all_members or m.user.id == world.bot_user.id)
        and (member := world.member_in(m.user.id, guild.id)) is not None
    ]
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(world.owner.id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [role_payload(r) for r in world.guild_roles(guild.id)],
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "joined_at": timestamp(),
        "large": False,
        "unavailable": False,
        "member_count": len(world.members),
        "members": [member_payload(m) for m in members],
        "channels": [channel_payload(world, c) for c in world.guild_channels(guild.id)],
        "threads": [thread_payload(world, t) for t in world.threads(guild.id)],
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def ready_payload(
    world: World,
    *,
    session_id: str,
    resume_url: str,
    guild_ids: list[int],
    shard: tuple[int, int] = (0, 1),
) -> JSON:
    """READY for one shard: the guilds it receives, as unavailable until their GUILD_CREATE."""
    return {
        "v": 10,
        "user": client_user_payload(world.bot_user),
        "guilds": [{"id": str(g), "unavailable": True} for g in guild_ids],
        "session_id": session_id,
        "resume_gateway_url": resume_url,
        "shard": list(shard),
        "application": {"id": str(world.bot_user.id), "flags": 0},
        "private_channels": [],
        "relationships": [],
        "user_settings": {},
        "_trace": ["localdiscord"],
    }


def application_payload(world: World) -> JSON:
    """``GET /oauth2/applications/@me``; application id equals the bot user id, as on Discord."""
    return {
        "id": str(world.bot_user.id),
        "name": world.bot_user.name,
        "description": "",
        "icon": None,
        "bot_public": False,
        "bot_require_code_grant": False,
        "owner": user_payload(world.owner),
        "verify_key": "0" * 64,
        "flags": 0,
        "team": None,
        "summary": "",
        "interactions_endpoint_url": None,
        "redirect_uris": [],
        "tags": [],
    }


def mentions_of(world: World, content: str) -> tuple[list[int], list[int], bool]:
    """User ids, role ids and @everyone/@here found in ``content``, as Discord parses them."""
    users = [int(m) for m in USER_MENTION.findall(content) if int(m) in world.users]
    roles = [int(m) for m in ROLE_MENTION.findall(content) if int(m) in world.roles]
    return (
        list(dict.fromkeys(users)),
        list(dict.fromkeys(roles)),
        bool(EVERYONE_MENTION.search(content)),
    )


def message_payload(
    world: World,
    *,
    message_id: int,
    channel: Channel,
    author: User,
    content: str,
    embeds: list[JSON] | None = None,
    attachments: list[JSON] | None = None,
    components: list[JSON] | None = None,
    flags: int = 0,
    message_reference: JSON | None = None,
    referenced: JSON | None = None,
    extra_mentions: list[int] | None = None,
    message_type: int | None = None,
    webhook_id: int | None = None,
    interaction_metadata: JSON | None = None,
    created: str | None = None,
    edited: str | None = None,
) -> JSON:
    user_ids, role_ids, everyone = mentions_of(world, content)
    for extra in extra_mentions or []:
        if extra not in user_ids:
            user_ids.append(extra)
    if message_type is None:
        message_type = MESSAGE_TYPE_REPLY if message_reference else MESSAGE_TYPE_DEFAULT
    data: JSON = {
        "id": str(message_id),
        "channel_id": str(channel.id),
        "author": user_payload(author),
        "content": content,
        "timestamp": created or timestamp(),
        "edited_timestamp": edited,
        "tts": False,
        "mention_everyone": everyone,
        "mentions": [user_payload(world.users[u]) for u in user_ids],
        "mention_roles": [str(r) for r in role_ids],
        "attachments": attachments or [],
        "embeds": embeds or [],
        "components": components or [],
        "pinned": False,
        "type": message_type,
        "flags": flags,
    }
    if message_reference is not None:
        data["message_reference"] = message_reference
        data["referenced_message"] = referenced
    if webhook_id is not None:
        data["webhook_id"] = str(webhook_id)
        data["application_id"] = str(webhook_id)
    if interaction_metadata is not None:
        data["interaction_metadata"] = interaction_metadata
    return data


def gateway_message(world: World, message: JSON, channel: Channel, author: User) -> JSON:
    """MESSAGE_CREATE/UPDATE carry ``guild_id`` and the author's partial ``member``."""
    data = dict(message)
    if channel.guild_id is not None:
        data["guild_id"] = str(channel.guild_id)
        member = world.member_in(author.id, channel.guild_id)
        if member is not None and message.get("webhook_id") is None:
            data["member"] = member_payload(member, with_user=False)
    return data


def interaction_payload(
    world: World,
    *,
    interaction_id: int,
    token: str,
    user: User,
    channel: Channel,
    data: JSON,
    permissions: int,
    role_ids: list[int],
    locale: str,
    kind: int = 2,
    message: JSON | None = None,
) -> JSON:
    """INTERACTION_CREATE for an application command (type 2) or a click on a component of
    ``message`` (type 3), in a guild channel or a DM."""
    payload: JSON = {
        "id": str(interaction_id),
        "application_id": str(world.bot_user.id),
        "type": kind,
        "token": token,
        "version": 1,
        "data": data,
        "channel_id": str(channel.id),
        "channel": channel_payload(world, channel),
        "locale": locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        "app_permissions": str(world.permissions_of(world.bot_user.id, channel.guild_id)),
    }
    if message is not None:
        payload["message"] = message
    if channel.is_dm:
        payload["user"] = user_payload(user)
        payload["context"] = 1  # BOT_DM
        payload["authorizing_integration_owners"] = {"0": "0"}
    else:
        guild_id = str(channel.guild_id)
        member = world.members.get(user.id) or Member(user)
        member = Member(member.user, role_ids, member.nick, member.joined_at)
        payload["guild_id"] = guild_id
        payload["guild"] = {"id": guild_id, "locale": "en-US", "features": []}
        payload["guild_locale"] = "en-US"
        payload["member"] = member_payload(member, permissions=permissions)
        payload["context"] = 0  # GUILD
        payload["authorizing_integration_owners"] = {"0": guild_id}
    return payload
