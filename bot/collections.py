"""Collections: which articles folder and index answer in which place (server, channel, DM).

With CITEBOT_COLLECTIONS_DIR unset there is one collection, today's CITEBOT_ARTICLES_DIR and
CITEBOT_INDEX_DIR, for every server and for DMs. With it set, each server has its own,
`<dir>/server-<id>/{articles,index}`; CITEBOT_CHANNEL_COLLECTIONS sends chosen channels (and
their threads) to named collections instead, `<dir>/<name>/…`; DMs use CITEBOT_DM_COLLECTION,
or are declined.

Every collection's engine shares the one loaded encoder (and reader) of the template engine the
bot was given. Engines open on first use and close after CITEBOT_COLLECTION_IDLE seconds unused;
at most CITEBOT_MAX_OPEN_COLLECTIONS stay open, the least recently used closing first. One in
use (a question being answered, a reindex or an /add running) is never closed.

Each collection keeps its own ledger (bot/ledger.py) beside its own index, opened and closed
with its engine: questions, votes and /report stay within the server (or named collection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord

from bot.ledger import FILENAME as LEDGER_FILE
from bot.ledger import Ledger
from bot.settings import Settings
from retrieval import Engine

log = logging.getLogger("citebot.bot")

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
SINGLE = "default"


@dataclass(frozen=True, slots=True)
class Place:
    """Where a request comes from: a server (None in DMs), a channel, the channel a thread is
    in."""

    guild_id: int | None
    channel_id: int | None = None
    parent_id: int | None = None


@dataclass(eq=False)
class Collection:
    """An open collection: its engine, the lock its reindexes, adds and removes take, and its
    ledger of answers and votes (None: none kept, so no history and no vote buttons)."""

    name: str
    engine: Engine
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    ledger: Ledger | None = None
    users: int = 0
    last_used: float = 0.0


def place_of(where: discord.Interaction[Any] | discord.Message) -> Place:
    """The place an interaction or a message comes from."""
    channel = where.channel
    parent = channel.parent_id if isinstance(channel, discord.Thread) else None
    if isinstance(where, discord.Interaction):
        return Place(where.guild_id, where.channel_id, parent)
    guild = where.guild
    return Place(guild.id if guild is not None else None, where.channel.id, parent)


def collection_name(settings: Settings, place: Place) -> str | None:
    """The collection that answers in `place`, or None where none does (a DM without
    CITEBOT_DM_COLLECTION)."""
    if settings.collections_dir is None:
        return SINGLE
    for channel in (place.channel_id, place.parent_id):
        if channel is not None and channel in settings.channel_collections:
            return settings.channel_collections[channel]
    if place.guild_id is None:
        return settings.dm_collection
    return f"server-{place.guild_id}"


def collection_folders(collections_dir: Path, name: str) -> tuple[Path, Path]:
    """A collection's articles folder and index folder."""
    return collections_dir / name / "articles", collections_dir / name / "index"


