"""👍/👎 through discord.py and the local Discord: ephemeral acknowledgements within the
deadline, one changeable vote per user per answer, and votes that survive a restart of the bot
and every kind of reindex."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from bot.client import CitebotBot
from bot.ledger import FILENAME, Ledger
from localdiscord import BotMessage, BotSession, LocalDiscord
from localdiscord.records import CALLBACK_DEFERRED_MESSAGE
from retrieval import Engine
from tests.bot.conftest import CHIPS, Run


def votes(index_dir: Path) -> dict[str | None, tuple[int, int]]:
    with Ledger(index_dir / FILENAME) as ledger:
        report = ledger.report()
    return {v.article_id: (v.up, v.down) for v in report.votes}


async def _answer(session: BotSession[CitebotBot]) -> BotMessage:
    exchange = await session.send_message(CHIPS, mention_bot=True)
    [reply] = await exchange.wait_messages()
    return reply


async def test_a_vote_is_acknowledged_only_to_the_voter_and_can_be_changed(
    run_bot: Run, fake: LocalDiscord, tmp_path: Path
) -> None:
    async with run_bot() as session:
        answer = await _answer(session)
        bob, alice = session.users.bob, session.users.alice
        first = await (await session.click(answer, "👍", user=bob)).wait_done()
        again = await (await session.click(answer, "Helpful", user=bob)).wait_done()
        changed = await (await session.click(answer, "👎", user=bob)).wait_done()
        other = await (await session.click(answer, "👍", user=alice)).wait_done()
    acks = [r.messages[0] for r in (first, again, changed, other)]
    assert all(a.ephemeral for a in acks)
    assert all(
        r.callback_types == [CALLBACK_DEFERRED_MESSAGE] and not r.expired for r in (first, other)
    )
    assert [a.content.split(":")[0].split(" ")[0] for a in acks] == [
        "Thanks",
        "You",
        "Changed",
        "Thanks",
    ]
    assert votes(tmp_path / "index") == {"chips-1": (1, 1)}


async def test_an_ask_answer_carries_the_buttons_too(run_bot: Run, tmp_path: Path) -> None:
    async with run_bot() as session:
        result = await (await session.invoke("ask", {"question": CHIPS})).wait_done()
        [answer] = result.messages
        await (await session.click(answer, "👎")).wait_done()
    assert votes(tmp_path / "index") == {"chips-1": (0, 1)}


async def test_votes_survive_a_restart_and_every_reindex(
    run_bot: Run, fake: LocalDiscord, fake_engine: Engine, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"
    async with run_bot() as session:
        answer = await _answer(session)
        await (await session.click(answer, "👍", user=session.users.bob)).wait_done()
    # A restart: a new bot, nothing in memory; the old message's buttons still work.
    async with run_bot() as session:
        after_restart = await (
            await session.click(answer, "👎", user=session.users.bob)
        ).wait_done()
        await (await session.click(answer, "👍", user=session.users.mod)).wait_done()
    assert after_restart.messages[0].content.startswith("Changed")
    before = votes(index_dir)
    versions = set((index_dir / "versions").iterdir())
    fake_engine.reindex(full=True)
    fake_engine.reindex(rewrite=True)
    assert set((index_dir / "versions").iterdir()) != versions  # the index was rebuilt
    async with run_bot() as session:
        late = await (await session.click(answer, "👍", user=session.users.alice)).wait_done()
    assert before == {"chips-1": (1, 1)}
    assert late.messages[0].content.startswith("Thanks")
    assert votes(index_dir) == {"chips-1": (2, 1)}


async def test_a_vote_on_an_answer_past_the_retention_says_so(run_bot: Run, tmp_path: Path) -> None:
    async with run_bot() as session:
        answer = await _answer(session)
    with Ledger(tmp_path / "index" / FILENAME) as ledger:
        ledger.clock = lambda: 10e9  # centuries later: everything is past the retention
        ledger.prune()
    async with run_bot() as session:
        result = await (await session.click(answer, "👍")).wait_done()
    assert "no longer kept" in result.messages[0].content
    assert votes(tmp_path / "index") == {}


async def test_a_slow_vote_is_still_acknowledged_within_the_deadline(
    run_bot: Run, fake: LocalDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker threads may be busy answering: the click is acknowledged before the write."""
    real_vote = Ledger.vote

    def slow_vote(self: Ledger, *args: Any) -> Any:
        time.sleep(0.6)
        return real_vote(self, *args)

    monkeypatch.setattr(Ledger, "vote", slow_vote)
    fake.ack_deadline = 0.3
    async with run_bot() as session:
        answer = await _answer(session)
        result = await (await session.click(answer, "👍")).wait_done()
    assert not result.expired
    assert result.messages[0].content.startswith("Thanks")


async def test_answers_views_are_not_kept_in_memory(run_bot: Run) -> None:
    """One stored view per answer would grow for as long as the bot runs: the buttons are
    dynamic items only, found by their custom_id's pattern."""
    async with run_bot(cooldown_per=0.0) as session:
        answers = [await _answer(session) for _ in range(3)]
        asked = await (await session.invoke("ask", {"question": CHIPS})).wait_done()
        kept = list(session.bot.persistent_views)
        result = await (await session.click(answers[0], "👍")).wait_done()
        via_ask = await (await session.click(asked.messages[0], "👎")).wait_done()
    assert kept == []
    assert result.messages[0].content.startswith("Thanks")
    assert via_ask.messages[0].content.startswith("Thanks")
