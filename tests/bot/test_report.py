"""/report for admins and `citebot report [--json]`: counts, votes per article, the latest
unanswered questions with their channel, and the most cited articles."""

from __future__ import annotations

import json
from pathlib import Path

import discord
import pytest

from bot.cli import main
from bot.client import CitebotBot
from bot.cogs.report import REPORT_DENIED
from localdiscord import BotSession, LocalDiscord
from tests.bot.conftest import CHIPS, Run, embed_of

UNANSWERABLE = "Who won the 2022 FIFA World Cup?"


async def _converse(session: BotSession[CitebotBot], fake: LocalDiscord) -> None:
    for question in (CHIPS, UNANSWERABLE, CHIPS):
        exchange = await session.send_message(question, mention_bot=True)
        [answer] = await exchange.wait_messages()
        if question == CHIPS:
            await (await session.click(answer, "👎", user=fake.users.bob)).wait_done()


async def test_report_shows_admins_what_was_asked(run_bot: Run, fake: LocalDiscord) -> None:
    async with run_bot() as session:
        await _converse(session, fake)
        result = await (await session.invoke("report", user=session.users.mod)).wait_done()
    [message] = result.messages
    assert message.ephemeral
    embed = embed_of(message)
    assert embed.description is not None and "**3** questions asked" in embed.description
    assert "**2** answered, **1** not in the articles" in embed.description
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Votes per article"] == "👍 0 👎 2 · Chipmaker expands"
    assert f"<#{fake.channels.general.id}> · {UNANSWERABLE}" in str(fields["Latest unanswered"])
    assert fields["Most cited"] == "2 × Chipmaker expands"


async def test_report_is_refused_to_members_without_manage_server(
    run_bot: Run, fake: LocalDiscord
) -> None:
    async with run_bot() as session:
        hidden = await session.invoke("report", user=session.users.alice, check_visible=False)
        result = await hidden.wait_done()
        granted = await (
            await session.invoke(
                "report",
                user=session.users.alice,
                permissions=discord.Permissions(manage_guild=True),
            )
        ).wait_done()
    assert result.messages[0].content == REPORT_DENIED and result.messages[0].ephemeral
    assert granted.messages[0].embeds


async def test_citebot_report_prints_the_ledger(
    run_bot: Run, fake: LocalDiscord, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with run_bot() as session:
        await _converse(session, fake)
    env = tmp_path / ".env"
    env.write_text(f"CITEBOT_INDEX_DIR={tmp_path / 'index'}\n")
    assert main(["--env-file", str(env), "report", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["asked"], data["answered"], data["abstained"]) == (3, 2, 1)
    assert data["votes"] == [{"article_id": "chips-1", "up": 0, "down": 2}]
    [unanswered] = data["unanswered"]
    assert unanswered["question"] == UNANSWERABLE
    assert (unanswered["channel_id"], unanswered["channel_name"]) == (
        fake.channels.general.id,
        "general",
    )
    assert data["cited"] == [["chips-1", 2]]
    assert data["retention_days"] == 30
    assert main(["--env-file", str(env), "report"]) == 0
    text = capsys.readouterr().out
    assert "3 questions asked, 2 answered, 1 abstained" in text
    assert f"#general  {UNANSWERABLE}" in text


def test_citebot_report_without_a_ledger_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = tmp_path / ".env"
    env.write_text(f"CITEBOT_INDEX_DIR={tmp_path / 'nowhere'}\n")
    assert main(["--env-file", str(env), "report"]) == 1
    assert "no ledger" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()
