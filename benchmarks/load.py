"""Load: many questions at once through the local Discord, mentions and /ask mixed.

    python -m benchmarks.load [--questions 200] [--model fake|real] [--max-concurrent 4]
                              [--articles DIR] [--ask-share 0.5]

The bot is the real CitebotBot on the local Discord (localdiscord), its index built from
`--articles` (default: seeds/) with the fake encoder or, with `--model real`, the bundled
all-MiniLM-L6-v2. Every question is sent at once, from ten users, with the cooldown off.

Prints the reply latency (p50, p95, max: from sending a question to the bot's answer showing),
the throughput, and the event loop's lag: how late a task that sleeps 10 ms in a loop wakes up.
The fake Discord runs in the same event loop as the bot, so the lag counts its work too.
tests/bot/test_load.py runs the same load and asserts that every question is answered exactly
once; timings are reported here, never asserted by a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bot.client import CitebotBot
from bot.settings import Settings
from localdiscord import BotMessage, BotSession, LocalDiscord, User
from retrieval import Engine
from retrieval.encode.fake import FAKE_MODEL
from retrieval.encode.load import DEFAULT_MODEL, load_encoder

REPO = Path(__file__).resolve().parent.parent
# Questions about the seed article, a few of them not answered by it.
SEED_QUESTIONS = (
    "When is Lee visiting Japan?",
    "Who did Lee meet in Beijing?",
    "How long is Lee's trip to China?",
    "What phone did Lee use to take selfies with Xi?",
    "When did a South Korean leader last visit China?",
    "Who is China's Premier?",
    "Where will Lee hold a memorial service?",
    "What did Xi urge Lee to do?",
    "Who won the 2022 FIFA World Cup?",
    "What is the boiling point of water on Mars?",
)

Kind = Literal["mention", "ask"]


class LagProbe:
    """Measures the event loop's lag: a task sleeps `interval` seconds in a loop and records
    how much later than asked it wakes up (0 on an idle loop)."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.lags: list[float] = []

    async def _probe(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.interval)
            self.lags.append(loop.time() - start - self.interval)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[LagProbe]:
        task = asyncio.create_task(self._probe(), name="lag probe")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def worst(self) -> float:
        return max(self.lags, default=0.0)


@dataclass
class Asked:
    """One question sent, and every bot message that answered it (with when it appeared)."""

    kind: Kind
    text: str
    sent: float
    key: int = 0  # the question's message id (mention) or interaction id (/ask)
    answers: list[tuple[float, BotMessage]] = field(default_factory=list)

    @property
    def latency(self) -> float:
        return self.answers[0][0] - self.sent


@dataclass
class LoadResult:
    asked: list[Asked]
    strays: list[BotMessage]  # bot messages that answered no question sent
    wall: float  # seconds from the first question sent to the last first answer
    lag: LagProbe

    def latencies(self) -> list[float]:
        return sorted(a.latency for a in self.asked if a.answers)


class _Replies:
    """Reads the fake's log of bot messages as it grows, and files each final answer under the
    question it answers: a reply's referenced message, or an interaction's id. A deferral's
    "is thinking…" placeholder is not an answer; its first edit is."""

    def __init__(self, fake: LocalDiscord) -> None:
        self._fake = fake
        self._seen = len(fake.messages.bot_log)
        self.by_key: dict[int, list[tuple[float, BotMessage]]] = {}

    def read(self) -> None:
        now = asyncio.get_running_loop().time()
        log = self._fake.messages.bot_log
        for message in log[self._seen :]:
            key = message.interaction_id or message.reply_to
            if key is not None and not message.loading and not message.deleted:
                self.by_key.setdefault(key, []).append((now, message))
        self._seen = len(log)


