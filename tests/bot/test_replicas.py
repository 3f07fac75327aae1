"""A running bot serves a new index version once CURRENT names it (CITEBOT_INDEX_POLL): another
process built it, as a build machine whose versions are copied to replicas would."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.collections import collection_folders
from localdiscord import LocalDiscord
from retrieval import Engine
from retrieval.encode.fake import FakeEncoder
from tests.bot.conftest import Run, embed_of
from tests.conftest import write_corpus

QUESTION = "How many houses were damaged near Antofagasta?"
SNIPPET = "Officials said 40 houses were damaged near Antofagasta."


async def test_a_version_published_elsewhere_is_served_without_a_restart(
    run_bot: Run, fake: LocalDiscord, corpus: Path, tmp_path: Path
) -> None:
    async with run_bot(index_poll=0.05) as session:
        before = await session.send_message(QUESTION, mention_bot=True)
        [abstained] = await before.wait_messages()
        assert SNIPPET not in str(abstained.embeds)

        (corpus / "quake.txt").write_text(
            f"Earthquake in Chile\nA magnitude 6.8 earthquake struck on Sunday.\n{SNIPPET}",
            encoding="utf-8",
        )
        other_process = Engine(tmp_path / "index", corpus, FakeEncoder())
        built = (await asyncio.to_thread(other_process.reindex)).stats.version
        other_process.close()
        for _ in range(100):
            if (await asyncio.to_thread(session.bot.engine.stats)).version == built:
                break
            await asyncio.sleep(0.05)
        after = await session.send_message(QUESTION, mention_bot=True)
        [answered] = await after.wait_messages()
    assert embed_of(answered).description == f"> {SNIPPET}"


async def test_without_polling_the_loaded_version_stays(
    run_bot: Run, corpus: Path, tmp_path: Path
) -> None:
    async with run_bot(index_poll=0.0) as session:
        served = (await asyncio.to_thread(session.bot.engine.stats)).version
        (corpus / "quake.txt").write_text(f"Earthquake\n{SNIPPET}", encoding="utf-8")
        other_process = Engine(tmp_path / "index", corpus, FakeEncoder())
        await asyncio.to_thread(other_process.reindex)
        other_process.close()
        await asyncio.sleep(0.3)
        assert (await asyncio.to_thread(session.bot.engine.stats)).version == served


async def test_each_open_collection_serves_a_version_published_elsewhere(
    run_bot: Run, fake: LocalDiscord, tmp_path: Path
) -> None:
    """With per-server collections, every open collection is polled; a closed one stays closed
    (polling opens nothing: a sharded process opens only its own servers' collections)."""
    root = tmp_path / "collections"
    here = f"server-{fake.world.guild_id}"
    elsewhere = await fake.add_guild("Elsewhere", ("elsewhere",))
    articles, index = collection_folders(root, here)
    write_corpus(articles)
    first = Engine(index, articles, FakeEncoder())
    await asyncio.to_thread(first.reindex)
    first.close()
    async with run_bot(collections_dir=root, index_poll=0.05) as session:
        before = await session.send_message(QUESTION, mention_bot=True)
        [abstained] = await before.wait_messages()
        assert SNIPPET not in str(abstained.embeds)

        (articles / "quake.txt").write_text(f"Earthquake in Chile\n{SNIPPET}", encoding="utf-8")
        other_process = Engine(index, articles, FakeEncoder())
        built = (await asyncio.to_thread(other_process.reindex)).stats.version
        other_process.close()
        engine = session.bot.collections._open[here].engine
        for _ in range(100):
            if (await asyncio.to_thread(engine.stats)).version == built:
                break
            await asyncio.sleep(0.05)
        after = await session.send_message(QUESTION, mention_bot=True)
        [answered] = await after.wait_messages()
        open_now = session.bot.collections.open_names()
    assert embed_of(answered).description == f"> {SNIPPET}"
    assert open_now == [here]
    assert not (root / f"server-{elsewhere.id}").exists()
