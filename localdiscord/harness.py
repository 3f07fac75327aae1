"""The user side: run an unmodified discord.py bot against a ``Server`` and talk to it."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import discord

from . import patch
from .errors import BotNotReady, InteractionFailed
from .interactions import PendingInteraction
from .messages import MessageStore, StoredMessage
from .records import BotMessage, InteractionResult, RecordedRequest
from .uploads import UserFile
from .world import Channel, Named, Role, User, World

BotT = TypeVar("BotT", bound=discord.Client)
T = TypeVar("T")


class Server(Protocol):
    """What the user side needs of the server (``LocalDiscord`` implements it): the harness
    depends on this, not on the server module, which builds sessions through ``run_bot``."""

    ack_deadline: float
    token: str
    world: World
    messages: MessageStore
    requests: list[RecordedRequest]

    @property
    def api_url(self) -> str: ...

    @property
    def gateway_url(self) -> str: ...

    @property
    def users(self) -> Named[User]: ...

    @property
    def channels(self) -> Named[Channel]: ...

    @property
    def roles(self) -> Named[Role]: ...

    async def wait_for(
        self,
        check: Callable[[], T | None],
        *,
        timeout: float = 10.0,
        describe: Callable[[], str] = ...,
    ) -> T: ...

    async def post_user_message(
        self, author: User, channel: Channel, content: str, *, reply_to: int | None = None
    ) -> StoredMessage: ...

    def upload(self, filename: str, data: bytes, content_type: str | None = None) -> UserFile: ...

    async def create_interaction(
        self,
        command: str,
        options: Mapping[str, object],
        *,
        user: User,
        channel: Channel,
        permissions: int | None,
        role_ids: list[int] | None,
        locale: str,
        check_visible: bool,
    ) -> PendingInteraction: ...

    async def create_thread(
        self,
        name: str,
        parent: Channel,
        *,
        owner: User | None = None,
        private: bool = False,
        thread_id: int | None = None,
    ) -> Channel: ...

    async def create_click(
        self,
        message_id: int,
        button: str,
        *,
        user: User,
        permissions: int | None,
        role_ids: list[int] | None,
        locale: str,
    ) -> PendingInteraction: ...


AT_NAME = re.compile(r"(?<![<\w])@([\w-]+)")


@dataclass(frozen=True)
class UserMessage:
    """A message a (fake) person posted; ``content`` is as typed, before any intent stripping."""

    id: int
    channel: Channel
    author: User
    content: str


class Exchange:
    """A user message and the bot's messages answering it."""

    def __init__(self, server: Server, message: UserMessage) -> None:
        self.server = server
        self.message = message

    def messages(self, *, replies_only: bool = True) -> list[BotMessage]:
        """Current state of the bot's replies to this message (``replies_only``) or of every bot
        message posted in this channel after it."""
        store = self.server.messages
        if replies_only:
            found = store.replies.get(self.message.id, [])
        else:
            bot_id = self.server.world.bot_user.id
            found = [
                m
                for m in store.by_channel.get(self.message.channel.id, [])
                if m.id > self.message.id and m.author.id == bot_id
            ]
        return [m.snapshot() for m in found if not m.deleted]

    async def wait_messages(
        self, count: int = 1, *, timeout: float = 10.0, replies_only: bool = True
    ) -> list[BotMessage]:
        """Wait until the bot has at least ``count`` messages answering this one; return them."""

        def check() -> list[BotMessage] | None:
            found = self.messages(replies_only=replies_only)
            return found if len(found) >= count else None

        def describe() -> str:
            kind = "replies to" if replies_only else "messages after"
            recent = [f"{r.method} {r.path} -> {r.status}" for r in self.server.requests[-8:]]
            got = len(self.messages(replies_only=replies_only))
            return (
                f"wanted {count} bot {kind} message {self.message.id} "
                f"({self.message.content[:60]!r}), got {got}; last requests: {recent}"
            )

        return await self.server.wait_for(check, timeout=timeout, describe=describe)

    @property
    def thread(self) -> Channel | None:
        """The thread started from this message, if any (it has the message's id)."""
        channel = self.server.world.channels.get(self.message.id)
        return channel if channel is not None and channel.is_thread else None

    async def wait_thread_messages(
        self, count: int = 1, *, timeout: float = 10.0
    ) -> list[BotMessage]:
        """Wait until the bot has started a thread from this message and posted at least
        ``count`` messages in it; return them."""

        def check() -> list[BotMessage] | None:
            thread = self.thread
            found = bot_messages_in(self.server, thread) if thread is not None else []
            return found if len(found) >= count else None

        def describe() -> str:
            thread = self.thread
            state = "no thread was started" if thread is None else f"thread {thread.name!r}"
            return f"wanted {count} bot message(s) in a thread on {self.message.id}: {state}"

        return await self.server.wait_for(check, timeout=timeout, describe=describe)


