"""The fake Discord's population: guilds (one to begin with; ``add_guild`` adds more), their roles,
channels and members, plus DM channels.

Everything here is plain data. Payload shapes live in ``payloads.py``; the server mutates a
``World`` and the harness hands its ``User``/``Channel``/``Role`` records to tests.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Generic, Literal, TypeVar

import discord

# Discord's epoch (2015-01-01T00:00:00Z) in milliseconds, as in discord.utils.DISCORD_EPOCH.
DISCORD_EPOCH_MS = 1_420_070_400_000

T = TypeVar("T")


class SnowflakeFactory:
    """Unique, increasing, realistic snowflakes (19 digits today), like Discord's.

    discord.py's mention regexes and converters expect 15-20 digits, and ``created_at`` reads the
    timestamp bits, so ids are built the way Discord builds them rather than counted from 1.
    """

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> int:
        now = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(now, self._last + 1)
        return self._last

    def routed(self, shard_id: int, shard_count: int) -> int:
        """A new id that Discord's sharding formula, ``(id >> 22) % shard_count``, sends to
        ``shard_id``: the timestamp part is moved on to the next millisecond that does."""
        if not 0 <= shard_id < shard_count:
            raise ValueError(f"shard {shard_id} is not below the shard count {shard_count}")
        millis = (self() >> 22) + 1
        millis += (shard_id - millis) % shard_count
        self._last = millis << 22
        return self._last


@dataclass(frozen=True)
class User:
    id: int
    name: str
    bot: bool = False

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass(frozen=True)
class Guild:
    id: int
    name: str


@dataclass(frozen=True)
class Role:
    id: int
    name: str
    permissions: int
    position: int
    managed: bool = False
    # The bot whose integration made this role ("tags": {"bot_id": …}): a bot's own role.
    bot_id: int | None = None
    guild_id: int = 0  # set by World.add_role

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"


@dataclass(frozen=True)
class Channel:
    id: int
    name: str
    kind: Literal["text", "dm", "public_thread", "private_thread"]
    guild_id: int | None
    position: int = 0
    recipient_id: int | None = None  # the human side of a DM channel
    parent_id: int | None = None  # the text channel a thread was started in
    owner_id: int | None = None  # who started a thread

    @property
    def is_dm(self) -> bool:
        return self.kind == "dm"

    @property
    def is_thread(self) -> bool:
        return self.kind in ("public_thread", "private_thread")

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"


@dataclass
class Member:
    user: User
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = "2024-01-01T00:00:00+00:00"


class Named(Generic[T]):
    """Read-only name lookup with attribute access: ``users.alice`` or ``users["alice"]``."""

    def __init__(self, items: Mapping[str, T]) -> None:
        self._items = items

    def __getattr__(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise AttributeError(f"no entry named {name!r}; known: {sorted(self._items)}") from None

    def __getitem__(self, name: str) -> T:
        return self.__getattr__(name)

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)


# What a new guild's @everyone gets on Discord today, close enough for permission checks.
EVERYONE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    embed_links=True,
    attach_files=True,
    add_reactions=True,
    use_external_emojis=True,
    read_message_history=True,
    use_application_commands=True,
    change_nickname=True,
    connect=True,
    speak=True,
).value
MODERATOR_PERMISSIONS = discord.Permissions(manage_guild=True, manage_messages=True).value
ALL_PERMISSIONS = discord.Permissions.all().value
ADMINISTRATOR = discord.Permissions(administrator=True).value


class World:
    """One guild with users ``alice``, ``bob`` (plain members), ``mod`` (Moderators role: Manage
    Server, Manage Messages) and ``owner`` (guild owner, so every permission), channels
    ``general`` and ``news`` (threads are added with ``add_thread``), and the bot user.

    ``add_guild`` adds more guilds: every user is a member of each (holding only its @everyone
    role there), ``owner`` owns them all, each has the channels it is given, and ``guild_id``
    stays the first guild's."""

    def __init__(self, *, guild_name: str = "Local Guild", bot_name: str = "citebot") -> None:
        self.new_id = SnowflakeFactory()
        self.guild_id = self.new_id()
        self.guild_name = guild_name
        self.guilds: dict[int, Guild] = {self.guild_id: Guild(self.guild_id, guild_name)}
        self.bot_user = User(self.new_id(), bot_name, bot=True)
        self.users: dict[int, User] = {self.bot_user.id: self.bot_user}
        self.members: dict[int, Member] = {}
        self.roles: dict[int, Role] = {}
        self.channels: dict[int, Channel] = {}
        self._names: dict[str, User] = {}
        self._channel_names: dict[str, Channel] = {}
        self._role_names: dict[str, Role] = {}
        self._positions = itertools.count(1)

        self.add_role("@everyone", EVERYONE_PERMISSIONS, role_id=self.guild_id, position=0)
        moderators = self.add_role("Moderators", MODERATOR_PERMISSIONS)
        bot_role = self.add_role(bot_name, EVERYONE_PERMISSIONS, managed=True)
        bot_role = self.roles[bot_role.id] = replace(bot_role, bot_id=self.bot_user.id)
        self._role_names[bot_name] = bot_role
        self.members[self.bot_user.id] = Member(self.bot_user, [bot_role.id])
        for name in ("alice", "bob"):
            self.add_user(name)
        self.add_user("mod", role_ids=[moderators.id])
        self.owner = self.add_user("owner")
        for name in ("general", "news"):
            self.add_channel(name)

    # -- population -------------------------------------------------------------------------

    def add_guild(
        self, name: str, channels: tuple[str, ...] = (), *, shard: tuple[int, int] | None = None
    ) -> Guild:
        """Another guild, with text ``channels`` (names unique across the world, so tests can say
        ``channels.lobby``) and the bot's own role. ``shard=(shard_id, shard_count)`` picks an id
        that shard receives."""
        guild_id = self.new_id() if shard is None else self.new_id.routed(*shard)
        guild = self.guilds[guild_id] = Guild(guild_id, name)
        self.add_role(
            "@everyone", EVERYONE_PERMISSIONS, role_id=guild_id, position=0, guild_id=guild_id
        )
        bot_role = self.add_role(
            self.bot_user.name, EVERYONE_PERMISSIONS, managed=True, guild_id=guild_id
        )
        self.roles[bot_role.id] = replace(bot_role, bot_id=self.bot_user.id)
        self.members[self.bot_user.id].role_ids.append(bot_role.id)
        for channel in channels:
            self.add_channel(channel, guild_id=guild_id)
        return guild

    def add_user(self, name: str, *, bot: bool = False, role_ids: list[int] | None = None) -> User:
        if name in self._names:
            raise ValueError(f"a user named {name!r} already exists; pick another name")
        user = User(self.new_id(), name, bot=bot)
        self.users[user.id] = user
        self._names[name] = user
        self.members[user.id] = Member(user, list(role_ids or []))
        return user

    def add_role(
        self,
        name: str,
        permissions: int,
        *,
        role_id: int | None = None,
        position: int | None = None,
        managed: bool = False,
        guild_id: int | None = None,
    ) -> Role:
        """A role in ``guild_id`` (default: the first guild); names are looked up in the first."""
        pos = next(self._positions) if position is None else position
        guild_id = self.guild_id if guild_id is None else guild_id
        role = Role(
            role_id or self.new_id(), name, permissions, pos, managed=managed, guild_id=guild_id
        )
        self.roles[role.id] = role
        if guild_id == self.guild_id:
            self._role_names[name] = role
        return role

    def add_channel(self, name: str, *, guild_id: int | None = None) -> Channel:
        if name in self._channel_names:
            raise ValueError(f"a channel named {name!r} already exists; pick another name")
        guild_id = self.guild_id if guild_id is None else guild_id
        if guild_id not in self.guilds:
            raise ValueError(f"no guild has id {guild_id}")
        position = sum(1 for c in self.channels.values() if c.guild_id == guild_id)
        channel = Channel(self.new_id(), name, "text", guild_id, position=position)
        self.channels[channel.id] = channel
        self._channel_names[name] = channel
        return channel

    def add_thread(
        self,
        name: str,
        parent: Channel,
        *,
        owner: User | None = None,
        private: bool = False,
        thread_id: int | None = None,
    ) -> Channel:
        """A thread in the text channel ``parent``, started by ``owner`` (default alice). The
        bot is taken to be in a private thread (Discord shows it no others). Thread names need
        not be unique on Discord; a repeated name is found by ``named_channels`` as the latest."""
        if parent.kind != "text":
            raise ValueError(f"threads start in a text channel; {parent.name!r} is {parent.kind}")
        named = self._channel_names.get(name)
        if named is not None and not named.is_thread and thread_id is None:
            raise ValueError(f"a channel named {name!r} already exists; pick another name")
        thread = Channel(
            thread_id or self.new_id(),
            name,
            "private_thread" if private else "public_thread",
            parent.guild_id,
            parent_id=parent.id,
            owner_id=(owner or self._names["alice"]).id,
        )
        self.channels[thread.id] = thread
        if named is None or named.is_thread:
            self._channel_names[name] = thread
        return thread

    def dm_channel(self, user: User) -> Channel:
        """The DM channel between the bot and ``user``, created on first use."""
        for channel in self.channels.values():
            if channel.is_dm and channel.recipient_id == user.id:
                return channel
        channel = Channel(self.new_id(), user.name, "dm", None, recipient_id=user.id)
        self.channels[channel.id] = channel
        return channel

    # -- lookups ----------------------------------------------------------------------------

    @property
    def named_users(self) -> Named[User]:
        return Named(self._names)

    @property
    def named_channels(self) -> Named[Channel]:
        return Named(self._channel_names)

    @property
    def named_roles(self) -> Named[Role]:
        return Named(self._role_names)

    def guild_channels(self, guild_id: int | None = None) -> list[Channel]:
        """A guild's channels (default: the first guild's), threads aside (GUILD_CREATE lists
        those apart)."""
        guild_id = self.guild_id if guild_id is None else guild_id
        return [
            c
            for c in self.channels.values()
            if c.guild_id == guild_id and not c.is_dm and not c.is_thread
        ]

    def threads(self, guild_id: int | None = None) -> list[Channel]:
        guild_id = self.guild_id if guild_id is None else guild_id
        return [c for c in self.channels.values() if c.is_thread and c.guild_id == guild_id]

    def guild_roles(self, guild_id: int | None = None) -> list[Role]:
        guild_id = self.guild_id if guild_id is None else guild_id
        return [r for r in self.roles.values() if r.guild_id == guild_id]

    def member_in(self, user_id: int, guild_id: int | None = None) -> Member | None:
        """The user as a member of a guild (default: the first): their roles there only."""
        member = self.members.get(user_id)
        if member is None:
            return None
        guild_id = self.guild_id if guild_id is None else guild_id
        roles = [
            r for r in member.role_ids if r in self.roles and self.roles[r].guild_id == guild_id
        ]
        return Member(member.user, roles, member.nick, member.joined_at)

    def permissions_of(self, user_id: int, guild_id: int | None = None) -> int:
        """Permissions in a guild (default: the first), resolved as Discord does (owner and
        Administrator: all)."""
        if user_id == self.owner.id:
            return ALL_PERMISSIONS
        guild_id = self.guild_id if guild_id is None else guild_id
        member = self.member_in(user_id, guild_id)
        if member is None:
            return 0
        value = self.roles[guild_id].permissions
        for role_id in member.role_ids:
            value |= self.roles[role_id].permissions
        return ALL_PERMISSIONS if value & ADMINISTRATOR else value
