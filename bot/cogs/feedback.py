"""👍/👎 under every answer: the buttons' clicks are handled by `bot.feedback.VoteButton`,
registered here as a dynamic item so that answers sent before a restart keep working."""

from __future__ import annotations

from bot.client import CitebotBot
from bot.feedback import VoteButton


async def setup(bot: CitebotBot) -> None:
    bot.add_dynamic_items(VoteButton)


async def teardown(bot: CitebotBot) -> None:
    bot.remove_dynamic_items(VoteButton)
