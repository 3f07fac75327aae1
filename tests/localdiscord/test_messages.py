"""Messages: replies, the Message Content intent, threads."""

from __future__ import annotations

import discord

from localdiscord import LocalDiscord
from tests.localdiscord.conftest import make


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
