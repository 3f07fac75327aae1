"""`citebot run --shard-count 4 --shard-ids ...` as two real processes, two shards each, over
four servers on one local Discord: every question is answered, exactly once, by the process
that runs its server's shard."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.client import CitebotBot, ShardedCitebotBot, make_bot
from bot.collections import collection_folders
from bot.settings import Settings, SettingsError, settings_from
from localdiscord import Channel, LocalDiscord
from retrieval import Engine
from retrieval.encode.fake import FakeEncoder
from tests.bot.conftest import CHIPS, embed_of
from tests.conftest import REPO, write_corpus

# Shaped like a real bot token (three dot-separated parts), which the settings check.
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GabcDE.localdiscord-sharded-bot-token-0123456789"
SHARDS = 4
CHIPS_SNIPPET = "The chipmaker expects to hire 3,000 workers by 2027."


def test_settings_and_flags_choose_the_sharded_bot(fake_engine: Engine) -> None:
    plain = make_bot(Settings(), fake_engine)
    assert type(plain) is CitebotBot
    sharded = make_bot(Settings(shard_count=4, shard_ids=(2, 3)), fake_engine)
    assert isinstance(sharded, ShardedCitebotBot)
    assert (sharded.shard_count, sharded.shard_ids) == (4, [2, 3])
    every = make_bot(Settings(shard_count=2), fake_engine)
    assert every.shard_ids is None  # all shards in this process
    env = {"CITEBOT_SHARD_COUNT": "4", "CITEBOT_SHARD_IDS": " 0, 3"}
    assert settings_from(env).shard_ids == (0, 3)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CITEBOT_SHARD_IDS": "0"}, "needs a shard count too"),
        ({"CITEBOT_SHARD_COUNT": "2", "CITEBOT_SHARD_IDS": "0,2"}, "from 0 to 1"),
        ({"CITEBOT_SHARD_COUNT": "2", "CITEBOT_SHARD_IDS": "1,1"}, "distinct shards"),
        ({"CITEBOT_SHARD_COUNT": "2", "CITEBOT_SHARD_IDS": "a"}, "write it as 0,1"),
        ({"CITEBOT_SHARD_COUNT": "0"}, "at least 1"),
    ],
)
def test_bad_shard_settings_stop_start_up(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        settings_from(env)


def test_bad_shard_flags_are_refused_before_connecting(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", "--shard-count", "2", "--shard-ids", "0,5"]) == 1
    assert "--shard-ids 0,5 must name distinct shards from 0 to 1" in capsys.readouterr().err


async def _start(
    fake: LocalDiscord, shard_ids: str, env: dict[str, str], log: Path
) -> asyncio.subprocess.Process:
    with log.open("wb") as out:  # the child writes to its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.bot.shard_process",
            fake.api_url,
            fake.gateway_url,
            "run",
            "--shard-count",
            str(SHARDS),
            "--shard-ids",
            shard_ids,
            cwd=log.parent,
            env=env,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), timeout=15)
        except TimeoutError:
            process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def processes(
    fake: LocalDiscord, env: dict[str, str], folder: Path
) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    started = []
    try:
        for name, shard_ids in (("a", "0,1"), ("b", "2,3")):
            started.append(await _start(fake, shard_ids, env, folder / f"bot-{name}.log"))
        yield started
    finally:
        for process in started:
            await _stop(process)


def _logs(folder: Path) -> str:
    return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(folder.glob("*.log")))


async def test_two_processes_with_two_shards_each_answer_every_question_once(
    corpus: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    engine = Engine(index, corpus, FakeEncoder())
    engine.reindex()
    engine.close()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
        "DISCORD_TOKEN": TOKEN,
        "CITEBOT_MODEL": "fake",
        "CITEBOT_INDEX_DIR": str(index),
        "CITEBOT_ARTICLES_DIR": str(corpus),
        "CITEBOT_INDEX_POLL": "0",
    }
    folder = tmp_path / "run"
    folder.mkdir()
    async with LocalDiscord(token=TOKEN, shard_count=SHARDS) as fake:
        world = fake.world
        first = (world.guild_id >> 22) % SHARDS
        channels: dict[int, Channel] = {first: fake.channels.general}
        for shard in sorted(set(range(SHARDS)) - {first}):
            await fake.add_guild(f"Server {shard}", (f"general-{shard}",), shard=(shard, SHARDS))
            channels[shard] = fake.channels[f"general-{shard}"]
        assert len(world.guilds) == 4

        async with processes(fake, env, folder) as (a, b):
            everyone = [(shard, SHARDS) for shard in range(SHARDS)]
            await fake.wait_for(
                lambda: True if fake.gateway.connected_shards() == everyone else None,
                timeout=120,
                describe=lambda: f"shards {fake.gateway.connected_shards()}; {_logs(folder)}",
            )
            alice = fake.users.alice
            exchanges = {}
            for shard, channel in sorted(channels.items()):
                text = f"{fake.bot_user.mention} {CHIPS}"
                stored = await fake.post_user_message(alice, channel, text)
                exchanges[shard] = stored.id
            replies = fake.messages.replies

            def all_answered() -> bool | None:
                return True if all(replies.get(m) for m in exchanges.values()) else None

            await fake.wait_for(all_answered, timeout=60, describe=lambda: _logs(folder))
            await asyncio.sleep(1.0)  # a duplicate answer from the other process lands by now
            for shard, message_id in exchanges.items():
                [reply] = replies[message_id]
                assert embed_of(reply.snapshot()).description == f"> {CHIPS_SNIPPET}", shard

            # Process a held shards 0 and 1: once it stops, only b's shards stay connected.
            await _stop(a)
            await fake.wait_for(
                lambda: True if fake.gateway.connected_shards() == everyone[2:] else None,
                timeout=30,
                describe=lambda: f"shards {fake.gateway.connected_shards()}",
            )
            assert b.returncode is None
    identified = sorted(c.shard for c in fake.connections if c.opened_with == "identify")
    assert identified == everyone  # one IDENTIFY per shard: no shard ran twice


async def test_a_sharded_process_opens_only_its_own_servers_collections(
    fake_engine: Engine, tmp_path: Path
) -> None:
    """Per-server collections open on first use, so a process running shard 1 of 2 opens the
    collection of its shard's server only; the other server's events go to shard 0."""
    root = tmp_path / "collections"
    async with LocalDiscord(shard_count=2) as fake:
        mine = await fake.add_guild("Mine", ("mine",), shard=(1, 2))
        other = await fake.add_guild("Other", ("other",), shard=(0, 2))
        for guild in (mine, other):
            articles, index = collection_folders(root, f"server-{guild.id}")
            engine = Engine(index, write_corpus(articles), FakeEncoder())
            await asyncio.to_thread(engine.reindex)
            engine.close()
        settings = Settings(
            model="fake", collections_dir=root, shard_count=2, shard_ids=(1,), index_poll=0.0
        )
        async with fake.running(
            lambda: make_bot(settings, fake_engine, **fake.client_options)
        ) as session:
            there = await fake.post_user_message(
                fake.users.alice, fake.channels.other, f"{fake.bot_user.mention} {CHIPS}"
            )
            here = await session.send_message(CHIPS, channel=fake.channels.mine, mention_bot=True)
            [reply] = await here.wait_messages()
            await asyncio.sleep(0.5)  # an answer in the other server would have landed by now
            opened = session.bot.collections.open_names()
    assert embed_of(reply).description == f"> {CHIPS_SNIPPET}"
    assert opened == [f"server-{mine.id}"]
    assert not fake.messages.replies.get(there.id)
