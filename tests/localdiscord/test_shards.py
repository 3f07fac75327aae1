"""Sharded gateways: IDENTIFY with a shard, guilds routed by ``(guild_id >> 22) % shard_count``,
DMs on shard 0, the recommended shard count in ``/gateway/bot``, and bots splitting shards."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest
from discord.ext import commands

from localdiscord import Guild, LocalDiscord
from tests.localdiscord.conftest import EchoBot, make


class ShardedEchoBot(EchoBot, commands.AutoShardedBot):
    """The echo bot on discord.py's AutoShardedBot, without the 5 s wait between IDENTIFYs
    (Discord's identify rate limit, which the fake does not enforce)."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


def sharded(fake: LocalDiscord, **options: Any) -> ShardedEchoBot:
    return ShardedEchoBot(**fake.client_options, **options)


async def guilds_on_each_shard(fake: LocalDiscord, shard_count: int) -> list[Guild]:
    return [
        await fake.add_guild(f"Server {i}", (f"general-{i}",), shard=(i, shard_count))
        for i in range(shard_count)
    ]


def test_guild_ids_follow_discords_sharding_formula() -> None:
    fake = LocalDiscord()
    for shard_id in (3, 0, 2, 1, 1):
        guild = fake.world.add_guild(f"g{fake.world.new_id()}", (), shard=(shard_id, 4))
        assert (guild.id >> 22) % 4 == shard_id
    ids = list(fake.world.guilds)
    assert ids == sorted(ids) and len(set(ids)) == 6  # snowflakes stay unique and increasing
    with pytest.raises(ValueError, match="not below the shard count"):
        fake.world.add_guild("bad", (), shard=(4, 4))


async def test_gateway_bot_recommends_the_shard_count() -> None:
    async with LocalDiscord(shard_count=3) as fake:
        guilds = await guilds_on_each_shard(fake, 3)
        async with fake.running(lambda: sharded(fake)) as session:
            bot = session.bot
            assert bot.shard_count == 3  # read from /gateway/bot: no shard_count was given
            by_id = {g.id: g for g in bot.guilds}
            for guild in [*guilds, fake.world.guilds[fake.world.guild_id]]:
                assert by_id[guild.id].shard_id == (guild.id >> 22) % 3
    assert ("GET", "/gateway/bot") in [(r.method, r.path) for r in fake.requests]
    assert sorted(c.shard for c in fake.connections if c.shard) == [(0, 3), (1, 3), (2, 3)]


async def test_an_unsharded_identify_is_refused_when_sharding_is_required() -> None:
    async with LocalDiscord(shard_count=2) as fake:
        with pytest.raises(discord.ConnectionClosed) as caught:
            async with fake.running(make(fake)):
                pass
    assert caught.value.code == 4011
    assert [c.opened_with for c in fake.connections] == ["refused"]


async def test_an_invalid_shard_is_refused() -> None:
    async with LocalDiscord() as fake:
        with pytest.raises(discord.ConnectionClosed) as caught:
            async with fake.running(lambda: sharded(fake, shard_count=2, shard_ids=[2])):
                pass
    assert caught.value.code == 4010


async def test_two_bots_split_the_guilds_and_each_message_reaches_one() -> None:
    async with LocalDiscord(shard_count=2) as fake:
        guilds = await guilds_on_each_shard(fake, 2)
        channels = [fake.channels[f"general-{i}"] for i in range(2)]
        first = fake.running(lambda: sharded(fake, shard_count=2, shard_ids=[0]))
        second = fake.running(lambda: sharded(fake, shard_count=2, shard_ids=[1]))
        async with first as one, second as two:
            assert {g.id for g in one.bot.guilds} | {g.id for g in two.bot.guilds} == set(
                fake.world.guilds
            )
            assert guilds[1].id in {g.id for g in two.bot.guilds}
            assert guilds[1].id not in {g.id for g in one.bot.guilds}
            exchanges = [
                await one.send_message(f"question {i}", channel=channel, mention_bot=True)
                for i, channel in enumerate(channels)
            ]
            for exchange in exchanges:
                await exchange.wait_messages(1, timeout=5)
            dm = await one.send_message("in a DM", channel=one.dm_channel(one.users.bob))
            await dm.wait_messages(1, timeout=5)
            await asyncio.sleep(0.2)  # a second, duplicate reply would have landed by now
            assert [len(e.messages()) for e in [*exchanges, dm]] == [1, 1, 1]
            assert [s for s in one.bot.seen if "question" in s] == [exchanges[0].message.content]
            assert [s for s in two.bot.seen if "question" in s] == [exchanges[1].message.content]
            assert "in a DM" in one.bot.seen  # Discord sends DMs to shard 0
            assert fake.gateway.connected_shards() == [(0, 2), (1, 2)]


async def test_a_guild_added_later_reaches_its_shard_and_a_shard_resumes() -> None:
    async with (
        LocalDiscord(shard_count=2) as fake,
        fake.running(lambda: sharded(fake, shard_count=2), reconnect=True) as session,
    ):
        guild = await fake.add_guild("Late", ("late",), shard=(1, 2))
        await fake.request_reconnect(shard_id=1)
        exchange = await session.send_message("hi", channel=fake.channels.late, mention_bot=True)
        [reply] = await exchange.wait_messages(1, timeout=5)
        # Events reach a shard in order: the guild was known before the message came.
        late = session.bot.get_guild(guild.id)
        assert late is not None and late.shard_id == 1
    assert reply.content.startswith("echo:")
    resumed = [c for c in fake.connections if c.opened_with == "resume"]
    assert [c.shard for c in resumed] == [(1, 2)]
