"""Threads started from a message: the route discord.py's Message.create_thread calls, the
thread's channel type and id, messages in it, and what Discord refuses."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from localdiscord import LocalDiscord


class ThreadBot(discord.Client):
    """Opens a thread on each message in a text channel and answers there; in a thread, replies
    where it is."""

    def __init__(self, **options: Any) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents, **options)
        self.errors: list[discord.HTTPException] = []

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        if isinstance(message.channel, discord.Thread):
            kind = message.channel.type.name
            await message.channel.send(f"in {kind} under {message.channel.parent_id}")
            return
        thread = await message.create_thread(name=message.content[:100])
        await thread.send(f"started {thread.name}")
        try:
            await message.create_thread(name="again")
        except discord.HTTPException as exc:
            self.errors.append(exc)


async def test_a_thread_started_from_a_message_carries_the_conversation(
    fake: LocalDiscord,
) -> None:
    async with fake.running(lambda: ThreadBot(**fake.client_options)) as session:
        exchange = await session.send_message("a question", channel=session.channels.news)
        [started] = await exchange.wait_thread_messages()
        thread = exchange.thread
        assert thread is not None
        follow = await session.send_message("more", channel=thread, author=session.users.bob)
        [answer] = await follow.wait_messages(replies_only=False)
        await fake.wait_for(lambda: session.bot.errors or None)
        cached = session.bot.get_channel(thread.id)
    assert thread.id == exchange.message.id  # Discord gives the thread its message's id
    assert (thread.kind, thread.parent_id, thread.name) == (
        "public_thread",
        session.channels.news.id,
        "a question",
    )
    assert started.content == "started a question" and started.channel_id == thread.id
    assert answer.content == f"in public_thread under {session.channels.news.id}"
    assert isinstance(cached, discord.Thread)
    [again] = session.bot.errors
    assert (again.status, again.code) == (400, 160004)  # one thread per message


@pytest.mark.parametrize("name", ["", "x" * 101])
async def test_a_thread_name_discord_refuses_is_a_400(fake: LocalDiscord, name: str) -> None:
    async with fake.running(lambda: ThreadBot(**fake.client_options)) as session:
        stored = await fake.post_user_message(session.users.alice, session.channels.news, "q")
        with pytest.raises(discord.HTTPException) as caught:
            await session.bot.http.start_thread_with_message(
                session.channels.news.id, stored.id, name=name, auto_archive_duration=1440
            )
    assert caught.value.status == 400
