"""Buttons: what Discord accepts on a message, clicks reaching a persistent view through
discord.py, the acknowledgement deadline, and the callback types of a click."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import discord
import pytest

from localdiscord import InvocationError, LocalDiscord, render_message
from localdiscord.records import CALLBACK_DEFERRED_UPDATE, CALLBACK_MESSAGE, CALLBACK_UPDATE


class Counter(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"count:(\d+)"):
    """A persistent button: its state lives in its custom_id, so it works after a restart."""

    def __init__(self, n: int) -> None:
        super().__init__(discord.ui.Button(label=f"{n}", emoji="➕", custom_id=f"count:{n}"))
        self.n = n

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any
    ) -> Counter:
        return cls(int(match[1]))

    async def callback(self, interaction: discord.Interaction) -> None:
        mode = interaction.client.mode  # type: ignore[attr-defined]
        if mode == "slow":
            await asyncio.sleep(0.3)
        if mode == "update":
            view = discord.ui.View(timeout=None).add_item(Counter(self.n + 1))
            await interaction.response.edit_message(content=f"now {self.n + 1}", view=view)
        elif mode == "defer":
            await interaction.response.defer()
        else:
            with contextlib.suppress(discord.NotFound):  # too late: Discord forgot it
                await interaction.response.send_message(f"clicked {self.n}", ephemeral=True)


class ButtonBot(discord.Client):
    def __init__(self, mode: str = "reply", **options: Any) -> None:
        super().__init__(intents=discord.Intents.default(), **options)
        self.mode = mode

    async def setup_hook(self) -> None:
        self.add_dynamic_items(Counter)

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        view = discord.ui.View(timeout=None).add_item(Counter(1))
        await message.channel.send("count", view=view)


def make(fake: LocalDiscord, mode: str = "reply") -> Callable[[], ButtonBot]:
    return lambda: ButtonBot(mode, **fake.client_options)


async def test_a_click_reaches_the_persistent_item_and_is_answered_ephemerally(
    fake: LocalDiscord,
) -> None:
    async with fake.running(make(fake)) as session:
        exchange = await session.send_message("go", mention_bot=True)
        [message] = await exchange.wait_messages(replies_only=False)
        assert "[➕ 1]" in render_message(message)
        result = await (await session.click(message, "➕", user=session.users.bob)).wait_done()
    assert result.callback_types == [CALLBACK_MESSAGE]
    [ack] = result.messages
    assert ack.content == "clicked 1" and ack.ephemeral
    assert result.command == "count:1"


async def test_a_click_after_a_restart_still_works(fake: LocalDiscord) -> None:
    async with fake.running(make(fake)) as session:
        exchange = await session.send_message("go", mention_bot=True)
        [message] = await exchange.wait_messages(replies_only=False)
    async with fake.running(make(fake)) as session:  # a new process: no view in memory
        result = await (await session.click(message, "count:1")).wait_done()
    assert result.messages[0].content == "clicked 1"


async def test_an_update_edits_the_clicked_message(fake: LocalDiscord) -> None:
    async with fake.running(make(fake, "update")) as session:
        exchange = await session.send_message("go", mention_bot=True)
        [message] = await exchange.wait_messages(replies_only=False)
        result = await (await session.click(message, "1")).wait_done()
        [edited] = session.messages_in(session.channels.general)
    assert result.callback_types == [CALLBACK_UPDATE]
    assert edited.id == message.id and edited.content == "now 2"
    assert [b["custom_id"] for r in edited.components for b in r["components"]] == ["count:2"]


async def test_a_deferred_update_acknowledges_without_a_message(fake: LocalDiscord) -> None:
    async with fake.running(make(fake, "defer")) as session:
        exchange = await session.send_message("go", mention_bot=True)
        [message] = await exchange.wait_messages(replies_only=False)
        result = await (await session.click(message, "1")).wait_done()
    assert result.callback_types == [CALLBACK_DEFERRED_UPDATE]
    assert result.messages == [message]  # the clicked message, unchanged


async def test_a_click_missing_the_deadline_fails(fake: LocalDiscord) -> None:
    fake.ack_deadline = 0.1
    async with fake.running(make(fake, "slow")) as session:
        exchange = await session.send_message("go", mention_bot=True)
        [message] = await exchange.wait_messages(replies_only=False)
        click = await session.click(message, "1")
        with pytest.raises(Exception, match="did not acknowledge"):
            await click.wait_done()
        late = await fake.wait_for(
            lambda: [r for r in fake.requests if r.path.endswith("/callback")] or None
        )
    assert [r.status for r in late] == [404]  # Unknown interaction: Discord gave up on it


async def test_only_buttons_on_the_message_can_be_clicked(fake: LocalDiscord) -> None:
    async with fake.running(make(fake)) as session:
        exchange = await session.send_message("go", mention_bot=True)
        [message] = await exchange.wait_messages(replies_only=False)
        with pytest.raises(InvocationError, match="no button 'count:2'"):
            await session.click(message, "count:2")


@pytest.mark.parametrize(
    ("components", "error"),
    [
        (
            [{"type": 1, "components": [{"type": 2, "style": 1, "label": "x"}]}],
            "custom_id: Must be",
        ),
        (
            [
                {
                    "type": 1,
                    "components": [
                        {"type": 2, "style": 1, "label": "a", "custom_id": "same"},
                        {"type": 2, "style": 1, "label": "b", "custom_id": "same"},
                    ],
                }
            ],
            "custom id cannot be duplicated",
        ),
        ([{"type": 1, "components": []}] * 6, "Must be 5 or fewer"),
    ],
)
async def test_components_discord_refuses_are_a_400(
    fake: LocalDiscord, components: list[dict[str, Any]], error: str
) -> None:
    async with fake.running(make(fake)) as session:
        bot = session.bot
        channel = bot.get_channel(session.channels.general.id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.HTTPException, match=error) as caught:
            await bot.http.send_message(
                channel.id,
                params=discord.http.MultipartParameters(
                    {"content": "x", "components": components}, None, None
                ),
            )
    assert caught.value.status == 400
