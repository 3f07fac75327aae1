"""The local fake Discord runs an unmodified discord.py bot through its real code paths."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from bot.localdiscord import (
    InteractionFailed,
    InvocationError,
    LocalDiscord,
    render_message,
)


class EchoBot(commands.Bot):
    """A throwaway bot: replies to messages, and has slash commands that defer, follow up and
    need Manage Server."""

    def __init__(self, *, content_intent: bool = True, **options: Any) -> None:
        intents = discord.Intents.default()
        intents.message_content = content_intent
        super().__init__(command_prefix="!", intents=intents, **options)
        self.seen: list[str] = []

    async def setup_hook(self) -> None:
        self.tree.add_command(echo)
        self.tree.add_command(count)
        self.tree.add_command(reindex)
        self.tree.add_command(slow)
        await self.tree.sync()

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        self.seen.append(message.content)
        mentioned = self.user is not None and self.user.mentioned_in(message)
        reply = f"echo: {message.content!r} mentioned={mentioned}"
        await message.reply(reply, mention_author=False)


@app_commands.command()
async def echo(interaction: discord.Interaction, text: str) -> None:
    """Defer, then edit the original response."""
    await interaction.response.defer(thinking=True)
    await interaction.edit_original_response(content=f"echo: {text}")


@app_commands.command()
async def count(interaction: discord.Interaction, n: app_commands.Range[int, 1, 5]) -> None:
    """Answer ephemerally, then send n follow-ups."""
    await interaction.response.send_message("counting", ephemeral=True)
    for i in range(n):
        await interaction.followup.send(f"{i + 1}", embed=discord.Embed(title=f"#{i + 1}"))


@app_commands.command()
@app_commands.default_permissions(manage_guild=True)
async def reindex(interaction: discord.Interaction) -> None:
    """Admin-only: report what the bot saw of the caller's permissions."""
    perms = interaction.permissions
    where = "dm" if interaction.guild_id is None else "guild"
    await interaction.response.send_message(f"manage_guild={perms.manage_guild} in {where}")


@app_commands.command()
async def slow(interaction: discord.Interaction) -> None:
    """Misses the acknowledgement deadline."""
    await asyncio.sleep(0.3)
    with_error = False
    try:
        await interaction.response.send_message("too late")
    except discord.NotFound:
        with_error = True
    assert with_error


def make(fake: LocalDiscord, **options: Any) -> Callable[[], EchoBot]:
    return lambda: EchoBot(**fake.client_options, **options)


@pytest.fixture
async def fake() -> AsyncIterator[LocalDiscord]:
    async with LocalDiscord() as server:
        yield server


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
    assert {c["name"] for c in fake.commands.listed(None)} == {"echo", "count", "reindex", "slow"}
    assert [c.opened_with for c in fake.connections] == ["identify"]
    assert not [r for r in fake.requests if r.status == 404]


async def test_message_answered_with_reply_reference(fake: LocalDiscord) -> None:
    async with fake.running(make(fake)) as session:
        exchange = await session.send_message(
            "When is Lee visiting Japan?", mention_bot=True, author=session.users.bob
        )
        [reply] = await exchange.wait_messages(count=1, timeout=5)
    assert reply.reply_to == exchange.message.id
    assert reply.channel_id == fake.channels.general.id
    assert reply.content == f"echo: '{exchange.message.content}' mentioned=True"
    assert reply.allowed_mentions is not None
    assert reply.allowed_mentions["replied_user"] is False


async def test_content_is_stripped_without_the_intent(fake: LocalDiscord) -> None:
    async with fake.running(make(fake, content_intent=False)) as session:
        plain = await session.send_message("no mention here")
        [plain_reply] = await plain.wait_messages(timeout=5)
        mentioned = await session.send_message("hello", mention_bot=True)
        [mentioned_reply] = await mentioned.wait_messages(timeout=5)
        dm = await session.send_message("a dm", channel=session.dm_channel(session.users.alice))
        [dm_reply] = await dm.wait_messages(timeout=5)
    assert plain_reply.content == "echo: '' mentioned=False"
    assert mentioned_reply.content == f"echo: '{fake.bot_user.mention} hello' mentioned=True"
    assert dm_reply.content == "echo: 'a dm' mentioned=False"


