"""/report: what was asked, answered and abstained, votes per article, the latest unanswered
questions and the most cited articles; for admins (Manage Server or the admin role)."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import NO_PINGS, CitebotBot
from bot.permissions import interaction_may_reindex
from bot.replies import error_reply
from bot.reporting import report_embed

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
        try:
            report = await asyncio.to_thread(self.bot.ledger.report)
        except Exception as exc:
            await interaction.edit_original_response(
                content=error_reply(exc), allowed_mentions=NO_PINGS
            )
            return
        try:
            sources = await asyncio.to_thread(self.bot.engine.sources)
        except Exception:  # no index: the report still shows article ids
            sources = []
        titles = {s.article_id: s.title for s in sources}
        await interaction.edit_original_response(
            embed=report_embed(report, titles), allowed_mentions=NO_PINGS
        )


async def setup(bot: CitebotBot) -> None:
    await bot.add_cog(Report(bot))
