"""`citebot chat`, `demo` and `run`, as real subprocesses with the fake model."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app import serve
from bot.cli import main
from bot.settings import Secret, Settings
from localdiscord import Exchange, LocalDiscord, UserMessage
from localdiscord.patch import pointed_at
from retrieval import CitebotError, Engine
from tests.conftest import SEEDS, write_corpus

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"


def citebot(
    *args: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "HF_HUB_OFFLINE": "1",
            "PYTHONPATH": str(SEEDS.parent),
            **(env or {}),
        },
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    write_corpus(tmp_path / "articles")
    (tmp_path / ".env").write_text("CITEBOT_MODEL=fake\nCITEBOT_ARTICLES_DIR=articles\n")
    return tmp_path


def run_in_process(workdir: Path, *args: str) -> int:
    """`citebot ARGS` in this process (faster than a subprocess), reading workdir/.env."""
    return main(["--env-file", str(workdir / ".env"), *args])


def test_chat_session(workdir: Path) -> None:
    lines = [
        "/status",
        "/reindex",
        "How many workers will the chipmaker hire?",
        "/ask When is Lee visiting Japan?",
        "/sources",
        "/sources 7",
        "/sources 0",
        "/reindex full",
        "/reindex rewrite",
        "/reindex everything",
        "/frobnicate",
        "/help",
        "/quit",
        "never read: the session ended",
    ]
    done = citebot("chat", cwd=workdir, stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "You are @mod" in out
    assert "the index is unavailable" in out  # nothing was indexed before the chat
    # Each transcript block starts with the line typed, then what the bot showed.
    blocks = {b.split("\n", 1)[0]: b for b in out.split("\n> ")}
    assert "The index is unavailable" in blocks["/status"]
    assert "Reindexing… reading the articles folder" in blocks["/reindex"]
    assert "│ Reindex finished" in blocks["/reindex"]
    assert "added 3, changed 0, removed 0, unchanged 0, skipped 0" in blocks["/reindex"]
    chips = blocks["How many workers will the chipmaker hire?"]
    assert "│ > The chipmaker expects to hire 3,000 workers by 2027." in chips
    assert "│ Chipmaker expands" in chips
    lee = blocks["/ask When is Lee visiting Japan?"]
    assert "planning to visit Japan" in lee and "│ Lee visits China" in lee
    assert "│ Indexed articles (3)" in blocks["/sources"]
    assert "There is no page 7" in blocks["/sources 7"]
    assert "outside 1..100000" in blocks["/sources 0"]
    assert "Rebuilt in full" in blocks["/reindex full"]
    assert "added 0, changed 0, removed 0, unchanged 3, skipped 0" in blocks["/reindex full"]
    assert "│ Rewritten" in blocks["/reindex rewrite"]
    assert "unchanged 3, skipped 0" in blocks["/reindex rewrite"]
    assert "Usage: /reindex [full|rewrite|allow_shrink]" in blocks["/reindex everything"]
    assert "Unknown command /frobnicate" in blocks["/frobnicate"]
    assert "/reindex" in blocks["/help"]
    assert "never read" not in out
    assert "Traceback" not in done.stderr


def test_chat_ends_at_end_of_input(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(workdir)
    monkeypatch.setattr("sys.stdin", io.StringIO("/status\n"))  # then end of input
    assert run_in_process(workdir, "chat") == 0
    out = capsys.readouterr().out
    assert "> /status" in out and "citebot status" in out


def test_a_line_too_long_for_discord_is_refused_and_the_chat_goes_on(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(workdir)
    lines = ["/reindex", "word " * 500, "How many workers will the chipmaker hire?"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert run_in_process(workdir, "chat") == 0
    out = capsys.readouterr().out
    assert "(Discord would not send that: a message holds at most 2,000 characters" in out
    assert "The chipmaker expects to hire 3,000 workers by 2027." in out


def test_the_cooldown_does_not_hold_up_the_person_chatting(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(workdir)
    lines = ["/reindex", *["How many workers will the chipmaker hire?"] * 5]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert run_in_process(workdir, "chat") == 0
    out = capsys.readouterr().out
    assert "The per-user cooldown (3 questions per 30 s, CITEBOT_COOLDOWN_RATE and" in out
    assert "You're asking quickly" not in out
    assert out.count("The chipmaker expects to hire 3,000 workers by 2027.") == 5


def test_demo_indexes_asks_and_says_what_next(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(workdir)
    assert run_in_process(workdir, "demo") == 0
    out = capsys.readouterr().out
    assert "No DISCORD_TOKEN configured" in out
    assert "Indexed 3 articles" in out
    assert "@alice: @citebot When is Lee visiting Japan?" in out
    assert "@bob used /ask question: When is Lee visiting Japan?" in out
    assert out.count("│ Lee visits China") == 2  # the mention's reply, and /ask's
    assert "planning to visit Japan" in out
    assert "@alice: @citebot Who won the 2022 FIFA World Cup?" in out
    assert out.count("│ Not in the articles") == 1
    assert ".venv/bin/citebot chat" in out
    assert "DISCORD_TOKEN" in out and "citebot run" in out and "docs/discord.md" in out


def test_demo_with_a_token_still_stays_local(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    assert run_in_process(workdir, "demo", "Who won the 2022 FIFA World Cup?") == 0
    captured = capsys.readouterr()
    assert "the demo always uses the local Discord" in captured.out
    # The question asked by mention and by /ask, then the demo's own out-of-scope question.
    assert captured.out.count("│ Not in the articles") == 3
    assert TOKEN not in captured.out + captured.err


def test_run_without_a_token_names_the_key(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_in_process(workdir, "run") == 1
    err = capsys.readouterr().err
    assert "DISCORD_TOKEN is not set" in err and "docs/discord.md" in err


async def test_run_serves_until_stopped(
    fake: LocalDiscord, settings: Settings, fake_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """`citebot run`'s serve(), pointed at the local Discord: it builds its own engine, answers,
    and closes cleanly when cancelled."""
    caplog.set_level(logging.DEBUG)
    with pointed_at(fake.api_url, fake.gateway_url):
        with pytest.raises(CitebotError, match="Discord rejected DISCORD_TOKEN"):
            await serve(settings, Secret("not-the-token"), **fake.client_options)
        serving = asyncio.create_task(serve(settings, Secret(fake.token), **fake.client_options))
        try:
            await fake.wait_for(lambda: fake.gateway.intents, describe=lambda: "no IDENTIFY")
            author, channel = fake.users.alice, fake.channels.general
            stored = await fake.post_user_message(
                author,
                channel,
                f"{fake.bot_user.mention} How many workers will the chipmaker hire?",
            )
            exchange = Exchange(fake, UserMessage(stored.id, channel, author, ""))
            [reply] = await exchange.wait_messages()
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
    assert (
        reply.embeds[0]["description"] == "> The chipmaker expects to hire 3,000 workers by 2027."
    )
    assert fake.token not in caplog.text and "not-the-token" not in caplog.text
