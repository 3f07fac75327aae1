"""/ask: answer a question in the channel, with a quoted sentence, its article and vote buttons;
in a thread the bot answered in, the thread's earlier questions are its context."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.answering import no_words_hint
from bot.client import NO_PINGS, CitebotBot
from bot.collections import place_of
from bot.conversation import answer_in_conversation, where_of
from bot.replies import NO_COLLECTION, cooling_down


class Ask(commands.Cog):
    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot

    @app_commands.command(name="ask")
    @app_commands.describe(question="Your question, in words, e.g. When is Lee visiting Japan?")
    async def ask(
        self,
        interaction: discord.Interaction[CitebotBot],
        question: app_commands.Range[str, 1, 1000],
    ) -> None:
        """Answer a question with a sentence quoted from the news articles."""
        hint = no_words_hint(question)
        if hint is not None:  # answered at once, only to the asker, and costs no cooldown slot
            await interaction.response.send_message(hint, ephemeral=True, allowed_mentions=NO_PINGS)
            return
        if self.bot.collections.name_of(place_of(interaction)) is None:  # a DM, at no cost
            await interaction.response.send_message(
                NO_COLLECTION, ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        wait = self.bot.cooldowns.hit(interaction.user.id)
        if wait:
            await interaction.response.send_message(
                cooling_down(wait), ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        await interaction.response.defer(thinking=True)
        bot = self.bot
        async with bot.collections.use(place_of(interaction)) as collection:
            outgoing = await answer_in_conversation(
                collection,
                bot.answering,
                question,
                interaction.user.id,
                where_of(interaction.channel),
            )
        reply = outgoing.reply
        await interaction.edit_original_response(
            content=reply.content, embed=reply.embed, view=outgoing.view, allowed_mentions=NO_PINGS
        )


async def setup(bot: CitebotBot) -> None:
    await bot.add_cog(Ask(bot))