async def test_threads_reach_the_bot_as_threads_of_their_channel(fake: LocalDiscord) -> None:
    news = fake.channels.news
    known = fake.world.add_thread("known", news)  # sent in GUILD_CREATE
    async with fake.running(make(fake)) as session:
        started = await fake.create_thread("started", news, private=True)  # THREAD_CREATE
        exchange = await session.send_message("in a thread", channel=started)
        [reply] = await exchange.wait_messages(timeout=5)
        guild = session.bot.guilds[0]
        threads = {t.id: (t.type, t.parent_id, t.owner_id) for t in guild.threads}
        channels = [c.name for c in guild.text_channels]
    alice = fake.users.alice.id
    assert threads == {
        known.id: (discord.ChannelType.public_thread, news.id, alice),
        started.id: (discord.ChannelType.private_thread, news.id, alice),
    }
    assert channels == ["general", "news"]  # threads are not listed as channels
    assert reply.channel_id == started.id and reply.reply_to == exchange.message.id
    assert not [r for r in fake.requests if r.status >= 400]


async def test_slash_command_deferred_then_edited(fake: LocalDiscord) -> None:
    async with fake.running(make(fake)) as session:
        run = await session.invoke("echo", {"text": "hi"})
        result = await run.wait_done(timeout=5)
    assert [a.kind for a in result.actions] == ["callback", "edit_original"]
    assert result.callback_types == [5]
    assert result.actions[0].message is not None and result.actions[0].message.loading
    assert result.original is not None
    assert result.original.content == "echo: hi"
    assert not result.original.loading and not result.original.ephemeral
    assert not result.expired


async def test_ephemeral_answer_then_followups(fake: LocalDiscord) -> None:
    async with fake.running(make(fake)) as session:
        run = await session.invoke("count", {"n": 2})
        result = await run.wait_followups(2, timeout=5)
        with pytest.raises(InvocationError, match=r"outside 1\.\.5"):
            await session.invoke("count", {"n": 9})
    assert result.callback_types == [4]
    assert result.original is not None and result.original.ephemeral
    assert [m.content for m in result.followups] == ["1", "2"]
    assert [m.embeds[0]["title"] for m in result.followups] == ["#1", "#2"]
    assert [m.content for m in result.messages] == ["counting", "1", "2"]
    assert "#2" in render_message(result.followups[1])


async def test_permissions_admin_member_and_dm(fake: LocalDiscord) -> None:
    async with fake.running(make(fake)) as session:
        users = session.users
        with pytest.raises(InvocationError, match="would not show /reindex to alice"):
            await session.invoke("reindex", user=users.alice)
        as_mod = await (await session.invoke("reindex", user=users.mod)).wait_done(timeout=5)
        granted = await session.invoke(
            "reindex", user=users.bob, permissions=discord.Permissions(manage_guild=True)
        )
        as_granted = await granted.wait_done(timeout=5)
        forced = await session.invoke("reindex", user=users.alice, check_visible=False)
        as_alice = await forced.wait_done(timeout=5)
        dm = session.dm_channel(users.bob)
        in_dm = await session.invoke("echo", {"text": "psst"}, channel=dm)
        dm_result = await in_dm.wait_done(timeout=5)
    assert as_mod.original is not None and as_mod.original.content == "manage_guild=True in guild"
    assert as_granted.original is not None
    assert as_granted.original.content == "manage_guild=True in guild"
    assert as_alice.original is not None
    assert as_alice.original.content == "manage_guild=False in guild"
    assert dm_result.original is not None and dm_result.original.content == "echo: psst"
    assert dm_result.original.guild_id is None


async def test_rate_limited_message_is_retried(fake: LocalDiscord) -> None:
    async with fake.running(make(fake)) as session:
        fault = fake.fail_next("POST", r"/channels/\d+/messages", 429, retry_after=0.05)
        exchange = await session.send_message("still there?", mention_bot=True)
        [reply] = await exchange.wait_messages(timeout=5)
    assert fault.hits == 1 and fault.remaining == 0
    posts = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/messages")]
    assert [(r.status, r.injected) for r in posts] == [(429, True), (200, False)]
    assert reply.reply_to == exchange.message.id


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


async def test_unacknowledged_interaction_fails(fake: LocalDiscord) -> None:
    fake.ack_deadline = 0.1
    async with fake.running(make(fake)) as session:
        run = await session.invoke("slow")
        with pytest.raises(InteractionFailed, match="did not acknowledge"):
            await run.wait_done(timeout=5)
        await fake.wait_for(
            lambda: True if any(r.path.endswith("/callback") for r in fake.requests) else None,
            timeout=5,
        )
    callbacks = [r for r in fake.requests if r.path.endswith("/callback")]
    assert [r.status for r in callbacks] == [404]


async def test_wrong_token_is_a_login_failure(fake: LocalDiscord) -> None:
    with pytest.raises(discord.LoginFailure):
        async with fake.running(make(fake), token="not-the-token"):
            pass
    assert [(r.path, r.status) for r in fake.requests] == [("/users/@me", 401)]
