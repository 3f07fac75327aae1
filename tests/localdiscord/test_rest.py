"""REST: injected faults the bot must survive, and Discord's limits enforced as a 400."""

from __future__ import annotations

import discord
import pytest

from localdiscord import LocalDiscord
from localdiscord.validation import ApiError, validate_message
from tests.localdiscord.conftest import make


async def test_rate_limited_message_is_retried(fake: LocalDiscord) -> None:
    async with fake.running(make(fake)) as session:
        fault = fake.fail_next("POST", r"/channels/\d+/messages", 429, retry_after=0.05)
        exchange = await session.send_message("still there?", mention_bot=True)
        [reply] = await exchange.wait_messages(timeout=5)
    assert fault.hits == 1 and fault.remaining == 0
    posts = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/messages")]
    assert [(r.status, r.injected) for r in posts] == [(429, True), (200, False)]
    assert reply.reply_to == exchange.message.id


async def test_a_message_over_discords_limit_is_a_400_the_bot_sees(fake: LocalDiscord) -> None:
    async with fake.running(make(fake)) as session:
        channel = session.bot.get_channel(fake.channels.general.id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.HTTPException) as raised:
            await channel.send("x" * 2001)
    assert raised.value.status == 400
    posts = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/messages")]
    assert [r.status for r in posts] == [400]


def test_validation_names_every_broken_field() -> None:
    too_long = {"content": "x" * 2001, "embeds": [{"title": "t" * 257}]}
    with pytest.raises(ApiError) as raised:
        validate_message(too_long)
    assert (raised.value.status, raised.value.code) == (400, 50035)
    errors = raised.value.errors or {}
    assert set(errors) == {"content", "embeds"}
    assert errors["embeds"]["0"]["title"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"


def test_an_empty_message_is_refused_but_an_empty_edit_is_not() -> None:
    with pytest.raises(ApiError, match="Cannot send an empty message"):
        validate_message({"content": ""})
    validate_message({"content": ""}, editing=True)
    validate_message({"embeds": [{"title": "ok"}]})
