"""Answering a question, the same way for /ask and for messages: questions without words get a
hint at once, the rest a per-user cooldown, a global bound on concurrent work, and the engine in
a worker thread (encoding and search block)."""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.formatting import Reply, answer_reply
from bot.replies import error_reply
from retrieval import Answer, Engine, InvalidQuestion, Turn
from retrieval.engine import clean_question

# Mentions carry no words to search for: the bot's own, other users', roles', channels', and
# @everyone/@here (which the bot never repeats as pings anyway).
MENTION = re.compile(r"<@[!&]?\d+>|<#\d+>|@everyone\b|@here\b")


def question_text(text: str) -> str:
    """What to search for in a question as typed: mentions removed, whitespace folded."""
    return " ".join(MENTION.sub(" ", text).split())


def no_words_hint(question: str) -> str | None:
    """The hint for a question with no words to search for (empty, only mentions, punctuation
    or emoji), or None when it has some.

    Checked before the cooldown: a slip such as a bare mention costs the user no question.
    """
    try:
        clean_question(question_text(question))
    except InvalidQuestion as exc:
        return error_reply(exc)
    return None


class Cooldowns:
    """At most `rate` questions per `per` seconds for each user, over a sliding window."""

    def __init__(
        self, rate: int, per: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate < 1:
            raise ValueError(f"a cooldown rate of {rate} allows nothing; use 1 or more")
        self.rate = rate
        self.per = per
        self.clock = clock
        self._recent: dict[int, deque[float]] = {}

    def hit(self, user_id: int) -> float:
        """Count one question by `user_id`: 0.0 when it may go ahead, otherwise the seconds
        until it may (a refused question does not count)."""
        if self.per <= 0:
            return 0.0
        now = self.clock()
        times = self._recent.setdefault(user_id, deque())
        while times and times[0] <= now - self.per:
            times.popleft()
        if len(times) >= self.rate:
            return times[0] + self.per - now
        times.append(now)
        if len(self._recent) > 10_000:
            self._forget(now)
        return 0.0

    def _forget(self, now: float) -> None:
        """Drop users whose window has passed, so memory stays bounded by active users."""
        for user_id in [u for u, t in self._recent.items() if not t or t[-1] <= now - self.per]:
            del self._recent[user_id]


@dataclass(frozen=True)
class Answered:
    """The reply to a question, and the answer it shows (None: it says what went wrong)."""

    reply: Reply
    answer: Answer | None


async def ask(
    engine: Engine, question: str, gate: asyncio.Semaphore, history: Sequence[Turn] = ()
) -> Answered:
    """Answer `question`, a follow-up of `history` (a thread's earlier questions, oldest first).

    `gate` bounds how many questions are being answered at once; the rest wait their turn.
    """
    try:
        async with gate:
            result = await asyncio.to_thread(engine.ask, question_text(question), history=history)
    except Exception as exc:
        return Answered(Reply(content=error_reply(exc)), None)
    return Answered(answer_reply(result), result)


async def answer(engine: Engine, question: str, gate: asyncio.Semaphore) -> Reply:
    """The reply to `question`: an answer embed, or a short message naming what went wrong."""
    return (await ask(engine, question, gate)).reply
