"""/status: how many articles and passages are indexed, with which model, and when."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import NO_PINGS, CitebotBot
from bot.collections import place_of
from bot.formatting import Reply, status_reply
from bot.replies import NO_COLLECTION, error_reply
from retrieval import IndexUnavailable


class Status(commands.Cog):
    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot

    @app_commands.command(name="status")
    async def status(self, interaction: discord.Interaction[CitebotBot]) -> None:
        """Show what is indexed: articles, passages, model, and when it was built."""
        await interaction.response.defer(thinking=True, ephemeral=True)
        async with self.bot.collections.use(place_of(interaction)) as collection:
            if collection is None:
                reply = Reply(content=NO_COLLECTION)
            else:
                reindexing = collection.lock.locked()
                try:
                    stats = await asyncio.to_thread(collection.engine.stats)
                except IndexUnavailable as exc:
                    reply = status_reply(None, str(exc), reindexing=reindexing)
                except Exception as exc:
                    reply = Reply(content=error_reply(exc))
                else:
                    reply = status_reply(stats, None, reindexing=reindexing)
                if reply.embed is not None and not self.bot.collections.single:
                    # Which collection, so admins know where its articles folder is.
                    reply.embed.add_field(name="Collection", value=collection.name, inline=False)
        await interaction.edit_original_response(
            content=reply.content, embed=reply.embed, allowed_mentions=NO_PINGS
        )


async def setup(bot: CitebotBot) -> None:
    await bot.add_cog(Status(bot))
