"""Threads and follow-ups through discord.py and the local Discord: CITEBOT_REPLY_MODE=thread
opens a thread on a question; a message in a thread the bot answered in is a follow-up, with the
thread's earlier questions as its history."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from localdiscord import LocalDiscord
from retrieval import Answer, Engine, Turn
from tests.bot.conftest import CHIPS, Run, embed_of

CHIPS_SNIPPET = "The chipmaker expects to hire 3,000 workers by 2027."


class Asks:
    """Stands in for Engine.ask, recording each question with the history it was given."""

    def __init__(self, engine: Engine) -> None:
        self._ask = engine.ask
        self._lock = threading.Lock()
        self.asked: list[tuple[str, list[Turn]]] = []

    def __call__(self, question: str, **kwargs: Any) -> Answer:
        with self._lock:
            self.asked.append((question, list(kwargs.get("history", ()))))
        return self._ask(question, **kwargs)


@pytest.fixture
def asks(fake_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Asks:
    spy = Asks(fake_engine)
    monkeypatch.setattr(fake_engine, "ask", spy)
    return spy


def vote_ids(message: Any) -> list[str]:
    return [b["custom_id"] for row in message.components for b in row["components"]]


async def test_thread_mode_opens_a_thread_and_follow_ups_need_no_mention(
    run_bot: Run, fake: LocalDiscord, asks: Asks
) -> None:
    news = fake.channels.news
    async with run_bot(answer_channels=frozenset({news.id}), reply_mode="thread") as session:
        exchange = await session.send_message(CHIPS, channel=news)
        [first] = await exchange.wait_thread_messages()
        thread = exchange.thread
        assert thread is not None
        follow = await session.send_message("By when?", channel=thread, author=session.users.bob)
        [second] = await follow.wait_messages()
        in_channel = exchange.messages(replies_only=False)
    assert (thread.name, thread.parent_id, thread.kind) == (CHIPS, news.id, "public_thread")
    assert in_channel == []  # the answer went to the thread, not #news
    assert first.channel_id == thread.id and first.reply_to is None
    assert embed_of(first).description == f"> {CHIPS_SNIPPET}"
    assert second.channel_id == thread.id and second.reply_to == follow.message.id
    assert asks.asked == [
        (CHIPS, []),
        ("By when?", [Turn(CHIPS, "chips-1")]),
    ]
    [up, down] = vote_ids(first)
    assert up.startswith("citebot:vote:up:") and down.startswith("citebot:vote:down:")
    assert vote_ids(second) != vote_ids(first)  # each answer has its own buttons


async def test_a_mention_in_thread_mode_opens_a_thread_too(
    run_bot: Run, fake: LocalDiscord, asks: Asks
) -> None:
    async with run_bot(reply_mode="thread") as session:
        exchange = await session.send_message(CHIPS, mention_bot=True)
        [answer] = await exchange.wait_thread_messages()
        follow = await session.send_message("And when?", channel=exchange.thread)
        [again] = await follow.wait_messages()
    assert fake.gateway.has_intent(1 << 15)  # follow-ups without a mention need the content
    assert answer.channel_id == exchange.message.id
    assert again.channel_id == exchange.message.id
    assert asks.asked[-1] == ("And when?", [Turn(CHIPS, "chips-1")])


async def test_a_thread_the_bot_never_answered_in_is_left_alone(
    run_bot: Run, fake: LocalDiscord, asks: Asks
) -> None:
    async with run_bot(reply_mode="thread") as session:
        chatter = await fake.create_thread("chatter", fake.channels.general)
        unaddressed = await session.send_message(CHIPS, channel=chatter)
        mentioned = await session.send_message(CHIPS, channel=chatter, mention_bot=True)
        [reply] = await mentioned.wait_messages()  # events arrive in order
        ignored = unaddressed.messages()
    assert ignored == []
    assert reply.channel_id == chatter.id  # already in a thread: no thread in a thread
    assert [q for q, _ in asks.asked] == [CHIPS]


async def test_inline_mode_replies_in_the_channel_and_threads_still_carry_history(
    run_bot: Run, fake: LocalDiscord, asks: Asks
) -> None:
    async with run_bot() as session:  # inline, the default; no answer channels
        exchange = await session.send_message(CHIPS, mention_bot=True)
        [reply] = await exchange.wait_messages()
        thread = await fake.create_thread("talk", fake.channels.general)
        asked = await session.send_message(CHIPS, channel=thread, mention_bot=True)
        await asked.wait_messages()
        follow = await session.send_message("By when?", channel=thread, mention_bot=True)
        await follow.wait_messages()
    assert exchange.thread is None and reply.reply_to == exchange.message.id
    assert len(vote_ids(reply)) == 2
    # Without the Message Content intent a follow-up needs a mention; its history is the thread's.
    assert not fake.gateway.has_intent(1 << 15)
    assert asks.asked == [(CHIPS, []), (CHIPS, []), ("By when?", [Turn(CHIPS, "chips-1")])]


async def test_without_permission_to_open_a_thread_the_answer_is_inline(
    run_bot: Run, fake: LocalDiscord
) -> None:
    fake.fail_next("POST", r"/channels/\d+/messages/\d+/threads", 403)
    async with run_bot(reply_mode="thread") as session:
        exchange = await session.send_message(CHIPS, mention_bot=True)
        [reply] = await exchange.wait_messages()
    assert exchange.thread is None
    assert reply.channel_id == fake.channels.general.id
    assert embed_of(reply).description == f"> {CHIPS_SNIPPET}"


async def test_direct_messages_are_answered_in_place_in_thread_mode(run_bot: Run) -> None:
    async with run_bot(reply_mode="thread") as session:
        dm = session.dm_channel(session.users.alice)
        exchange = await session.send_message(CHIPS, channel=dm)
        [reply] = await exchange.wait_messages()
    assert reply.channel_id == dm.id and len(vote_ids(reply)) == 2


async def test_hints_are_not_worth_a_thread(run_bot: Run) -> None:
    async with run_bot(reply_mode="thread") as session:
        exchange = await session.send_message("", mention_bot=True)
        [hint] = await exchange.wait_messages()
    assert exchange.thread is None and "in words" in hint.content and not hint.components
