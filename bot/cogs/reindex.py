"""/reindex: rebuild the index from the articles folder, for admins, with live progress."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import NO_PINGS, CitebotBot
from bot.collections import Collection, place_of
from bot.formatting import Reply, report_reply
from bot.permissions import interaction_may_reindex
from bot.reindexing import reindex_with_progress
from bot.replies import REINDEX_DENIED, REINDEX_GUILD_ONLY, REINDEX_RUNNING, reindex_failed


class Reindex(commands.Cog):
    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot

    @app_commands.command(name="reindex")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.describe(
        full="Embed every article afresh, reusing nothing: repairs damage `citebot verify` found",
        rewrite="Write every file anew, reusing intact vectors: repairs a damaged dense index or "
        "postings",
        allow_shrink="Allow dropping more articles than CITEBOT_MAX_SHRINK allows (all included)",
    )
    async def reindex(
        self,
        interaction: discord.Interaction[CitebotBot],
        full: bool = False,
        rewrite: bool = False,
        allow_shrink: bool = False,
    ) -> None:
        """Rebuild the index from the articles folder (Manage Server or the admin role)."""
        refusal = None
        if interaction.guild_id is None:
            refusal = REINDEX_GUILD_ONLY
        elif not interaction_may_reindex(interaction, self.bot.settings.admin_role):
            refusal = REINDEX_DENIED
        elif self.bot.collections.busy(place_of(interaction)):
            refusal = REINDEX_RUNNING
        if refusal is not None:
            await interaction.response.send_message(
                refusal, ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        # Deferred before the collection opens: opening a large index may take a while.
        await interaction.response.defer(thinking=True)
        async with self.bot.collections.use(place_of(interaction)) as collection:
            assert collection is not None  # every server channel has a collection
            if collection.lock.locked():  # taken while this one opened the collection
                await interaction.edit_original_response(
                    content=REINDEX_RUNNING, allowed_mentions=NO_PINGS
                )
                return
            await self._reindex(interaction, collection, full, rewrite, allow_shrink)

    async def _reindex(
        self,
        interaction: discord.Interaction[CitebotBot],
        collection: Collection,
        full: bool,
        rewrite: bool,
        allow_shrink: bool,
    ) -> None:
        # Nothing awaits between the caller's check and taking the lock: no second run slips in.
        async with collection.lock:

            async def show(text: str) -> None:
                await interaction.edit_original_response(content=text, allowed_mentions=NO_PINGS)

            try:
                report = await reindex_with_progress(
                    collection.engine,
                    show,
                    interval=self.bot.progress_interval,
                    full=full,
                    rewrite=rewrite,
                    max_shrink=None if allow_shrink else self.bot.settings.max_shrink,
                )
            except Exception as exc:
                reply = Reply(content=reindex_failed(exc, serving=collection.engine.ready))
            else:
                reply = report_reply(report)
            await interaction.edit_original_response(
                content=reply.content, embed=reply.embed, allowed_mentions=NO_PINGS
            )


async def setup(bot: CitebotBot) -> None:
    await bot.add_cog(Reindex(bot))
