"""👍/👎 buttons under every answer, kept in the ledger: one vote per user per answer, changeable.

The buttons are persistent: a `DynamicItem` whose custom_id names the vote and the answer
(`citebot:vote:up:42`), registered once with `bot.add_dynamic_items`, so a click on an answer
sent before a restart still reaches the bot. The acknowledgement is ephemeral: only the voter
sees it. A vote goes to the ledger of the collection of the place the button was clicked in,
the answer's own (bot/collections.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.collections import place_of
from bot.ledger import Ledger, Vote, Voted

if TYPE_CHECKING:
    from bot.client import CitebotBot

log = logging.getLogger("citebot.bot")

LABELS: dict[Vote, tuple[str, str, discord.ButtonStyle]] = {
    "up": ("👍", "Helpful", discord.ButtonStyle.secondary),
    "down": ("👎", "Wrong", discord.ButtonStyle.secondary),
}


def custom_id(vote: Vote, answer_id: int) -> str:
    return f"citebot:vote:{vote}:{answer_id}"


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"citebot:vote:(?P<vote>up|down):(?P<answer>[0-9]{1,18})",
):
    def __init__(self, vote: Vote, answer_id: int) -> None:
        emoji, label, style = LABELS[vote]
        super().__init__(
            discord.ui.Button(
                label=label, emoji=emoji, style=style, custom_id=custom_id(vote, answer_id)
            )
        )
        self.vote: Vote = vote
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> VoteButton:
        return cls("up" if match["vote"] == "up" else "down", int(match["answer"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot: CitebotBot = interaction.client
        # Acknowledged at once: the write waits for a worker thread, which answers may hold
        # longer than Discord's 3 seconds.
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            # The answer is in the ledger of the collection of the place it was given in.
            async with bot.collections.use(place_of(interaction)) as collection:
                ledger = collection.ledger if collection is not None else None
                if ledger is None:
                    raise LookupError("no ledger is kept where this answer was given")
                voted = await asyncio.to_thread(
                    ledger.vote, self.answer_id, interaction.user.id, self.vote
                )
        except Exception:
            log.exception("Could not record a vote")
            text = "Sorry, your vote could not be recorded; the error is logged."
        else:
            text = acknowledgement(voted, self.vote, ledger)
        await interaction.edit_original_response(content=text)


def acknowledgement(voted: Voted, vote: Vote, ledger: Ledger) -> str:
    emoji, label, _ = LABELS[vote]
    if voted == "gone":
        return (
            f"This answer is older than {ledger.retention_days} days, so it is no longer kept "
            "and neither are votes on it."
        )
    if voted == "changed":
        return f"Changed your vote to {emoji} {label.lower()}. Thanks."
    if voted == "kept":
        return f"You had already voted {emoji} {label.lower()}; it stays counted once."
    return f"Thanks: recorded {emoji} {label.lower()}. Press the other button to change it."


def vote_view(answer_id: int) -> discord.ui.View:
    """The buttons under one answer; `timeout=None`, as a persistent view needs. Its items are
    all dynamic, so discord.py keeps no view per sent answer: clicks find `VoteButton` by its
    custom_id's pattern."""
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton("up", answer_id))
    view.add_item(VoteButton("down", answer_id))
    return view
