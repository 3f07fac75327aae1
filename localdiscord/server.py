"""``LocalDiscord``: the fake Discord on 127.0.0.1 (REST + gateway) and its test-side controls.

async with LocalDiscord() as fake:
    async with fake.running(lambda: MyBot(**fake.client_options)) as session:
        exchange = await session.send_message("hello", mention_bot=True)
        replies = await exchange.wait_messages(1)
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, TypeVar

import discord
from aiohttp import web

from . import commands, components, harness, payloads, rest
from .commands import CommandRegistry
from .errors import InvocationError, LocalDiscordError
from .faults import Fault, Faults
from .gateway import (
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    ConnectionRecord,
    Gateway,
)
from .interactions import InteractionBook, PendingInteraction
from .messages import MessageStore, StoredMessage
from .records import EPHEMERAL, BotMessage, Changes, RecordedRequest
from .uploads import CDN, UploadStore, UserFile, attachment_payload
from .world import Channel, Guild, Named, Role, User, World

T = TypeVar("T")
BotT = TypeVar("BotT", bound=discord.Client)
JSON = dict[str, Any]


class LocalDiscord:
    """A fake Discord for one bot: guilds, users, channels, the REST API and the gateway.

    ``ack_deadline`` is how long the bot has to acknowledge an interaction (3 s on Discord).
    ``shard_count`` is the number of shards ``/gateway/bot`` recommends; above 1, the gateway
    requires a sharded IDENTIFY. Bots in several processes may each run some of the shards.
    """

    def __init__(
        self,
        *,
        token: str = "localdiscord-bot-token",
        guild_name: str = "Local Guild",
        bot_name: str = "citebot",
        ack_deadline: float = 3.0,
        heartbeat_interval: float = 41.25,
        host: str = "127.0.0.1",
        port: int = 0,
        shard_count: int = 1,
    ) -> None:
        self.token = token
        self.ack_deadline = ack_deadline
        self.world = World(guild_name=guild_name, bot_name=bot_name)
        self.changes = Changes()
        self.messages = MessageStore(self.world)
        self.commands = CommandRegistry(self.world)
        self.faults = Faults()
        self.gateway = Gateway(
            self.world,
            self.changes,
            token=token,
            heartbeat_interval=heartbeat_interval,
            shard_count=shard_count,
        )
        self.interactions = InteractionBook(self)
        self.uploads = UploadStore(self.world)
        self.requests: list[RecordedRequest] = []
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[rest.middleware])
        app[rest.SERVER] = self
        rest.add_routes(app)
        app.router.add_get("/", self.gateway.handle)
        app.router.add_get("/resume", self.gateway.handle)
        app.router.add_get(CDN + "/{file_id}/{filename}", self._serve_upload)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        self.gateway.resume_url = f"ws://{self._host}:{self._port}/resume"

    async def stop(self) -> None:
        if self._runner is not None:
            await self.gateway.close_all()
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LocalDiscord:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def api_url(self) -> str:
        return f"http://{self._host}:{self._port}{rest.API}"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self._host}:{self._port}/"

    @property
    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for the bot's ``discord.Client`` that make start-up fast here:
        READY waits ``guild_ready_timeout`` (2 s by default) after the last GUILD_CREATE."""
        return {"guild_ready_timeout": 0.1}

    def running(
        self,
        bot_factory: Callable[[], BotT],
        *,
        token: str | None = None,
        reconnect: bool = False,
        ready_timeout: float = 10.0,
    ) -> AbstractAsyncContextManager[harness.BotSession[BotT]]:
        """Point discord.py here, build the bot, log in (``setup_hook`` runs, so command syncs
        land), connect, wait for ``on_ready``; close the bot on exit. ``reconnect`` is passed to
        ``bot.connect``: False surfaces gateway errors instead of retrying with back-off
        (op 7 RECONNECT and RESUME work either way)."""
        return harness.run_bot(
            self, bot_factory, token=token, reconnect=reconnect, ready_timeout=ready_timeout
        )

    # -- the population --------------------------------------------------------------------------

    @property
    def users(self) -> Named[User]:
        return self.world.named_users

    @property
    def channels(self) -> Named[Channel]:
        return self.world.named_channels

    @property
    def roles(self) -> Named[Role]:
        return self.world.named_roles

    @property
    def bot_user(self) -> User:
        return self.world.bot_user

    async def add_guild(
        self, name: str, channels: tuple[str, ...] = (), *, shard: tuple[int, int] | None = None
    ) -> Guild:
        """Add the bot to another guild, owned by ``users.owner``, every user a plain member,
        with text ``channels`` (their names unique across guilds, so ``channels.lobby`` finds
        one); ``shard=(shard_id, shard_count)`` picks an id that this shard receives. Before the
        bot connects the guild arrives in its GUILD_CREATEs; a connected shard gets
        GUILD_CREATE then, as when a bot joins a server."""
        guild = self.world.add_guild(name, channels, shard=shard)
        if self.gateway.has_intent(INTENT_GUILDS):
            all_members = self.gateway.has_intent(INTENT_GUILD_MEMBERS)
            data = payloads.guild_payload(self.world, all_members=all_members, guild_id=guild.id)
            await self.gateway.dispatch("GUILD_CREATE", data, guild_id=guild.id)
        self.changes.changed()
        return guild

    @property
    def bot_messages(self) -> list[BotMessage]:
        """Every create, edit and delete the bot made, in order, as snapshots."""
        return list(self.messages.bot_log)

    # -- uploads ----------------------------------------------------------------------------------

    def upload(self, filename: str, data: bytes, content_type: str | None = None) -> UserFile:
        """A file a user attaches; pass it as an attachment option's value to ``invoke``."""
        return self.uploads.add(filename, data, content_type)

    async def _serve_upload(self, request: web.Request) -> web.Response:
        try:
            file = self.uploads.download(int(request.match_info["file_id"]))
        except ValueError:
            file = None
        if file is None or file.filename != request.match_info["filename"]:
            return web.Response(status=404, text="Not Found")
        self.changes.changed()
        return web.Response(
            body=file.data, content_type=file.content_type or "application/octet-stream"
        )

    # -- fault injection ----------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int = 429,
        *,
        times: int = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
    ) -> Fault:
        """Answer the next ``times`` requests matching ``method`` (or ``"*"``) and
        ``path_regex`` (full match against the path after ``/api/v10``, e.g.
        ``r"/channels/\\d+/messages"``) with ``status``. A 429 carries ``retry_after`` seconds
        and the ``Via`` header that makes discord.py retry."""
        return self.faults.add(
            method, path_regex, status, times=times, retry_after=retry_after, is_global=is_global
        )

    async def request_reconnect(
        self, *, wait: bool = True, timeout: float = 10.0, shard_id: int = 0
    ) -> None:
        """Send op 7 RECONNECT to a shard; with ``wait``, return once it has RESUMEd."""
        before = self.gateway.resumes
        await self.gateway.request_reconnect(shard_id)
        if wait:
            await self._wait_resumed(before, timeout)

    async def drop_connection(
        self, code: int = 4000, *, wait: bool = True, timeout: float = 10.0, shard_id: int = 0
    ) -> None:
        """Close a shard's gateway socket with ``code``; with ``wait``, until it has RESUMEd."""
        before = self.gateway.resumes
        await self.gateway.drop_connection(code, shard_id)
        if wait:
            await self._wait_resumed(before, timeout)

    async def _wait_resumed(self, before: int, timeout: float) -> None:
        await self.wait_for(
            lambda: True if self.gateway.resumes > before else None,
            timeout=timeout,
            describe=lambda: f"the bot did not RESUME; connections: {self.gateway.connections}",
        )

    @property
    def connections(self) -> list[ConnectionRecord]:
        return list(self.gateway.connections)

    # -- waiting ----------------------------------------------------------------------------------

    async def wait_for(
        self,
        check: Callable[[], T | None],
        *,
        timeout: float = 10.0,
        describe: Callable[[], str] = lambda: "condition not met",
    ) -> T:
        """Await the first non-None ``check()``, re-checked after every recorded action."""
        return await self.changes.wait_for(check, timeout=timeout, describe=describe)

    # -- delivering to the bot ------------------------------------------------------------------

    def _content_visible(self, stored: StoredMessage) -> bool:
        # Discord sends content without the intent for DMs, the bot's own messages and
        # messages that mention the bot.
        if self.gateway.has_intent(INTENT_MESSAGE_CONTENT) or stored.channel.is_dm:
            return True
        bot_id = str(self.world.bot_user.id)
        mentioned = any(u["id"] == bot_id for u in stored.payload["mentions"])
        return stored.author.id == self.world.bot_user.id or mentioned

    async def publish(self, event: str, stored: StoredMessage) -> None:
        """Dispatch MESSAGE_CREATE/UPDATE/DELETE as Discord would for this bot's intents."""
        self.changes.changed()
        if stored.payload["flags"] & EPHEMERAL:
            return
        needed = INTENT_DIRECT_MESSAGES if stored.channel.is_dm else INTENT_GUILD_MESSAGES
        if not self.gateway.has_intent(needed):
            return
        if event == "MESSAGE_DELETE":
            data: JSON = {"id": str(stored.id), "channel_id": str(stored.channel.id)}
            if stored.channel.guild_id is not None:
                data["guild_id"] = str(stored.channel.guild_id)
        else:
            data = payloads.gateway_message(
                self.world, stored.payload, stored.channel, stored.author
            )
            if not self._content_visible(stored):
                data.update(content="", embeds=[], attachments=[], components=[])
        await self.gateway.dispatch(event, data)

    def _require_bot(self) -> None:
        if self.gateway.intents is None:
            raise LocalDiscordError("no bot has connected to the gateway yet")

    async def create_thread(
        self,
        name: str,
        parent: Channel,
        *,
        owner: User | None = None,
        private: bool = False,
        thread_id: int | None = None,
    ) -> Channel:
        """Start a thread in ``parent``; a connected bot gets THREAD_CREATE, as on Discord (a
        bot that connects later finds it in GUILD_CREATE). A thread started from a message
        takes the message's id (``thread_id``), as on Discord."""
        thread = self.world.add_thread(
            name, parent, owner=owner, private=private, thread_id=thread_id
        )
        if self.gateway.has_intent(INTENT_GUILDS):
            data = {**payloads.thread_payload(self.world, thread), "newly_created": True}
            await self.gateway.dispatch("THREAD_CREATE", data)
        self.changes.changed()
        return thread

    async def post_user_message(
        self, author: User, channel: Channel, content: str, *, reply_to: int | None = None
    ) -> StoredMessage:
        self._require_bot()
        body: JSON = {"content": content}
        if reply_to is not None:
            body["message_reference"] = {"message_id": reply_to}
        stored = self.messages.create(channel, author, body)
        await self.publish("MESSAGE_CREATE", stored)
        return stored

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
    ) -> PendingInteraction:
        self._require_bot()
        path = command.removeprefix("/").split()
        guild_id = channel.guild_id
        registered = self.commands.find(path[0], guild_id=guild_id)
        perms = self.world.permissions_of(user.id, guild_id) if permissions is None else permissions
        if check_visible:
            commands.check_visible(
                self.world, registered, permissions=perms, in_dm=channel.is_dm, user_name=user.name
            )
        data = commands.invocation_data(
            registered,
            path[1:],
            options,
            attachment=lambda f: attachment_payload(f, self.base_url),
        )
        return await self._interact(
            " ".join(path),
            data,
            user=user,
            channel=channel,
            permissions=perms,
            role_ids=role_ids,
            locale=locale,
        )

    async def create_click(
        self,
        message_id: int,
        button: str,
        *,
        user: User,
        permissions: int | None,
        role_ids: list[int] | None,
        locale: str,
    ) -> PendingInteraction:
        """``user`` clicks the button (by custom_id, label or emoji) on the bot's message."""
        self._require_bot()
        stored = self.messages.get(message_id)
        if stored.payload["flags"] & EPHEMERAL and stored.interaction_id is not None:
            shown_to = self.interactions.by_id[stored.interaction_id].user
            if shown_to.id != user.id:
                raise InvocationError(f"only {shown_to.name} can see message {message_id}")
        found = components.find_button(stored.payload, button)
        data = {"custom_id": found["custom_id"], "component_type": components.BUTTON}
        # A click in a thread is in its parent channel's guild, like the thread itself.
        guild_id = stored.channel.guild_id
        perms = self.world.permissions_of(user.id, guild_id) if permissions is None else permissions
        return await self._interact(
            found["custom_id"],
            data,
            user=user,
            channel=stored.channel,
            permissions=perms,
            role_ids=role_ids,
            locale=locale,
            clicked=stored,
        )

    async def _interact(
        self,
        name: str,
        data: JSON,
        *,
        user: User,
        channel: Channel,
        permissions: int,
        role_ids: list[int] | None,
        locale: str,
        clicked: StoredMessage | None = None,
    ) -> PendingInteraction:
        if role_ids is None:  # the user's roles in this guild (none in a DM)
            guild_id = channel.guild_id
            member = None if guild_id is None else self.world.member_in(user.id, guild_id)
            role_ids = [] if member is None else list(member.role_ids)
        roles = role_ids
        loop = asyncio.get_running_loop()
        now = loop.time()
        kind = components.APPLICATION_COMMAND if clicked is None else components.MESSAGE_COMPONENT
        pending = PendingInteraction(
            self.world.new_id(),
            secrets.token_urlsafe(48),
            name,
            user,
            channel,
            created=now,
            deadline=now + self.ack_deadline,
            kind=kind,
            clicked=clicked,
        )
        self.interactions.add(pending)
        # Wake waiters at the deadline so an unacknowledged interaction fails promptly.
        loop.call_at(pending.deadline + 0.001, self.changes.changed)
        await self.gateway.dispatch(
            "INTERACTION_CREATE",
            payloads.interaction_payload(
                self.world,
                interaction_id=pending.id,
                token=pending.token,
                user=user,
                channel=channel,
                data=data,
                permissions=permissions,
                role_ids=roles,
                locale=locale,
                kind=kind,
                message=None if clicked is None else clicked.payload,
            ),
        )
        return pending
