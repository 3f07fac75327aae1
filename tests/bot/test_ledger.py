"""The ledger: answers and votes in SQLite, one vote per user per answer, pseudonyms only, and
nothing older than the retention."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.ledger import Ledger, Where
from retrieval import Answer, Citation, Source, Turn

DAY = 86400.0
GENERAL = Where(1111, "general", None)
THREAD = Where(2222, "When is Lee visiting Japan?", 2222)


class Clock:
    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


def answer(question: str, article_id: str | None) -> Answer:
    if article_id is None:
        return Answer(question, None, ())
    source = Source(article_id, article_id.title(), f"{article_id}.txt")
    return Answer(question, Citation(source, "A sentence.", 0, 11, 1.0), ())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(tmp_path: Path, clock: Clock) -> Iterator[Ledger]:
    with Ledger(tmp_path / "ledger.sqlite3", retention_days=30, clock=clock) as ledger:
        yield ledger


def test_a_threads_answers_are_its_history_oldest_first(ledger: Ledger) -> None:
    ledger.record(answer("When is Lee visiting Japan?", "lee"), 1, THREAD)
    ledger.record(answer("Elsewhere?", "rain"), 1, GENERAL)
    ledger.record(answer("Who will he meet there?", None), 2, THREAD)
    assert ledger.history(THREAD.conversation_id or 0) == [
        Turn("When is Lee visiting Japan?", "lee"),
        Turn("Who will he meet there?", None),
    ]
    assert ledger.answered_in(2222) and not ledger.answered_in(1111)


def test_one_vote_per_user_per_answer_which_they_can_change(ledger: Ledger) -> None:
    first = ledger.record(answer("q1", "lee"), 1, GENERAL)
    second = ledger.record(answer("q2", "rain"), 1, GENERAL)
    assert ledger.vote(first, 7, "up") == "recorded"
    assert ledger.vote(first, 7, "up") == "kept"
    assert ledger.vote(first, 7, "down") == "changed"
    assert ledger.vote(first, 8, "up") == "recorded"
    assert ledger.vote(second, 7, "up") == "recorded"
    assert ledger.vote(9999, 7, "up") == "gone"
    votes = {v.article_id: (v.up, v.down) for v in ledger.report().votes}
    assert votes == {"lee": (1, 1), "rain": (1, 0)}


def test_the_report_counts_and_lists(ledger: Ledger, clock: Clock) -> None:
    ledger.record(answer("When is Lee visiting Japan?", "lee"), 1, GENERAL)
    ledger.record(answer("Who won the 2022 World Cup?", None), 2, GENERAL)
    clock.now += 60
    ledger.record(answer("Population of Seoul?", None), 3, THREAD)
    ledger.record(answer("Who will Lee meet?", "lee"), 1, GENERAL)
    ledger.record(answer("How many hired?", "chips"), 1, GENERAL)
    report = ledger.report()
    assert (report.asked, report.answered, report.abstained) == (5, 3, 2)
    assert [(u.question, u.channel_name) for u in report.unanswered] == [
        ("Population of Seoul?", THREAD.channel_name),
        ("Who won the 2022 World Cup?", "general"),
    ]
    assert report.unanswered[0].asked_at == clock.now
    assert report.cited == (("lee", 2), ("chips", 1))


def test_nothing_is_kept_past_the_retention(ledger: Ledger, clock: Clock) -> None:
    old = ledger.record(answer("old question", None), 1, THREAD)
    ledger.vote(old, 1, "down")
    clock.now += 29 * DAY
    kept = ledger.record(answer("newer question", "lee"), 1, GENERAL)
    clock.now += 2 * DAY  # the first is now 31 days old
    assert ledger.vote(old, 1, "up") == "gone"
    report = ledger.report()
    assert (report.asked, [u.question for u in report.unanswered]) == (1, [])
    assert ledger.history(THREAD.conversation_id or 0) == []
    assert ledger.vote(kept, 1, "up") == "recorded"
    with sqlite3.connect(ledger.path) as db:
        assert db.execute("SELECT COUNT(*) FROM votes").fetchone() == (1,)


def test_users_are_stored_only_as_salted_hashes(tmp_path: Path, ledger: Ledger) -> None:
    user = 123456789012345678
    ledger.vote(ledger.record(answer("q", "lee"), user, GENERAL), user, "up")
    raw = ledger.path.read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("ledger.sqlite3-*")
    )
    assert str(user).encode() not in raw
    with Ledger(tmp_path / "other.sqlite3") as other, Ledger(ledger.path) as again:
        assert ledger.pseudonym(user) != other.pseudonym(user)  # a salt per file
        assert again.pseudonym(user) == ledger.pseudonym(user)  # kept in the file


def test_a_retention_keeping_nothing_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="use 1 or more"):
        Ledger(tmp_path / "l.sqlite3", retention_days=0)
