"""Permissions and secrets: /reindex hidden from and refused to members without Manage Server
and kept out of DMs; the token read only from the environment or .env and shown nowhere (logs,
reprs, replies); a per-user cooldown and a global bound on work, so that one user flooding the
bot cannot starve another."""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import serve
from bot.client import CitebotBot
from bot.replies import GENERIC, REINDEX_DENIED, REINDEX_GUILD_ONLY
from bot.settings import Secret, Settings, load_settings
from localdiscord import LocalDiscord
from localdiscord.patch import pointed_at
from retrieval import Answer, CitebotError, Engine
from retrieval.index.version import current_version
from tests.bot.conftest import CountedAsks, Run
from tests.conftest import REPO, CountingEncoder

# Shaped like a real bot token (base64 id, timestamp, HMAC); the HMAC part is the secret one.
TOKEN = "MTM4NDU2Nzg5MDEyMzQ1Njc4OQ.GhYtRe.Kq8vN3xLmP0wZs7TjUe5Rb2YcHd9FgAiXoB4"
WRONG = "MTM4NDU2Nzg5MDEyMzQ1Njc4OQ.GhYtRe.Zz9vN3xLmP0wZs7TjUe5Rb2YcHd9FgAiXoWRONG"
CHIPS = "How many workers will the chipmaker hire?"
MANAGE_GUILD = 1 << 5


def leaks(text: str, token: str) -> bool:
    return token in text or token.rsplit(".", 1)[1] in text


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record as a handler would write it: message, arguments, traceback."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(f"{formatter.format(r)} {r.args!r}" for r in caplog.records)


async def test_reindex_is_synced_hidden_from_members_and_out_of_dms(
    run_bot: Run, fake: LocalDiscord
) -> None:
    async with run_bot():
        pass
    [sync] = [r for r in fake.requests if r.method == "PUT" and r.path.endswith("/commands")]
    sent = {c["name"]: c for c in sync.json}
    registered = {c["name"]: c for c in fake.commands.listed(None)}
    # Discord hides the command from members without Manage Server, and never offers it in DMs.
    assert sent["reindex"]["default_member_permissions"] == MANAGE_GUILD
    assert registered["reindex"]["default_member_permissions"] == str(MANAGE_GUILD)
    assert registered["reindex"]["contexts"] == [0]  # guilds only
    assert registered["reindex"]["dm_permission"] is False
    for name in ("ask", "sources", "status"):  # for everyone
        assert registered[name]["default_member_permissions"] is None


async def test_a_refused_reindex_changes_nothing(
    run_bot: Run, fake_engine: Engine, fake_encoder: CountingEncoder, corpus: Path
) -> None:
    served = current_version(fake_engine.index_dir)
    (corpus / "new.txt").write_text("Volcano erupts\nThe volcano erupted near Catania.")
    fake_encoder.texts.clear()
    async with run_bot() as session:
        users = session.users
        # Were the command shown anyway (a server admin's override), the bot refuses at run time.
        member = await session.invoke("reindex", user=users.alice, check_visible=False)
        dm = session.dm_channel(users.owner)
        in_dm = await session.invoke("reindex", user=users.owner, channel=dm, check_visible=False)
        refusals = [await member.wait_done(), await in_dm.wait_done()]
    assert [r.original.content for r in refusals if r.original] == [
        REINDEX_DENIED,
        REINDEX_GUILD_ONLY,
    ]
    assert all(r.original is not None and r.original.ephemeral for r in refusals)
    assert current_version(fake_engine.index_dir) == served
    assert fake_encoder.texts == []  # nothing was even read and embedded


@pytest.fixture
def token_discord() -> Iterator[LocalDiscord]:
    yield LocalDiscord(token=TOKEN)


async def test_the_token_never_appears_in_logs_reprs_or_replies(
    token_discord: LocalDiscord,
    settings: Settings,
    fake_engine: Engine,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)  # discord.py's debug logs too: requests, gateway events
    fake = token_discord
    bot_settings = replace(settings, discord_token=Secret(TOKEN), cooldown_per=0)
    async with fake:
        factory = lambda: CitebotBot(bot_settings, fake_engine, **fake.client_options)  # noqa: E731
        async with fake.running(factory, reconnect=True) as session:  # logs in with TOKEN
            exchange = await session.send_message(CHIPS, mention_bot=True)
            await exchange.wait_messages()
            await fake.request_reconnect()  # RESUME sends the token again
            await fake.drop_connection()
            asked = await (await session.invoke("ask", {"question": CHIPS})).wait_done()
            report = await (await session.invoke("reindex", user=session.users.mod)).wait(
                lambda r: r.original is not None and bool(r.original.embeds)
            )

            def broken(answer: Answer) -> None:
                raise RuntimeError("formatting bug")

            monkeypatch.setattr("bot.answering.answer_reply", broken)
            failed = await session.send_message(CHIPS, mention_bot=True)
            [generic] = await failed.wait_messages()
            shown = repr(session.bot.settings) + str(session.bot.settings)
    assert generic.content == GENERIC
    assert asked.original is not None and report.original is not None
    assert [c.opened_with for c in fake.connections] == ["identify", "resume", "resume"]
    text = logged(caplog)
    assert "discord.http DEBUG" in text and "discord.gateway" in text  # everything was captured
    assert "Unexpected error while serving a request" in text  # the bug was logged, in full
    assert not leaks(text, TOKEN)
    assert not leaks(shown, TOKEN)
    sent = "\n".join(repr(m) for m in fake.bot_messages)
    assert not leaks(sent, TOKEN)