def bot_messages_in(server: Server, channel: Channel) -> list[BotMessage]:
    """The bot's messages in ``channel`` (a thread, say), oldest first, as they are now."""
    bot_id = server.world.bot_user.id
    return [
        m.snapshot()
        for m in server.messages.by_channel.get(channel.id, [])
        if m.author.id == bot_id and not m.deleted
    ]


class Invocation:
    """A slash command a user ran, and what the bot did about it."""

    def __init__(self, server: Server, pending: PendingInteraction) -> None:
        self.server = server
        self._pending = pending

    @property
    def id(self) -> int:
        return self._pending.id

    def result(self) -> InteractionResult:
        return self._pending.result(asyncio.get_running_loop().time())

    async def wait(
        self,
        ready: Callable[[InteractionResult], bool],
        *,
        timeout: float = 10.0,
        what: str = "the condition",
    ) -> InteractionResult:
        """Wait until ``ready(result)``; fails fast if the bot missed the ack deadline."""

        def check() -> InteractionResult | None:
            result = self.result()
            if ready(result):
                return result
            if result.expired:
                raise InteractionFailed(
                    f"/{result.command}: the bot did not acknowledge the interaction within "
                    f"{self.server.ack_deadline:g}s (Discord shows 'The application did not "
                    f"respond'); actions: {[a.kind for a in result.actions]}"
                )
            return None

        def describe() -> str:
            result = self.result()
            steps = [(a.kind, a.callback_type) for a in result.actions]
            return f"/{result.command}: waiting for {what}; actions so far: {steps}"

        return await self.server.wait_for(check, timeout=timeout, describe=describe)

    async def wait_acknowledged(self, timeout: float = 10.0) -> InteractionResult:
        """Wait until the bot has acknowledged the interaction (any callback)."""
        return await self.wait(
            lambda r: bool(r.callback_types), timeout=timeout, what="an acknowledgement"
        )

    async def wait_done(self, timeout: float = 10.0) -> InteractionResult:
        """Wait until the user can see an answer: a message response, or a deferral followed by
        an edit of the original or a follow-up."""
        return await self.wait(lambda r: r.answered, timeout=timeout, what="an answer")

    async def wait_followups(self, count: int = 1, *, timeout: float = 10.0) -> InteractionResult:
        return await self.wait(
            lambda r: len(r.followups) >= count, timeout=timeout, what=f"{count} follow-up(s)"
        )

    async def wait_edits(self, count: int = 1, *, timeout: float = 10.0) -> InteractionResult:
        return await self.wait(
            lambda r: len(r.original_edits) >= count,
            timeout=timeout,
            what=f"{count} edit(s) of @original",
        )