async def run_load(
    session: BotSession[CitebotBot],
    questions: Sequence[str],
    users: Sequence[User],
    *,
    ask_share: float = 0.5,
    timeout: float = 120.0,
    settle: float = 0.3,
) -> LoadResult:
    """Send every question at once (question n from user n mod len(users); every k-th one by
    /ask, the others as a mention, `ask_share` of them /ask), wait until each is answered,
    then `settle` seconds more to catch answers sent twice."""
    fake = session.server
    loop = asyncio.get_running_loop()
    replies = _Replies(fake)
    every = round(1 / ask_share) if ask_share > 0 else 0
    asked = [
        Asked("ask" if every and n % every == every - 1 else "mention", text, 0.0)
        for n, text in enumerate(questions)
    ]

    async def send(n: int, question: Asked) -> None:
        user = users[n % len(users)]
        question.sent = loop.time()
        if question.kind == "mention":
            exchange = await session.send_message(question.text, author=user, mention_bot=True)
            question.key = exchange.message.id
        else:
            invocation = await session.invoke("ask", {"question": question.text}, user=user)
            question.key = invocation.id

    def all_answered() -> bool | None:
        replies.read()
        keys = replies.by_key
        return True if all(q.key and q.key in keys for q in asked) else None

    async with LagProbe().running() as lag:
        start = loop.time()
        sending = []
        for n, question in enumerate(asked):
            sending.append(asyncio.create_task(send(n, question)))
            # Start one send per turn of the loop, as events arrive one by one on a gateway
            # socket: all are in flight at once, none waits for another's answer.
            await asyncio.sleep(0)
        await asyncio.gather(*sending)
        await fake.wait_for(
            all_answered,
            timeout=timeout,
            describe=lambda: (
                f"{sum(q.key in replies.by_key for q in asked)} of {len(asked)} questions answered"
            ),
        )
        last = max(replies.by_key[q.key][0][0] for q in asked)
        await asyncio.sleep(settle)
        replies.read()
    keys = {q.key for q in asked}
    for question in asked:
        question.answers = replies.by_key.get(question.key, [])
    strays = [m for key, found in replies.by_key.items() if key not in keys for _, m in found]
    return LoadResult(asked, strays, last - start, lag)


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)] if ordered else 0.0


def questions_for(count: int, pool: Sequence[str]) -> list[str]:
    """`count` distinct questions, cycling through `pool` with a number to tell them apart."""
    return [f"{pool[n % len(pool)]} (#{n + 1})" for n in range(count)]


async def benchmark(args: argparse.Namespace) -> None:
    model = DEFAULT_MODEL if args.model == "real" else FAKE_MODEL
    print(f"Loading {model} and indexing {args.articles} …", flush=True)
    encoder = await asyncio.to_thread(load_encoder, model)
    with tempfile.TemporaryDirectory(prefix="citebot-load-") as work:
        engine = Engine(Path(work) / "index", args.articles, encoder)
        await asyncio.to_thread(engine.reindex)
        settings = Settings(
            articles_dir=args.articles,
            index_dir=Path(work) / "index",
            model=model,
            cooldown_per=0.0,
            max_concurrent=args.max_concurrent,
        )
        try:
            async with LocalDiscord() as fake:
                users = [fake.world.add_user(f"reader{n}") for n in range(10)]
                async with fake.running(
                    lambda: CitebotBot(settings, engine, **fake.client_options)
                ) as session:
                    # A mention and an /ask first, so the figures do not include warming up.
                    await run_load(session, questions_for(2, SEED_QUESTIONS), users, settle=0)
                    started = time.perf_counter()
                    result = await run_load(
                        session,
                        questions_for(args.questions, SEED_QUESTIONS),
                        users,
                        ask_share=args.ask_share,
                    )
                    elapsed = time.perf_counter() - started
        finally:
            engine.close()
    report(result, args, encoder.name, elapsed)


def report(result: LoadResult, args: argparse.Namespace, model: str, elapsed: float) -> None:
    latencies = result.latencies()
    once = sum(len(q.answers) == 1 for q in result.asked)
    asks = sum(q.kind == "ask" for q in result.asked)
    ms = 1000.0
    print(
        f"{len(result.asked)} questions at once ({len(result.asked) - asks} mentions, {asks} "
        f"/ask), model {model}, max_concurrent {args.max_concurrent}; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"  answered exactly once: {once}/{len(result.asked)}; stray replies: "
          f"{len(result.strays)}")  # fmt: skip
    print(
        f"  reply latency: p50 {percentile(latencies, 0.5) * ms:.0f} ms, "
        f"p95 {percentile(latencies, 0.95) * ms:.0f} ms, max {latencies[-1] * ms:.0f} ms"
    )
    print(
        f"  throughput: {len(latencies) / result.wall:.1f} answers/s "
        f"(all answered in {result.wall:.2f} s; run {elapsed:.2f} s)"
    )
    lags = result.lag.lags
    print(
        f"  event-loop lag (10 ms sleeper, {len(lags)} samples): p50 "
        f"{percentile(lags, 0.5) * ms:.1f} ms, p95 {percentile(lags, 0.95) * ms:.1f} ms, "
        f"max {result.lag.worst * ms:.1f} ms"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--questions", type=int, default=200, help="questions sent at once")
    parser.add_argument("--model", choices=("fake", "real"), default="fake")
    parser.add_argument("--max-concurrent", type=int, default=4, help="CITEBOT_MAX_CONCURRENT")
    parser.add_argument("--articles", type=Path, default=REPO / "seeds")
    parser.add_argument("--ask-share", type=float, default=0.5, help="share asked by /ask")
    args = parser.parse_args(argv)
    asyncio.run(benchmark(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