class Collections:
    """The open collections, opened on demand from the template engine's encoder and settings.

    `template` is the single collection itself when CITEBOT_COLLECTIONS_DIR is unset (never
    closed here); otherwise only its encoder, reader and answer settings are used. `ledger` is
    the single collection's (its owner's to close); each other collection opens its own beside
    its index and closes it with its engine.
    """

    def __init__(
        self,
        settings: Settings,
        template: Engine,
        *,
        lock: asyncio.Lock | None = None,
        ledger: Ledger | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.template = template
        self._clock = clock
        self._open: dict[str, Collection] = {}
        self._opening: dict[str, asyncio.Task[Collection]] = {}
        if settings.collections_dir is None:
            self._open[SINGLE] = Collection(SINGLE, template, lock or asyncio.Lock(), ledger)

    @property
    def single(self) -> bool:
        return self.settings.collections_dir is None

    def open_names(self) -> list[str]:
        return sorted(self._open)

    def name_of(self, place: Place) -> str | None:
        return collection_name(self.settings, place)

    def ledger_exists(self, name: str) -> bool:
        """Whether the collection `name` has a ledger file yet, told without opening it."""
        if self.settings.collections_dir is None:
            return True
        _, index = collection_folders(self.settings.collections_dir, name)
        return (index / LEDGER_FILE).exists()

    def busy(self, place: Place) -> bool:
        """Whether the collection of `place` is open and reindexing (or adding, removing): told
        without opening it, so a command can refuse before its 3-second deadline."""
        name = self.name_of(place)
        found = self._open.get(name) if name is not None else None
        return found is not None and found.lock.locked()

    @contextlib.asynccontextmanager
    async def use(self, place: Place) -> AsyncIterator[Collection | None]:
        """The collection of `place`, held open while the block runs; None where none answers."""
        name = self.name_of(place)
        if name is None:
            yield None
            return
        collection = await self._get(name)
        collection.users += 1
        try:
            yield collection
        finally:
            collection.users -= 1
            collection.last_used = self._clock()

    @contextlib.asynccontextmanager
    async def each_idle(self) -> AsyncIterator[list[Collection]]:
        """The open collections not reindexing (nor adding, removing), kept open while the block
        runs without counting as a use (background work, such as looking for new versions)."""
        held = [c for c in self._open.values() if not c.lock.locked()]
        for collection in held:
            collection.users += 1
        try:
            yield held
        finally:
            for collection in held:
                collection.users -= 1

    async def _get(self, name: str) -> Collection:
        found = self._open.get(name)
        if found is not None:
            found.last_used = self._clock()
            return found
        task = self._opening.get(name)
        if task is None:
            task = asyncio.create_task(self._load(name), name=f"citebot: open {name}")
            self._opening[name] = task
            task.add_done_callback(lambda _: self._opening.pop(name, None))
        return await asyncio.shield(task)

    async def _load(self, name: str) -> Collection:
        assert self.settings.collections_dir is not None
        articles, index = collection_folders(self.settings.collections_dir, name)
        t = self.template
        engine = Engine(
            index,
            articles,
            t.encoder,
            settings=t.settings,
            reader=t.reader,
            max_bytes=t.max_bytes,
            passage_vectors=t.passage_vectors,
        )

        def load() -> Ledger | None:
            articles.mkdir(parents=True, exist_ok=True)
            if not engine.load():
                log.info("Collection %s has no index yet: %s", name, engine.unavailable_reason)
            try:
                return Ledger.beside(index, retention_days=self.settings.retention_days)
            except Exception:  # answers still go out, without history or vote buttons
                log.exception("Could not open the ledger of collection %s", name)
                return None

        ledger = await asyncio.to_thread(load)
        collection = Collection(name, engine, ledger=ledger, last_used=self._clock())
        self._open[name] = collection
        await self._bound(keep=name)
        return collection

    async def _bound(self, *, keep: str) -> None:
        """Close the least recently used idle collections while more than the bound are open."""
        excess = len(self._open) - self.settings.max_open_collections
        if excess <= 0:
            return
        idle = sorted(
            (c for c in self._open.values() if c.name != keep and self._closable(c)),
            key=lambda c: c.last_used,
        )
        for collection in idle[:excess]:
            await self._close(collection)
        if len(self._open) > self.settings.max_open_collections:
            log.info(
                "%d collections are open, over CITEBOT_MAX_OPEN_COLLECTIONS=%d: all are in use",
                len(self._open),
                self.settings.max_open_collections,
            )

    def _closable(self, collection: Collection) -> bool:
        return not self.single and collection.users == 0 and not collection.lock.locked()

    async def close_idle(self) -> list[str]:
        """Close the collections unused for CITEBOT_COLLECTION_IDLE seconds; their names."""
        limit = self._clock() - self.settings.collection_idle
        idle = [c for c in self._open.values() if self._closable(c) and c.last_used <= limit]
        for collection in idle:
            await self._close(collection)
        return [c.name for c in idle]

    async def _close(self, collection: Collection) -> None:
        if self._open.get(collection.name) is collection:
            del self._open[collection.name]
        await asyncio.to_thread(collection.engine.close)
        if collection.ledger is not None:
            await asyncio.to_thread(collection.ledger.close)

    async def sweep(self) -> None:
        """Close idle collections, forever (a task the bot runs in per-server mode)."""
        interval = max(self.settings.collection_idle / 2, 0.01)
        while True:
            await asyncio.sleep(interval)
            try:
                closed = await self.close_idle()
            except Exception:  # keep sweeping: one engine failing to close is no reason to stop
                log.exception("Could not close an idle collection")
                continue
            if closed:
                log.info("Closed idle collections: %s", ", ".join(closed))

    async def close(self) -> None:
        """Close every collection this opened (the single one is its owner's to close)."""
        for task in list(self._opening.values()):
            task.cancel()
        for collection in list(self._open.values()):
            if not self.single:
                await self._close(collection)
