"""Serve a new index version once CURRENT names it: replicas of one index folder (rsync, object
storage) and bots in other processes publish versions this process did not build.

Every `CITEBOT_INDEX_POLL` seconds CURRENT is read, in a worker thread, for each open collection
(the one collection, or with CITEBOT_COLLECTIONS_DIR the servers' collections this process has
open; closed ones read CURRENT when they open). A new version is opened and swapped in through
the engine's lease, so questions being answered finish on the old one. A collection reindexing
here is skipped: it serves its own version when done.
"""

from __future__ import annotations

import asyncio
import logging

from discord.ext import commands, tasks

from bot.client import CitebotBot
from bot.collections import Collection
from retrieval import CitebotError

log = logging.getLogger("citebot.replicas")


class Replicas(commands.Cog):
    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot
        self._failed: dict[str, str] = {}  # the last failure logged per collection, logged once
        self.poll.change_interval(seconds=bot.settings.index_poll)

    async def cog_load(self) -> None:
        if self.bot.settings.index_poll > 0:
            self.poll.start()

    async def cog_unload(self) -> None:
        self.poll.cancel()

    @tasks.loop(seconds=30)
    async def poll(self) -> None:
        async with self.bot.collections.each_idle() as open_now:
            for collection in open_now:
                await self._refresh(collection)

    async def _refresh(self, collection: Collection) -> None:
        where = "" if self.bot.collections.single else f" (collection {collection.name})"
        try:
            name = await asyncio.to_thread(collection.engine.refresh)
        except CitebotError as exc:
            if self._failed.get(collection.name) != str(exc):
                log.warning("Still serving the loaded index%s: %s", where, exc)
                self._failed[collection.name] = str(exc)
            return
        except Exception:
            log.exception("Checking for a new index version failed%s", where)
            return
        self._failed.pop(collection.name, None)
        if name is not None:
            log.info("Now serving index version %s%s", name, where)


async def setup(bot: CitebotBot) -> None:
    await bot.add_cog(Replicas(bot))
