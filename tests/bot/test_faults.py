"""Faults between the bot and Discord, injected by the local Discord: rate limits (429) and
server errors (5xx) on the bot's requests, and the gateway asking the bot to reconnect or
dropping its socket. The bot's replies still arrive, exactly once, and it keeps answering."""

from __future__ import annotations

import pytest

from localdiscord import LocalDiscord
from tests.bot.conftest import Run

CHIPS = "How many workers will the chipmaker hire?"
CHIPS_SNIPPET = "> The chipmaker expects to hire 3,000 workers by 2027."
LEE = "When is Lee visiting Japan?"
# 429 with retry_after (and the Via header Discord sends); a 502 discord.py retries after 1 s.
STATUSES = [429, 502]


@pytest.mark.parametrize("status", STATUSES)
async def test_a_reply_to_a_mention_survives_a_failed_post(
    run_bot: Run, fake: LocalDiscord, status: int
) -> None:
    async with run_bot() as session:
        fault = fake.fail_next("POST", r"/channels/\d+/messages", status)
        exchange = await session.send_message(CHIPS, mention_bot=True)
        [reply] = await exchange.wait_messages()
    assert fault.hits == 1
    posts = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/messages")]
    assert [(r.status, r.injected) for r in posts] == [(status, True), (200, False)]
    assert reply.embeds[0]["description"] == CHIPS_SNIPPET
    assert len(fake.bot_messages) == 1  # sent once, not twice


@pytest.mark.parametrize("status", STATUSES)
async def test_an_ask_answer_survives_a_failed_edit(
    run_bot: Run, fake: LocalDiscord, status: int
) -> None:
    async with run_bot() as session:
        fault = fake.fail_next("PATCH", r"/webhooks/\d+/[^/]+/messages/@original", status)
        run = await session.invoke("ask", {"question": CHIPS})
        result = await run.wait_done()
    assert fault.hits == 1
    edits = [r for r in fake.requests if r.method == "PATCH"]
    assert [(r.status, r.injected) for r in edits] == [(status, True), (200, False)]
    assert [a.kind for a in result.actions] == ["callback", "edit_original"]
    assert result.original is not None
    assert result.original.embeds[0]["description"] == CHIPS_SNIPPET


async def test_the_deferral_survives_a_rate_limit(run_bot: Run, fake: LocalDiscord) -> None:
    async with run_bot() as session:
        fake.fail_next("POST", r"/interactions/\d+/[^/]+/callback", 429)
        result = await (await session.invoke("ask", {"question": CHIPS})).wait_done()
    assert result.callback_types == [5] and not result.expired
    assert result.original is not None and result.original.embeds


async def test_op7_reconnect_resumes_and_the_bot_keeps_answering(
    run_bot: Run, fake: LocalDiscord
) -> None:
    async with run_bot(cooldown_per=0) as session:
        before = await session.send_message(CHIPS, mention_bot=True)
        await before.wait_messages()
        await fake.request_reconnect(wait=False)
        # Sent while the bot is between sockets: Discord replays it on RESUME.
        during = await session.send_message(LEE, mention_bot=True)
        [during_reply] = await during.wait_messages()
        after = await (await session.invoke("ask", {"question": CHIPS})).wait_done()
    assert [(c.opened_with, c.path) for c in fake.connections] == [
        ("identify", "/"),
        ("resume", "/resume"),
    ]
    assert fake.gateway.identifies == 1 and fake.connections[1].replayed >= 1
    assert "planning to visit Japan" in during_reply.embeds[0]["description"]
    assert after.original is not None
    assert after.original.embeds[0]["description"] == CHIPS_SNIPPET
    assert [len(e.messages()) for e in (before, during)] == [1, 1]  # none lost, none twice


@pytest.mark.parametrize("code", [4000, 1011])
async def test_a_dropped_socket_is_resumed_and_the_bot_keeps_answering(
    run_bot: Run, fake: LocalDiscord, code: int
) -> None:
    # reconnect=True, as `citebot run` does: a dropped socket must not end the bot.
    async with run_bot(cooldown_per=0, reconnect=True) as session:
        await fake.drop_connection(code, wait=False)
        during = await session.send_message(CHIPS, mention_bot=True)
        [during_reply] = await during.wait_messages()
        await fake.drop_connection(code)  # and once more, waiting for the RESUME
        after = await (await session.invoke("ask", {"question": LEE})).wait_done()
    assert [c.opened_with for c in fake.connections] == ["identify", "resume", "resume"]
    assert fake.gateway.identifies == 1
    assert during_reply.embeds[0]["description"] == CHIPS_SNIPPET
    assert after.original is not None and after.original.embeds
    assert len(during.messages()) == 1
