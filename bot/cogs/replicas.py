"""Serve a new index version once CURRENT names it: replicas of one index folder (rsync, object
storage) and bots in other processes publish versions this process did not build.

Every `CITEBOT_INDEX_POLL` seconds CURRENT is read in a worker thread; a new version is opened
and swapped in through the engine's lease, so questions being answered finish on the old one.
"""

from __future__ import annotations

import asyncio
import logging

from discord.ext import commands, tasks

from bot.client import CitebotBot
from retrieval import CitebotError

log = logging.getLogger("citebot.replicas")


class Replicas(commands.Cog):
    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot
        self._failed: str | None = None  # the last failure logged, so it is logged once
        self.poll.change_interval(seconds=bot.settings.index_poll)

    async def cog_load(self) -> None:
        if self.bot.settings.index_poll > 0:
            self.poll.start()

    async def cog_unload(self) -> None:
        self.poll.cancel()

    @tasks.loop(seconds=30)
    async def poll(self) -> None:
        if self.bot.reindexing.locked():
            return  # a reindex here serves its own version when it is done
        engine = self.bot.engine
        try:
            name = await asyncio.to_thread(engine.refresh)
        except CitebotError as exc:
            if str(exc) != self._failed:
                log.warning("Still serving the loaded index: %s", exc)
                self._failed = str(exc)
            return
        except Exception:
            log.exception("Checking for a new index version failed")
            return
        self._failed = None
        if name is not None:
            log.info("Now serving index version %s", name)


async def setup(bot: CitebotBot) -> None:
    await bot.add_cog(Replicas(bot))
