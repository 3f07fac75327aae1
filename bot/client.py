"""The Discord bot: settings and an engine in, one cog per feature, commands synced on start.

    bot = CitebotBot(settings, engine)                 # or an engine factory, run in a thread
    async with bot:
        await bot.start(token)

Tests pass the local Discord's client options: `CitebotBot(settings, engine,
**fake.client_options)`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.answering import Cooldowns
from bot.collections import Collections
from bot.ledger import Ledger
from bot.replies import error_reply
from bot.settings import Settings
from retrieval import Engine

log = logging.getLogger("citebot.bot")

EXTENSIONS = (
    "bot.cogs.add",
    "bot.cogs.ask",
    "bot.cogs.feedback",
    "bot.cogs.messages",
    "bot.cogs.reindex",
    "bot.cogs.replicas",
    "bot.cogs.report",
    "bot.cogs.sources",
    "bot.cogs.status",
)
NO_PINGS = discord.AllowedMentions.none()


def intents_for(settings: Settings) -> discord.Intents:
    """Only what the bot uses. Message Content is privileged: it is asked for only when answer
    channels are configured, or threads opened for follow-ups asked without a mention
    (mentions and DMs carry their content without it)."""
    return discord.Intents(
        guilds=True,
        guild_messages=True,
        dm_messages=True,
        message_content=bool(settings.answer_channels) or settings.reply_mode == "thread",
    )


class CitebotTree(app_commands.CommandTree["CitebotBot"]):
    async def on_error(
        self, interaction: discord.Interaction[CitebotBot], error: app_commands.AppCommandError
    ) -> None:
        """A command failed in a way it did not handle: log it, and tell the user briefly."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        text = error_reply(cause)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
            else:
                await interaction.response.send_message(
                    text, ephemeral=True, allowed_mentions=NO_PINGS
                )
        except discord.HTTPException:
            log.warning("Could not report an error to the user", exc_info=True)


class CitebotBot(commands.Bot):
    """citebot on Discord: /ask, /sources, /status, /reindex, /add, /remove, /report, and
    answers to mentions, to messages in the answer channels and to follow-ups in its threads,
    with vote buttons, each from the collection of the place it comes from (bot/collections.py).

    `engine` is the one collection's Engine (with CITEBOT_COLLECTIONS_DIR set, only its encoder
    and answer settings serve, shared by every collection), or a function that builds one
    (loading a model takes seconds, so it runs in a worker thread in `setup_hook`, before the
    bot connects). A bot that built its engine closes it on `close()`. `ledger` keeps the one
    collection's answers and votes (default: the one beside the index, opened in `setup_hook`);
    with CITEBOT_COLLECTIONS_DIR set, each collection opens its own beside its index instead.
    `options` go to discord.py's Client (the local Discord passes its own).
    `progress_interval` is the least time between two edits of the /reindex progress message.
    """

    def __init__(
        self,
        settings: Settings,
        engine: Engine | Callable[[], Engine],
        *,
        progress_interval: float = 1.0,
        ledger: Ledger | None = None,
        **options: Any,
    ) -> None:
        super().__init__(
            # No prefix commands: messages are answered by the messages cog, never parsed.
            command_prefix=commands.when_mentioned,
            help_command=None,
            tree_cls=CitebotTree,
            intents=intents_for(settings),
            allowed_mentions=NO_PINGS,
            **options,
        )
        self.settings = settings
        self._engine = engine if isinstance(engine, Engine) else None
        self._engine_factory = None if isinstance(engine, Engine) else engine
        self.progress_interval = progress_interval
        self._ledger = ledger
        self._owns_ledger = ledger is None
        self.cooldowns = Cooldowns(settings.cooldown_rate, settings.cooldown_per)
        self.answering = asyncio.Semaphore(settings.max_concurrent)
        self.reindexing = asyncio.Lock()  # the single collection's; each collection has its own
        self._collections: Collections | None = None
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the engine is built in setup_hook; the bot has not started yet")
        return self._engine

    @property
    def collections(self) -> Collections:
        """Which collection answers where (bot/collections.py)."""
        if self._collections is None:
            raise RuntimeError("collections are set up in setup_hook; the bot has not started")
        return self._collections

    async def setup_hook(self) -> None:
        if self._engine is None and self._engine_factory is not None:
            self._engine = await asyncio.to_thread(self._engine_factory)
        settings = self.settings
        if self._ledger is None and settings.collections_dir is None:
            self._ledger = await asyncio.to_thread(
                Ledger.beside, settings.index_dir, retention_days=settings.retention_days
            )
        engine = self.engine
        # Per-server collections each open their own ledger, beside their own index.
        self._collections = Collections(settings, engine, lock=self.reindexing, ledger=self._ledger)
        if not self._collections.single:
            # The engine lends its encoder to every server's collection; it serves none itself.
            self._sweeper = asyncio.create_task(
                self._collections.sweep(), name="citebot: close idle collections"
            )
        elif not engine.ready and not await asyncio.to_thread(engine.load):
            # Start anyway: questions get "the index is unavailable", and /reindex can fix it.
            log.warning("The index is unavailable: %s", engine.unavailable_reason)
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.settings.guild_id is not None:
            guild = discord.Object(self.settings.guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        else:
            synced = await self.tree.sync()  # global commands take up to an hour to appear
        log.info("Synced %d slash commands", len(synced))

    async def on_message(self, message: discord.Message, /) -> None:
        """Prefix commands are off: the messages cog decides what to answer."""

    async def close(self) -> None:
        await super().close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._collections is not None:
            await self._collections.close()
        if self._engine_factory is not None and self._engine is not None:
            engine, self._engine = self._engine, None
            await asyncio.to_thread(engine.close)
        if self._owns_ledger and self._ledger is not None:
            ledger, self._ledger = self._ledger, None
            await asyncio.to_thread(ledger.close)


class ShardedCitebotBot(CitebotBot, commands.AutoShardedBot):
    """citebot on discord.py's AutoShardedBot: this process runs `settings.shard_ids` (all when
    empty) of `settings.shard_count` shards, so it receives the events of those shards' servers
    only, and other processes serve the rest (docs/scaling.md)."""


def make_bot(
    settings: Settings, engine: Engine | Callable[[], Engine], **options: Any
) -> CitebotBot:
    """The bot the settings ask for: sharded when they give a shard count."""
    if settings.shard_count is None:
        return CitebotBot(settings, engine, **options)
    return ShardedCitebotBot(
        settings,
        engine,
        shard_count=settings.shard_count,
        shard_ids=list(settings.shard_ids) or None,
        **options,
    )