class BotSession(Generic[BotT]):
    """A running bot connected to the fake; the handle tests and ``citebot chat`` talk through."""

    def __init__(self, server: Server, bot: BotT) -> None:
        self.server = server
        self.bot = bot

    @property
    def users(self) -> Named[User]:
        return self.server.users

    @property
    def channels(self) -> Named[Channel]:
        return self.server.channels

    @property
    def roles(self) -> Named[Role]:
        return self.server.roles

    @property
    def bot_user(self) -> User:
        return self.server.world.bot_user

    def upload(self, filename: str, data: bytes, content_type: str | None = None) -> UserFile:
        """A file to attach: pass it as a file option's value, ``{"file": session.upload(...)}``."""
        return self.server.upload(filename, data, content_type)

    def dm_channel(self, user: User) -> Channel:
        """The DM channel between ``user`` and the bot; pass it as ``channel=`` for DMs."""
        return self.server.world.dm_channel(user)

    def mentionify(self, text: str) -> str:
        """Turn ``@alice``, ``@citebot`` or ``@Moderators`` into Discord mention syntax."""
        world = self.server.world
        names = {u.name.lower(): u.mention for u in world.users.values()}
        names.update(
            {r.name.lower(): r.mention for r in world.roles.values() if r.id not in world.guilds}
        )

        def replace(match: re.Match[str]) -> str:
            return names.get(match.group(1).lower(), match.group(0))

        return AT_NAME.sub(replace, text)

    async def send_message(
        self,
        content: str,
        *,
        author: User | None = None,
        channel: Channel | None = None,
        mention_bot: bool = False,
        reply_to: int | None = None,
    ) -> Exchange:
        """Post ``content`` as ``author`` (default alice) in ``channel`` (default #general);
        ``mention_bot`` prefixes ``<@bot>`` so the bot sees the content even without the
        message content intent."""
        author = author or self.users.alice
        channel = channel or self.channels.general
        mention = self.bot_user.mention
        if mention_bot and mention not in content:
            content = f"{mention} {content}"
        stored = await self.server.post_user_message(author, channel, content, reply_to=reply_to)
        return Exchange(self.server, UserMessage(stored.id, channel, author, content))

    async def invoke(
        self,
        command: str,
        options: Mapping[str, object] | None = None,
        *,
        user: User | None = None,
        channel: Channel | None = None,
        permissions: discord.Permissions | int | None = None,
        roles: list[Role] | None = None,
        locale: str = "en-US",
        check_visible: bool = True,
    ) -> Invocation:
        """Run a slash command as ``user`` (default alice) in ``channel`` (default #general; a
        ``dm_channel(...)`` for a DM). ``command`` may name subcommands: ``"admin reindex"``.

        ``permissions`` overrides the member's permissions (default: resolved from their roles;
        ``users.mod`` has Manage Server, ``users.owner`` everything); ``roles`` overrides their
        roles. Discord's client refuses commands hidden by ``default_member_permissions`` or
        unavailable in DMs; ``check_visible=False`` sends the interaction anyway."""
        perms = permissions.value if isinstance(permissions, discord.Permissions) else permissions
        pending = await self.server.create_interaction(
            command,
            options or {},
            user=user or self.users.alice,
            channel=channel or self.channels.general,
            permissions=perms,
            role_ids=None if roles is None else [r.id for r in roles],
            locale=locale,
            check_visible=check_visible,
        )
        return Invocation(self.server, pending)

    async def click(
        self,
        message: BotMessage | int,
        button: str,
        *,
        user: User | None = None,
        permissions: discord.Permissions | int | None = None,
        roles: list[Role] | None = None,
        locale: str = "en-US",
    ) -> Invocation:
        """Click a button of the bot's ``message`` as ``user`` (default alice): ``button`` is
        its custom_id, label or emoji. Raises ``InvocationError`` for a button Discord's client
        would not offer (absent, disabled, a link) or a message the user cannot see."""
        perms = permissions.value if isinstance(permissions, discord.Permissions) else permissions
        pending = await self.server.create_click(
            message if isinstance(message, int) else message.id,
            button,
            user=user or self.users.alice,
            permissions=perms,
            role_ids=None if roles is None else [r.id for r in roles],
            locale=locale,
        )
        return Invocation(self.server, pending)

    async def start_thread(
        self, name: str, *, channel: Channel | None = None, owner: User | None = None
    ) -> Channel:
        """A person (``owner``, default alice) starts a public thread in ``channel`` (default
        #general); the bot gets THREAD_CREATE."""
        return await self.server.create_thread(
            name, channel or self.channels.general, owner=owner or self.users.alice
        )

    def messages_in(self, channel: Channel) -> list[BotMessage]:
        """The bot's messages in ``channel``, oldest first."""
        return bot_messages_in(self.server, channel)


async def _wait_ready(bot: discord.Client, connect: asyncio.Task[None], timeout: float) -> None:
    ready = asyncio.create_task(bot.wait_until_ready())
    done, _ = await asyncio.wait(
        {ready, connect}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
    )
    if ready in done:
        return
    ready.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ready
    if connect in done:
        connect.result()  # re-raises the connection error, if any
        raise BotNotReady("the bot's connection ended before it was ready")
    raise BotNotReady(f"the bot was not ready after {timeout:g}s")


@contextlib.asynccontextmanager
async def run_bot(
    server: Server,
    bot_factory: Callable[[], BotT],
    *,
    token: str | None,
    reconnect: bool,
    ready_timeout: float,
) -> AsyncIterator[BotSession[BotT]]:
    """See ``LocalDiscord.running``."""
    with patch.pointed_at(server.api_url, server.gateway_url):
        bot = bot_factory()
        async with bot:  # closes the bot (and its HTTP session) on every way out
            await bot.login(token if token is not None else server.token)
            connect = asyncio.create_task(
                bot.connect(reconnect=reconnect), name="localdiscord: bot.connect"
            )
            try:
                await _wait_ready(bot, connect, ready_timeout)
                yield BotSession(server, bot)
            finally:
                crashed: BaseException | None = None
                if connect.done() and not connect.cancelled():
                    crashed = connect.exception()
                await bot.close()
                try:
                    await asyncio.wait_for(connect, timeout=5.0)
                except Exception:
                    if crashed is None:
                        raise
            if crashed is not None:
                # The gateway connection died while the test ran (e.g. a payload discord.py
                # could not parse); the test must not pass on a dead bot.
                raise crashed
