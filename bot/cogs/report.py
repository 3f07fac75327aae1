"""/report: what was asked, answered and abstained, votes per article, the latest unanswered
questions and the most cited articles, of the collection of the server it is used in; for
admins (Manage Server or the admin role)."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import NO_PINGS, CitebotBot
from bot.collections import place_of
from bot.permissions import interaction_may_reindex
from bot.replies import error_reply
from bot.reporting import report_embed

NO_LEDGER = (
    "No ledger is kept for this server's collection, so there is nothing to report; see the log."
)
REPORT_DENIED = (
    "Only members with Manage Server (or the bot's admin role) can see /report. Ask a server admin."
)


class Report(commands.Cog):
    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot

    @app_commands.command(name="report")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def report(self, interaction: discord.Interaction[CitebotBot]) -> None:
        """Questions asked and unanswered, votes and most cited articles (admins)."""
        # The same people as /reindex: the report shows what members asked.
        if not interaction_may_reindex(interaction, self.bot.settings.admin_role):
            await interaction.response.send_message(
                REPORT_DENIED, ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        await interaction.response.defer(thinking=True, ephemeral=True)
        # The report of this server's collection, like /status: its ledger and its articles.
        async with self.bot.collections.use(place_of(interaction)) as collection:
            ledger = collection.ledger if collection is not None else None
            if collection is None or ledger is None:
                await interaction.edit_original_response(
                    content=NO_LEDGER, allowed_mentions=NO_PINGS
                )
                return
            try:
                report = await asyncio.to_thread(ledger.report)
            except Exception as exc:
                await interaction.edit_original_response(
                    content=error_reply(exc), allowed_mentions=NO_PINGS
                )
                return
            try:
                sources = await asyncio.to_thread(collection.engine.sources)
            except Exception:  # no index: the report still shows article ids
                sources = []
            name = collection.name
        titles = {s.article_id: s.title for s in sources}
        embed = report_embed(report, titles)
        if not self.bot.collections.single:
            embed.add_field(name="Collection", value=name, inline=False)
        await interaction.edit_original_response(embed=embed, allowed_mentions=NO_PINGS)


async def setup(bot: CitebotBot) -> None:
    await bot.add_cog(Report(bot))
