"""Who may reindex, and the per-user cooldown: plain logic, no Discord."""

from __future__ import annotations

from dataclasses import dataclass

import discord
import pytest

from bot.answering import Cooldowns, question_text
from bot.cogs.messages import addressed_question
from bot.permissions import may_reindex

ROLE_ID = 123456789012345678


@dataclass(frozen=True)
class FakeRole:
    id: int
    name: str


INDEXERS = FakeRole(ROLE_ID, "Indexers")
EVERYONE = FakeRole(1, "@everyone")
PLAIN = discord.Permissions(send_messages=True)


@pytest.mark.parametrize(
    "permissions",
    [discord.Permissions(manage_guild=True), discord.Permissions(administrator=True)],
)
def test_manage_server_or_administrator_may_reindex(permissions: discord.Permissions) -> None:
    assert may_reindex(permissions, [], None)
    assert may_reindex(permissions, [EVERYONE], ROLE_ID)


def test_a_plain_member_may_not() -> None:
    assert not may_reindex(PLAIN, [EVERYONE], None)
    assert not may_reindex(PLAIN, [EVERYONE, FakeRole(5, "Readers")], ROLE_ID)
    assert not may_reindex(discord.Permissions.none(), [], None)


def test_the_admin_role_by_id() -> None:
    assert may_reindex(PLAIN, [EVERYONE, INDEXERS], ROLE_ID)
    assert not may_reindex(PLAIN, [EVERYONE], ROLE_ID)


def test_a_role_named_like_the_admin_role_or_its_id_is_not_it() -> None:
    """Anyone with Manage Roles can create "indexers", or a role named like the id."""
    squatters = [FakeRole(7, "indexers"), FakeRole(8, "Indexers"), FakeRole(9, str(ROLE_ID))]
    assert not may_reindex(PLAIN, [EVERYONE, *squatters], ROLE_ID)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cooldown_allows_rate_per_window_for_each_user() -> None:
    clock = Clock()
    cooldowns = Cooldowns(2, 30.0, clock=clock)
    assert cooldowns.hit(1) == 0.0
    clock.now += 10
    assert cooldowns.hit(1) == 0.0
    assert cooldowns.hit(1) == pytest.approx(20.0)  # the first question leaves the window then
    assert cooldowns.hit(2) == 0.0  # others are not held up
    clock.now += 20
    assert cooldowns.hit(1) == 0.0
    assert cooldowns.hit(1) == pytest.approx(10.0)  # refused questions did not count


def test_a_zero_window_means_no_cooldown() -> None:
    cooldowns = Cooldowns(1, 0.0)
    assert [cooldowns.hit(1) for _ in range(5)] == [0.0] * 5
    with pytest.raises(ValueError, match="rate of 0"):
        Cooldowns(0, 1.0)


def test_cooldown_memory_is_bounded() -> None:
    clock = Clock()
    cooldowns = Cooldowns(1, 1.0, clock=clock)
    for user in range(10_001):
        cooldowns.hit(user)
    clock.now += 5
    cooldowns.hit(99_999)
    assert len(cooldowns._recent) == 1


BOT = 987654321098765432


def test_mentions_are_removed_from_questions() -> None:
    assert question_text(f"<@{BOT}> When is Lee visiting Japan?") == "When is Lee visiting Japan?"
    assert question_text(f"<@!{BOT}>  When\n is <@&{ROLE_ID}> @everyone it? @here") == (
        "When is it?"
    )


@pytest.mark.parametrize(
    ("mentioned", "channel", "direct", "text", "expected"),
    [
        (True, False, False, f"<@{BOT}> Why?", "Why?"),
        (True, False, False, f"<@{BOT}>", ""),  # an empty mention still gets a hint
        (False, True, False, "Why?", "Why?"),
        (False, True, False, "", None),  # an image post in an answer channel: not a question
        (False, False, True, "Why?", "Why?"),
        (False, False, False, "Why?", None),
    ],
)
def test_which_messages_are_questions(
    mentioned: bool, channel: bool, direct: bool, text: str, expected: str | None
) -> None:
    found = addressed_question(text, mentioned=mentioned, answer_channel=channel, direct=direct)
    assert found == expected
