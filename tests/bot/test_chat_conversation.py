"""`citebot chat` with conversations: buttons shown and pressed, talking in a thread, and slash
options written as Discord's client writes them (`/sources page:4`, which the bot suggests)."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import write_corpus

CHIPS = "How many workers will the chipmaker hire?"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    write_corpus(tmp_path / "articles")
    (tmp_path / ".env").write_text("CITEBOT_MODEL=fake\nCITEBOT_ARTICLES_DIR=articles\n")
    return tmp_path


def chat(
    workdir: Path,
    lines: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> dict[str, str]:
    """Run `citebot chat` on these lines; the transcript's blocks by the line typed."""
    monkeypatch.chdir(workdir)
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["--env-file", str(workdir / ".env"), "chat"]) == 0
    out = capsys.readouterr().out
    return {b.split("\n", 1)[0]: b for b in out.split("\n> ")}


def test_buttons_are_shown_and_pressed(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        "/click Helpful",
        "/reindex",
        CHIPS,
        "/click 👍",
        "/click Wrong",
        "/click 🎉",
        "/report",
    ]
    blocks = chat(workdir, lines, monkeypatch, capsys)
    assert "No message with buttons yet" in blocks["/click Helpful"]
    assert "[👍 Helpful] [👎 Wrong]" in blocks[CHIPS]
    assert "(only you can see this)" in blocks["/click 👍"]
    assert "Thanks: recorded 👍 helpful" in blocks["/click 👍"]
    assert "Changed your vote to 👎 wrong" in blocks["/click Wrong"]
    assert "has no button '🎉'" in blocks["/click 🎉"]
    assert "1 questions asked, 1 answered" in blocks["/report"].replace("**", "")
    assert "👍 0 👎 1 · Chipmaker expands" in blocks["/report"]


def test_slash_options_as_discord_writes_them(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        "/reindex",
        "/sources page:1",
        "/sources page:4",
        "/sources page:four",
        f"/ask question:{CHIPS}",
        "/reindex full:True",
        "/reindex rewrite:maybe",
    ]
    blocks = chat(workdir, lines, monkeypatch, capsys)
    assert "│ Indexed articles (3)" in blocks["/sources page:1"]
    assert "There is no page 4" in blocks["/sources page:4"]  # the bot's own hint: page:1
    assert "Try /sources page:1" in blocks["/sources page:4"]
    assert "Usage: /sources [PAGE]" in blocks["/sources page:four"]
    assert "The chipmaker expects to hire 3,000 workers" in blocks[f"/ask question:{CHIPS}"]
    assert "Rebuilt in full" in blocks["/reindex full:True"]
    assert "Usage: /reindex" in blocks["/reindex rewrite:maybe"]


def test_talking_in_a_thread(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ["/reindex", "/thread chips", CHIPS, "By when?", "/leave", "/report"]
    blocks = chat(workdir, lines, monkeypatch, capsys)
    assert "started the thread #chips" in blocks["/thread chips"]
    assert "3,000 workers" in blocks[CHIPS]
    assert "Back in #general" in blocks["/leave"]
    with sqlite3.connect(workdir / "index" / "ledger.sqlite3") as db:
        rows = db.execute("SELECT question, channel_name, conversation_id FROM answers").fetchall()
    [(_, _, thread_id), _] = rows
    assert rows == [(CHIPS, "chips", thread_id), ("By when?", "chips", thread_id)]
    assert thread_id is not None  # asked in the thread: one conversation


def test_thread_mode_moves_the_chat_into_the_bots_thread(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / ".env").write_text(
        "CITEBOT_MODEL=fake\nCITEBOT_ARTICLES_DIR=articles\nCITEBOT_REPLY_MODE=thread\n"
    )
    lines = ["/reindex", CHIPS, "By when?", "/report"]
    blocks = chat(workdir, lines, monkeypatch, capsys)
    assert f"citebot opened the thread #{CHIPS}" in blocks[CHIPS]
    assert "3,000 workers" in blocks[CHIPS]
    assert "opened the thread" not in blocks["By when?"]  # a follow-up, in the same thread
    assert "2 questions asked" in blocks["/report"].replace("**", "")