async def test_a_rejected_token_is_reported_without_the_token(
    token_discord: LocalDiscord, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with token_discord as fake:
        with (
            pointed_at(fake.api_url, fake.gateway_url),
            pytest.raises(CitebotError) as refused,
        ):
            await serve(settings, Secret(WRONG), **fake.client_options)
    assert "Discord rejected DISCORD_TOKEN" in str(refused.value)
    for text in (str(refused.value), repr(refused.value), logged(caplog)):
        assert not leaks(text, WRONG)


def test_the_token_comes_only_from_the_environment_or_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"DISCORD_TOKEN={TOKEN}\n")
    assert load_settings(tmp_path / "missing.env").discord_token is None
    from_file = load_settings(env_file).discord_token
    assert from_file is not None and from_file.reveal() == TOKEN
    monkeypatch.setenv("DISCORD_TOKEN", WRONG)
    from_env = load_settings(env_file).discord_token
    assert from_env is not None and from_env.reveal() == WRONG  # the environment wins
    # Nothing but bot/settings.py reads the environment.
    reads = re.compile(r"os\.environ(?!\.setdefault)|os\.getenv|getenv\(")
    readers = [
        str(path.relative_to(REPO))
        for package in ("bot", "retrieval")
        for path in sorted((REPO / package).rglob("*.py"))
        if reads.search(path.read_text(encoding="utf-8"))
    ]
    assert readers == ["bot/settings.py"]


def test_env_is_git_ignored_and_the_example_holds_no_token() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".gitignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(name: str) -> bool:
        return any(fnmatch.fnmatch(name, p.lstrip("/")) for p in patterns if not p.startswith("!"))

    assert ignored(".env")
    assert not ignored(".env.example")
    example = (REPO / ".env.example").read_text()
    assert re.search(r"^DISCORD_TOKEN=$", example, re.MULTILINE)


async def test_one_user_flooding_cannot_starve_another(
    run_bot: Run, fake: LocalDiscord, fake_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """alice sends 20 questions at once, then bob one. The cooldown lets 3 of alice's through
    and refuses the rest at once; at most 2 are worked on at a time. bob's answer comes before
    any question of alice's beyond those 3 could be."""
    rate, workers, flood = 3, 2, 20
    gate, two_running = threading.Event(), threading.Event()

    def held(running: int) -> None:
        if running == workers:
            two_running.set()
        if not gate.wait(timeout=10):
            raise TimeoutError("the test never opened the gate")

    asks = CountedAsks(fake_engine.ask, held)
    monkeypatch.setattr(fake_engine, "ask", asks)
    async with run_bot(cooldown_rate=rate, cooldown_per=600.0, max_concurrent=workers) as session:
        alice, bob = session.users.alice, session.users.bob
        floods = [
            await session.send_message(f"{CHIPS} ({n})", author=alice, mention_bot=True)
            for n in range(flood)
        ]
        refused_ask = await (await session.invoke("ask", {"question": CHIPS})).wait_done()
        assert await asyncio.to_thread(two_running.wait, 10), "alice's questions never ran"
        await fake.wait_for(
            lambda: True if sum(len(e.messages()) for e in floods) == flood - rate else None,
            describe=lambda: "alice's refusals",
        )
        by_bob = await session.send_message(CHIPS, author=bob, mention_bot=True)
        gate.set()
        [bob_reply] = await by_bob.wait_messages()
        alice_replies = [await e.wait_messages() for e in floods]
        await asyncio.sleep(0.1)  # time for any reply sent twice to show
        counts = [len(e.messages()) for e in [*floods, by_bob]]

    assert counts == [1] * (flood + 1)  # every question answered exactly once
    answered = [r[0] for r in alice_replies if r[0].embeds]
    cooled = [r[0] for r in alice_replies if not r[0].embeds]
    assert len(answered) == rate and len(cooled) == flood - rate
    assert all(m.content.startswith("You're asking quickly") for m in cooled)
    assert refused_ask.original is not None and refused_ask.original.ephemeral
    assert refused_ask.original.content.startswith("You're asking quickly")
    assert bob_reply.embeds and 1 < asks.most <= workers
    answers_in_order = [m.id for m in fake.bot_messages if m.embeds]
    assert answers_in_order.index(bob_reply.id) <= rate  # behind at most alice's 3
