"""Fixtures for the bot: the local Discord, settings, and a running CitebotBot over a tiny index."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.client import CitebotBot
from bot.settings import Settings
from localdiscord import BotMessage, BotSession, LocalDiscord
from retrieval import Answer, Engine
from retrieval.encode.encoder import Encoder
from retrieval.types import Vectors
from tests.conftest import CountingEncoder

CHIPS = "How many workers will the chipmaker hire?"


def pings_no_one(message: BotMessage) -> bool:
    """Sent with allowed_mentions that parse nothing and list no one (replies: no reply ping)."""
    mentions = message.allowed_mentions or {}
    listed = mentions.get("users") or mentions.get("roles") or mentions.get("replied_user")
    return mentions.get("parse") == [] and not listed


def embed_of(message: BotMessage) -> discord.Embed:
    """The one embed a message carries."""
    [data] = message.embeds
    return discord.Embed.from_dict(data)


Run = Callable[..., AbstractAsyncContextManager[BotSession[CitebotBot]]]


class CountedAsks:
    """Stands in for `Engine.ask`: counts the questions being answered at once (`most`, the
    highest count seen) and records the threads they ran on (`threads`). `hold(running)` runs
    inside each, counted, before the real ask: a test holds questions there to see how many the
    bot lets run together."""

    def __init__(
        self, ask: Callable[..., Answer], hold: Callable[[int], None] = lambda running: None
    ) -> None:
        self._ask = ask
        self._hold = hold
        self._lock = threading.Lock()
        self._running = 0
        self.most = 0
        self.threads: set[int] = set()

    def __call__(self, question: str, **kwargs: Any) -> Answer:
        with self._lock:
            self._running += 1
            self.most = max(self.most, self._running)
            self.threads.add(threading.get_ident())
            running = self._running
        try:
            self._hold(running)
            return self._ask(question, **kwargs)
        finally:
            with self._lock:
                self._running -= 1


@pytest.fixture
async def fake() -> AsyncIterator[LocalDiscord]:
    async with LocalDiscord() as server:
        yield server


@pytest.fixture
def settings(corpus: Path, tmp_path: Path) -> Settings:
    return Settings(articles_dir=corpus, index_dir=tmp_path / "index", model="fake")


@pytest.fixture
def run_bot(fake: LocalDiscord, settings: Settings, fake_engine: Engine) -> Run:
    """`async with run_bot(**setting_overrides, engine=..., progress_interval=...,
    reconnect=...) as session`: a CitebotBot on the local Discord, by default over the tiny
    corpus, already indexed; `reconnect` goes to `bot.connect` (True survives dropped sockets)."""

    def run(
        engine: Engine | None = None,
        progress_interval: float = 0.02,
        reconnect: bool = False,
        **overrides: Any,
    ) -> AbstractAsyncContextManager[BotSession[CitebotBot]]:
        bot_settings = replace(settings, **overrides)
        return fake.running(
            lambda: CitebotBot(
                bot_settings,
                engine or fake_engine,
                progress_interval=progress_interval,
                **fake.client_options,
            ),
            reconnect=reconnect,
        )

    return run


class GatedEncoder(CountingEncoder):
    """Embeds documents only once `gate` is set, so a test can act while a reindex runs;
    `building` is set when a build starts embedding. Questions are never held up."""

    def __init__(self, inner: Encoder) -> None:
        super().__init__(inner)
        self.gate = threading.Event()
        self.building = threading.Event()

    def encode_documents(self, texts: Sequence[str]) -> Vectors:
        self.building.set()
        if not self.gate.wait(timeout=30):
            raise TimeoutError("the test never opened the gate")
        return super().encode_documents(texts)


@pytest.fixture
def gated(fake_encoder: CountingEncoder) -> Iterator[GatedEncoder]:
    encoder = GatedEncoder(fake_encoder.inner)
    encoder.gate.set()
    yield encoder
    encoder.gate.set()  # never leave a worker thread waiting after a test
