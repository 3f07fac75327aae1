"""The gateway: login, READY and command sync, op 7 RECONNECT with RESUME, a wrong token."""

from __future__ import annotations

import discord
import pytest

from localdiscord import LocalDiscord
from tests.localdiscord.conftest import make


async def test_login_ready_and_command_sync(fake: LocalDiscord) -> None:
    async with fake.running(make(fake)) as session:
        bot = session.bot
        assert bot.is_ready()
        assert bot.user is not None and bot.user.id == fake.bot_user.id
        guild = bot.guilds[0]
        assert [c.name for c in guild.text_channels] == ["general", "news"]
        assert guild.me is not None
    calls = [(r.method, r.path) for r in fake.requests]
    assert ("GET", "/users/@me") in calls
    assert ("PUT", f"/applications/{fake.bot_user.id}/commands") in calls
    assert {c["name"] for c in fake.commands.listed(None)} == {
        "echo",
        "count",
        "reindex",
        "slow",
        "attach",
    }
    assert [c.opened_with for c in fake.connections] == ["identify"]
    assert not [r for r in fake.requests if r.status == 404]


async def test_op7_reconnect_resumes_and_replays(fake: LocalDiscord) -> None:
    async with fake.running(make(fake), reconnect=True) as session:
        before = await session.send_message("before", mention_bot=True)
        await before.wait_messages(timeout=5)
        await fake.request_reconnect(wait=False)
        # Sent while the bot is between sockets: it must be replayed on RESUME.
        during = await session.send_message("during", mention_bot=True)
        [reply] = await during.wait_messages(timeout=10)
    assert reply.content.startswith(f"echo: '{fake.bot_user.mention} during'")
    first, second = fake.connections
    assert (first.opened_with, first.path) == ("identify", "/")
    assert (second.opened_with, second.path) == ("resume", "/resume")
    assert second.replayed == 1
    assert fake.gateway.identifies == 1


async def test_wrong_token_is_a_login_failure(fake: LocalDiscord) -> None:
    with pytest.raises(discord.LoginFailure):
        async with fake.running(make(fake), token="not-the-token"):
            pass
    assert [(r.path, r.status) for r in fake.requests] == [("/users/@me", 401)]


async def test_each_connection_is_recorded_and_closed_with_the_bot(fake: LocalDiscord) -> None:
    async with fake.running(make(fake)) as session:
        assert session.bot.is_ready()
    async with fake.running(make(fake)):
        pass
    assert [c.opened_with for c in fake.connections] == ["identify", "identify"]
    assert fake.gateway.identifies == 2
