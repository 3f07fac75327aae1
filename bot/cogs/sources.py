"""/sources: the indexed articles, a page at a time."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import NO_PINGS, CitebotBot
from bot.collections import place_of
from bot.formatting import SOURCES_PER_PAGE, Reply, sources_reply
from bot.replies import NO_COLLECTION, error_reply


class Sources(commands.Cog):
    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot

    @app_commands.command(name="sources")
    @app_commands.describe(page=f"Which page of the list ({SOURCES_PER_PAGE} articles a page)")
    async def sources(
        self,
        interaction: discord.Interaction[CitebotBot],
        page: app_commands.Range[int, 1, 100_000] = 1,
    ) -> None:
        """List the articles citebot answers from."""
        await interaction.response.defer(thinking=True, ephemeral=True)
        try:
            async with self.bot.collections.use(place_of(interaction)) as collection:
                found = (
                    None
                    if collection is None
                    else await asyncio.to_thread(collection.engine.sources)
                )
        except Exception as exc:
            reply = Reply(content=error_reply(exc))
        else:
            reply = Reply(content=NO_COLLECTION) if found is None else sources_reply(found, page)
        await interaction.edit_original_response(
            content=reply.content, embed=reply.embed, allowed_mentions=NO_PINGS
        )


async def setup(bot: CitebotBot) -> None:
    await bot.add_cog(Sources(bot))
