"""Reindexing from Discord: the engine rebuilds in a worker thread while one message shows its
progress, edited at most once per `interval` seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import discord

from bot.formatting import progress_text
from retrieval import Engine, ReindexReport
from retrieval.build.reindex import MAX_SHRINK

log = logging.getLogger("citebot.bot")

Show = Callable[[str], Awaitable[object]]


class ThrottledProgress:
    """Takes progress from the worker thread and shows the latest of it, at most once per
    `interval` seconds; intermediate steps are skipped, never queued."""

    def __init__(
        self, show: Show, loop: asyncio.AbstractEventLoop, *, interval: float = 1.0
    ) -> None:
        self._show = show
        self._loop = loop
        self._interval = interval
        self._latest: tuple[str, int, int] | None = None
        self._changed = asyncio.Event()
        self._finished = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def report(self, stage: str, done: int, total: int) -> None:
        """The engine's progress callback; runs in the worker thread."""
        self._latest = (stage, done, total)  # one assignment: atomic under the GIL
        # RuntimeError: the loop has closed (the bot stopped); let the build finish quietly.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._changed.set)

    def start(self) -> None:
        self._task = asyncio.create_task(self._pump(), name="citebot: reindex progress")

    async def finish(self) -> None:
        """Stop showing progress; returns once no edit is in flight."""
        self._finished.set()
        self._changed.set()
        if self._task is not None:
            await self._task

    async def _pump(self) -> None:
        while True:
            await self._changed.wait()
            if self._finished.is_set():
                return
            self._changed.clear()
            latest = self._latest
            if latest is not None:
                try:
                    await self._show(progress_text(*latest))
                except discord.HTTPException:
                    # Progress is a courtesy: a failed edit must not stop the reindex.
                    log.warning("Could not show reindex progress", exc_info=True)
            try:
                await asyncio.wait_for(self._finished.wait(), self._interval)
                return
            except TimeoutError:
                pass


async def reindex_with_progress(
    engine: Engine,
    show: Show,
    *,
    interval: float = 1.0,
    full: bool = False,
    rewrite: bool = False,
    max_shrink: float | None = MAX_SHRINK,
) -> ReindexReport:
    """Rebuild the index in a worker thread, showing progress through `show`. Questions keep
    being answered from the served index meanwhile: the engine swaps the new one in at the end.
    `full` embeds every article afresh, `rewrite` writes every file anew reusing the vectors;
    a build dropping more than `max_shrink` of the articles is refused (see `Engine.reindex`)."""
    progress = ThrottledProgress(show, asyncio.get_running_loop(), interval=interval)
    progress.start()
    try:
        return await asyncio.to_thread(
            engine.reindex,
            progress=progress.report,
            full=full,
            rewrite=rewrite,
            max_shrink=max_shrink,
        )
    finally:
        await progress.finish()
