"""Slash commands beyond /ask (sources, status, their sync), the bot when the index is
unavailable, and failures: real discord.py against the local Discord, a real Engine, the fake
encoder."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import discord
import pytest

from bot.replies import GENERIC
from localdiscord import InvocationError, LocalDiscord
from retrieval import Answer, Engine
from retrieval.encode.fake import FakeEncoder
from tests.bot.conftest import CHIPS, CountedAsks, Run, embed_of
from tests.conftest import write_corpus

COMMANDS = {"add", "ask", "reindex", "remove", "report", "sources", "status"}


async def test_unavailable_index_is_explained(tmp_path: Path, run_bot: Run) -> None:
    engine = Engine(tmp_path / "never-built", tmp_path / "articles", FakeEncoder())
    async with run_bot(engine=engine) as session:
        exchange = await session.send_message(CHIPS, mention_bot=True)
        [reply] = await exchange.wait_messages()
        asked = await (await session.invoke("ask", {"question": CHIPS})).wait_done()
        status = await (await session.invoke("status")).wait_done()
        sources = await (await session.invoke("sources")).wait_done()
    assert reply.content.startswith("The index is unavailable: No index has been built in")
    assert reply.content.endswith("An admin can run /reindex.")
    assert asked.original is not None and asked.original.content == reply.content
    assert status.original is not None
    assert embed_of(status.original).description == reply.content
    assert sources.original is not None and sources.original.content == reply.content


async def test_another_models_index_is_unavailable(fake_engine: Engine, run_bot: Run) -> None:
    engine = Engine(fake_engine.index_dir, fake_engine.articles_dir, FakeEncoder(dimension=64))
    async with run_bot(engine=engine) as session:
        exchange = await session.send_message(CHIPS, mention_bot=True)
        [reply] = await exchange.wait_messages()
    assert reply.content.startswith("The index is unavailable: The index was built with model")


async def test_an_unexpected_error_is_logged_with_a_generic_reply(
    run_bot: Run, fake_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(question: str, **kwargs: object) -> None:
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(fake_engine, "ask", broken)
    async with run_bot() as session:
        exchange = await session.send_message(CHIPS, mention_bot=True)
        [reply] = await exchange.wait_messages()
    assert reply.content == GENERIC


async def test_sources_are_listed_a_page_at_a_time(
    tmp_path: Path, fake: LocalDiscord, run_bot: Run
) -> None:
    articles = write_corpus(
        tmp_path / "many", {f"a{n:02}.txt": f"Title {n:02}\nBody {n}." for n in range(23)}
    )
    engine = Engine(tmp_path / "many-index", articles, FakeEncoder())
    engine.reindex()
    try:
        async with run_bot(engine=engine) as session:
            pages = [
                await (await session.invoke("sources", {"page": n})).wait_done() for n in (1, 3, 4)
            ]
            default = await (await session.invoke("sources")).wait_done()
            with pytest.raises(InvocationError, match=r"outside 1\.\.100000"):
                await session.invoke("sources", {"page": 0})
    finally:
        engine.close()
    first, last, past = (p.original for p in pages)
    assert first is not None and last is not None and past is not None
    assert first.ephemeral and pages[0].callback_types == [5]
    lines = (embed_of(first).description or "").splitlines()
    assert lines[0] == "**1.** Title 00 — a00.txt" and len(lines) == 10
    assert embed_of(first).footer.text == "Page 1 of 3 · /sources page:2 for more"
    assert (embed_of(last).description or "").splitlines() == [
        f"**{n + 1}.** Title {n} — a{n}.txt" for n in (20, 21, 22)
    ]
    assert past.content == "There is no page 4: 23 articles fit on 3 pages. Try /sources page:3."
    assert default.original is not None and default.original.embeds == first.embeds


async def test_status_shows_the_index(run_bot: Run, fake_engine: Engine) -> None:
    async with run_bot() as session:
        result = await (await session.invoke("status")).wait_done()
    assert result.original is not None and result.original.ephemeral
    fields = {f.name: f.value for f in embed_of(result.original).fields}
    stats = fake_engine.stats()
    assert fields["Articles"] == "3"
    assert fields["Passages"] == str(stats.passages)
    assert fields["Model"] == "fake (256 dimensions)"
    assert fields["Built"] is not None and fields["Built"].endswith("UTC")


async def test_commands_sync_globally_or_to_the_guild(run_bot: Run, fake: LocalDiscord) -> None:
    async with run_bot():
        pass
    assert {c["name"] for c in fake.commands.listed(None)} == COMMANDS
    async with run_bot(guild_id=fake.world.guild_id):
        pass
    listed = {c["name"]: c for c in fake.commands.listed(fake.world.guild_id)}
    assert set(listed) == COMMANDS
    assert int(listed["reindex"]["default_member_permissions"]) == (
        discord.Permissions(manage_guild=True).value
    )
    assert listed["reindex"]["contexts"] == [0]  # guild only
    ask = listed["ask"]
    assert ask["description"] == "Answer a question with a sentence quoted from the news articles."
    [question] = ask["options"]
    assert (question["name"], question["min_length"], question["max_length"]) == (
        "question",
        1,
        1000,
    )


async def test_concurrent_answering_is_bounded(
    run_bot: Run, fake_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_at_once = threading.Event()

    def slow(running: int) -> None:
        if running == 2:
            two_at_once.set()
        two_at_once.wait(timeout=5)  # hold the first question until a second one runs
        time.sleep(0.01)

    asks = CountedAsks(fake_engine.ask, slow)
    monkeypatch.setattr(fake_engine, "ask", asks)
    async with run_bot(max_concurrent=2) as session:
        exchanges = [
            await session.send_message(CHIPS, author=user, mention_bot=True)
            for user in session.users
            for _ in range(2)
        ]
        replies = await asyncio.gather(*(e.wait_messages() for e in exchanges))
    assert len(exchanges) == 8
    assert all(r[0].embeds for r in replies)  # every question answered, in turn
    assert asks.most == 2


async def test_a_failing_command_gets_a_generic_reply(
    run_bot: Run, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(answer: Answer) -> None:
        raise RuntimeError("formatting bug")

    monkeypatch.setattr("bot.answering.answer_reply", broken)
    async with run_bot() as session:
        run = await session.invoke("ask", {"question": CHIPS})
        result = await run.wait_followups(1)
        exchange = await session.send_message(CHIPS, mention_bot=True)
        [reply] = await exchange.wait_messages()
    [followup] = result.followups
    assert followup.content == GENERIC and followup.ephemeral
    assert reply.content == GENERIC
    logged = [r for r in caplog.records if r.name == "citebot.bot" and r.exc_info]
    assert len(logged) == 2
