"""Slash commands: deferring, ephemeral answers and follow-ups, permissions, the deadline."""

from __future__ import annotations

import discord
import pytest

from localdiscord import InteractionFailed, InvocationError, LocalDiscord, render_message
from tests.localdiscord.conftest import make


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


async def test_options_are_checked_as_discord_would_before_the_bot_sees_them(
    fake: LocalDiscord,
) -> None:
    async with fake.running(make(fake)) as session:
        with pytest.raises(InvocationError, match="count"):
            await session.invoke("count", {"n": 6})
        with pytest.raises(InvocationError):
            await session.invoke("frobnicate")
        with pytest.raises(InvocationError, match="no option"):
            await session.invoke("echo", {"text": "hi", "loud": True})
    assert not [r for r in fake.requests if r.path.endswith("/callback")]


async def test_an_attached_file_reaches_the_bot_and_downloads(fake: LocalDiscord) -> None:
    async with fake.running(make(fake)) as session:
        file = session.upload("story.txt", b"Trams return", "text/plain")
        run = await session.invoke("attach", {"file": file, "note": "hi"})
        result = await run.wait_done(timeout=5)
        with pytest.raises(InvocationError, match="needs option"):
            await session.invoke("attach", {"note": "no file"})
        with pytest.raises(InvocationError, match="must be a file"):
            await session.invoke("attach", {"file": "story.txt"})
    assert result.original is not None
    assert result.original.content == "story.txt 12 text/plain 'Trams return' hi"
    assert fake.uploads.downloads == {file.id: 1}


async def test_a_second_guild_with_its_own_channels_roles_and_permissions(
    fake: LocalDiscord,
) -> None:
    second = await fake.add_guild("Second Guild", ("lobby",))
    async with fake.running(make(fake)) as session:
        bot = session.bot
        guilds = {g.id: g for g in bot.guilds}
        lobby = session.channels.lobby
        mod_there = await (
            await session.invoke(
                "reindex", user=session.users.mod, channel=lobby, check_visible=False
            )
        ).wait_done(timeout=5)
        owner_there = await (
            await session.invoke("reindex", user=session.users.owner, channel=lobby)
        ).wait_done(timeout=5)
        echoed = await (await session.invoke("echo", {"text": "hi"}, channel=lobby)).wait_done(
            timeout=5
        )
        exchange = await session.send_message("hello there", channel=lobby, mention_bot=True)
        [reply] = await exchange.wait_messages()
    assert set(guilds) == {fake.world.guild_id, second.id}
    assert [c.name for c in guilds[second.id].text_channels] == ["lobby"]
    assert [c.name for c in guilds[fake.world.guild_id].text_channels] == ["general", "news"]
    assert guilds[second.id].me is not None
    # The Moderators role is the first guild's: in the second, mod is a plain member.
    assert mod_there.original is not None
    assert mod_there.original.content == "manage_guild=False in guild"
    assert owner_there.original is not None
    assert owner_there.original.content == "manage_guild=True in guild"
    assert echoed.original is not None and echoed.original.guild_id == second.id
    assert reply.guild_id == second.id and reply.channel_id == lobby.id
    assert bot.seen[-1].endswith("hello there")
