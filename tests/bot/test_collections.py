"""One collection per server: two guilds on the local Discord, each answered from its own articles
and index; channels mapped to named collections; DMs; lazy opening, idle closing, the bound."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest

from bot.cli import main
from bot.collections import Collections, Place, collection_folders
from bot.ledger import FILENAME as LEDGER_FILE
from bot.ledger import Ledger
from bot.replies import NO_COLLECTION
from bot.settings import Settings
from localdiscord import Guild, LocalDiscord
from retrieval import Engine
from retrieval.build import reindex as reindex_module
from retrieval.ingest.loading import load_articles
from tests.bot.conftest import CHIPS, Run, embed_of
from tests.conftest import CountingEncoder, write_corpus

HARBOUR = {
    "harbour.txt": (
        "Harbour bridge reopens\n"
        "The harbour bridge in Port Selwyn reopened to traffic on Friday after eight months of "
        "repairs. Engineers replaced 140 cables that had corroded in the salt air."
    )
}
HARBOUR_Q = "How many cables did engineers replace on the harbour bridge?"


@pytest.fixture
async def second(fake: LocalDiscord) -> Guild:
    return await fake.add_guild("Second Guild", ("lobby",))


@pytest.fixture
def collections(tmp_path: Path, fake: LocalDiscord, second: Guild) -> Path:
    """The first guild's collection holds the tiny corpus, the second's one harbour story."""
    root = tmp_path / "collections"
    write_corpus(collection_folders(root, f"server-{fake.world.guild_id}")[0])
    write_corpus(collection_folders(root, f"server-{second.id}")[0], HARBOUR)
    return root


async def reindex(session: object, channel: object) -> None:
    run = await session.invoke("reindex", user=session.users.owner, channel=channel)  # type: ignore[attr-defined]
    await run.wait(lambda r: bool(r.original and r.original.embeds), what="the report")


async def test_each_server_answers_from_its_own_collection(
    run_bot: Run,
    fake: LocalDiscord,
    second: Guild,
    collections: Path,
    fake_engine: Engine,
    fake_encoder: CountingEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read: list[Path] = []

    def recording(root: Path, **kwargs: object) -> object:
        read.append(root)
        return load_articles(root, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(reindex_module, "load_articles", recording)
    fake_encoder.texts.clear()  # the template engine's own build
    async with run_bot(collections_dir=collections) as session:
        general, lobby = session.channels.general, session.channels.lobby
        await reindex(session, lobby)
        lobby_texts = list(fake_encoder.texts)
        await reindex(session, general)
        here = await (await session.invoke("ask", {"question": CHIPS})).wait_done()
        there = await (await session.invoke("ask", {"question": CHIPS}, channel=lobby)).wait_done()
        harbour = await (
            await session.invoke("ask", {"question": HARBOUR_Q}, channel=lobby)
        ).wait_done()
        sources_here = await (await session.invoke("sources")).wait_done()
        sources_there = await (await session.invoke("sources", channel=lobby)).wait_done()
        status_there = await (await session.invoke("status", channel=lobby)).wait_done()
        mention = await session.send_message(
            HARBOUR_Q, author=session.users.bob, channel=lobby, mention_bot=True
        )
        [mentioned] = await mention.wait_messages()
        open_now = session.bot.collections.open_names()
        shared = {id(c.engine.encoder) for c in session.bot.collections._open.values()}

    first_dir, _ = collection_folders(collections, f"server-{fake.world.guild_id}")
    second_dir, _ = collection_folders(collections, f"server-{second.id}")
    # Each reindex read its own folder, and embedded its own texts only.
    assert [p.resolve() for p in read] == [second_dir.resolve(), first_dir.resolve()]
    assert lobby_texts and all("harbour" in t.lower() or "cables" in t for t in lobby_texts)
    assert here.original is not None and there.original is not None
    assert embed_of(here.original).description == (
        "> The chipmaker expects to hire 3,000 workers by 2027."
    )
    assert embed_of(there.original).title == "Not in the articles"
    nearest = " ".join(f.value or "" for f in embed_of(there.original).fields)
    assert "Chipmaker" not in nearest
    assert harbour.original is not None
    assert "140 cables" in (embed_of(harbour.original).description or "")
    assert mentioned.embeds and "140 cables" in mentioned.embeds[0]["description"]
    assert sources_here.original is not None and sources_there.original is not None
    listed_here = embed_of(sources_here.original).description or ""
    listed_there = embed_of(sources_there.original).description or ""
    assert "Chipmaker expands" in listed_here and "Harbour" not in listed_here
    assert "Harbour bridge reopens" in listed_there and "Chipmaker" not in listed_there
    assert status_there.original is not None
    fields = {f.name: f.value for f in embed_of(status_there.original).fields}
    assert (fields["Articles"], fields["Collection"]) == ("1", f"server-{second.id}")
    assert open_now == sorted([f"server-{fake.world.guild_id}", f"server-{second.id}"])
    assert shared == {id(fake_engine.encoder)}  # one encoder for every collection


async def test_add_goes_to_the_servers_own_collection(
    run_bot: Run, fake: LocalDiscord, second: Guild, collections: Path
) -> None:
    story = b"Tram line opens\nThe new tram line in Port Selwyn opened on Monday with twelve stops."
    async with run_bot(collections_dir=collections) as session:
        lobby = session.channels.lobby
        upload = session.upload("trams.txt", story)
        added = await (
            await session.invoke("add", {"file": upload}, user=session.users.owner, channel=lobby)
        ).wait_done(timeout=15)
        there = await (await session.invoke("sources", channel=lobby)).wait_done()
        here = await (await session.invoke("sources")).wait_done()
    assert added.original is not None and embed_of(added.original).title == "Article added"
    second_dir, _ = collection_folders(collections, f"server-{second.id}")
    first_dir, _ = collection_folders(collections, f"server-{fake.world.guild_id}")
    assert len(list((second_dir / "added").iterdir())) == 1
    assert not (first_dir / "added").exists()
    assert there.original is not None and "Tram line opens" in (
        embed_of(there.original).description or ""
    )
    # The first server's collection has no index: its /sources says so, and lists no tram.
    assert here.original is not None and "Tram line" not in here.original.content
    assert not here.original.embeds


async def test_channels_map_to_named_collections_and_dms(
    run_bot: Run, fake: LocalDiscord, tmp_path: Path
) -> None:
    root = tmp_path / "collections"
    write_corpus(collection_folders(root, "world")[0], HARBOUR)
    write_corpus(collection_folders(root, f"server-{fake.world.guild_id}")[0])
    news = fake.channels.news
    # Three questions from alice in all: declined DMs cost no cooldown slot.
    async with run_bot(
        collections_dir=root, channel_collections={news.id: "world"}, cooldown_rate=3
    ) as session:
        await reindex(session, news)
        await reindex(session, session.channels.general)
        in_news = await (
            await session.invoke("ask", {"question": HARBOUR_Q}, channel=news)
        ).wait_done()
        in_general = await (await session.invoke("ask", {"question": HARBOUR_Q})).wait_done()
        dm = session.dm_channel(session.users.alice)
        declined = await (await session.invoke("ask", {"question": CHIPS}, channel=dm)).wait_done()
        in_dm = await session.send_message(CHIPS, channel=dm)
        [dm_reply] = await in_dm.wait_messages()
        third = await (
            await session.invoke("ask", {"question": HARBOUR_Q}, channel=news)
        ).wait_done()
        # A thread started in a mapped channel uses that channel's collection.
        thread = await fake.create_thread("harbour talk", news)
        in_thread = await session.send_message(
            HARBOUR_Q, author=session.users.bob, channel=thread, mention_bot=True
        )
        [thread_reply] = await in_thread.wait_messages()
    assert thread_reply.embeds and "140 cables" in thread_reply.embeds[0]["description"]
    assert third.original is not None and third.original.embeds
    assert in_news.original is not None and in_general.original is not None
    assert "140 cables" in (embed_of(in_news.original).description or "")
    assert embed_of(in_general.original).title == "Not in the articles"
    assert declined.original is not None and declined.original.content == NO_COLLECTION
    assert dm_reply.content == NO_COLLECTION

    async with run_bot(collections_dir=root, dm_collection="world") as session:
        dm = session.dm_channel(session.users.alice)
        in_dm = await session.send_message(HARBOUR_Q, channel=dm)
        [dm_reply] = await in_dm.wait_messages()
    assert dm_reply.embeds and "140 cables" in dm_reply.embeds[0]["description"]


async def test_collections_open_lazily_close_when_idle_and_stay_within_the_bound(
    run_bot: Run, fake: LocalDiscord, second: Guild, collections: Path
) -> None:
    async with run_bot(collections_dir=collections, max_open_collections=1) as session:
        bot = session.bot
        assert bot.collections.open_names() == []  # nothing opens before it is asked for
        await (await session.invoke("status")).wait_done()
        assert bot.collections.open_names() == [f"server-{fake.world.guild_id}"]
        lobby = session.channels.lobby
        await (await session.invoke("status", channel=lobby)).wait_done()
        assert bot.collections.open_names() == [f"server-{second.id}"]
    async with run_bot(collections_dir=collections, collection_idle=0.05) as session:
        bot = session.bot
        await (await session.invoke("status")).wait_done()
        await (await session.invoke("status", channel=session.channels.lobby)).wait_done()
        assert len(bot.collections.open_names()) == 2
        for _ in range(100):
            if not bot.collections.open_names():
                break
            await asyncio.sleep(0.02)
        assert bot.collections.open_names() == []
        # Asked again, it opens again.
        again = await (await session.invoke("status")).wait_done()
        assert again.original is not None and again.original.embeds


async def test_one_collection_stays_unchanged(run_bot: Run, fake: LocalDiscord) -> None:
    """Without CITEBOT_COLLECTIONS_DIR the one collection answers everywhere, DMs included."""
    second = await fake.add_guild("Elsewhere", ("elsewhere",))
    async with run_bot() as session:
        there = await (
            await session.invoke("ask", {"question": CHIPS}, channel=session.channels.elsewhere)
        ).wait_done()
        dm = session.dm_channel(session.users.bob)
        in_dm = await session.send_message(CHIPS, channel=dm)
        [dm_reply] = await in_dm.wait_messages()
    assert second.id != fake.world.guild_id
    assert there.original is not None
    assert embed_of(there.original).description == (
        "> The chipmaker expects to hire 3,000 workers by 2027."
    )
    assert dm_reply.embeds[0]["description"] == embed_of(there.original).description


async def test_a_collection_in_use_is_never_closed_and_opens_once(
    fake_engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "collections"
    chosen = replace(settings, collections_dir=root, max_open_collections=1, collection_idle=0.0)
    collections = Collections(chosen, fake_engine)
    a, b = Place(guild_id=111111111111111111), Place(guild_id=222222222222222222)
    try:
        async with collections.use(a) as first:
            both = await asyncio.gather(
                *(collections._get("server-111111111111111111") for _ in range(3))
            )
            assert all(c is first for c in both)  # opened once, however many asked at once
            async with collections.use(b) as second:
                assert second is not None and first is not None
                assert second.engine.encoder is first.engine.encoder is fake_engine.encoder
                # Over the bound while both are in use: neither is closed under a question.
                assert collections.open_names() == [
                    "server-111111111111111111",
                    "server-222222222222222222",
                ]
                assert await collections.close_idle() == []
        assert sorted(await collections.close_idle()) == [
            "server-111111111111111111",
            "server-222222222222222222",
        ]
        assert collections.open_names() == []
        async with collections.use(a) as reopened:
            assert reopened is not None and reopened is not first  # closed, so opened anew
        assert (root / "server-222222222222222222" / "articles").is_dir()
    finally:
        await collections.close()


async def test_follow_ups_votes_and_report_stay_in_each_servers_collection(
    run_bot: Run,
    fake: LocalDiscord,
    second: Guild,
    collections: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first_index = collection_folders(collections, f"server-{fake.world.guild_id}")[1]
    second_index = collection_folders(collections, f"server-{second.id}")[1]
    async with run_bot(collections_dir=collections, reply_mode="thread") as session:
        general, lobby = session.channels.general, session.channels.lobby
        await reindex(session, lobby)
        await reindex(session, general)
        # A question in the second server opens a thread there; its follow-up, with no
        # mention, is read with the thread's history from that server's own ledger.
        exchange = await session.send_message(HARBOUR_Q, channel=lobby, mention_bot=True)
        [answer] = await exchange.wait_thread_messages()
        thread = exchange.thread
        assert thread is not None
        follow = await session.send_message(
            "When did it reopen?", channel=thread, author=session.users.bob
        )
        [again] = await follow.wait_messages()
        voted = await (await session.click(answer, "👍", user=session.users.bob)).wait_done()
        here = await (await session.invoke("ask", {"question": CHIPS})).wait_done()
        report_there = await (
            await session.invoke("report", user=session.users.owner, channel=lobby)
        ).wait_done()
        report_here = await (
            await session.invoke("report", user=session.users.owner, channel=general)
        ).wait_done()
    assert thread.guild_id == second.id and thread.parent_id == lobby.id
    assert "140 cables" in (embed_of(answer).description or "")
    assert again.channel_id == thread.id
    assert voted.messages[0].content.startswith("Thanks")
    assert here.original is not None and here.original.components  # vote buttons here too
    with Ledger(second_index / LEDGER_FILE) as ledger:
        history = ledger.history(thread.id)
        second_report = ledger.report()
    with Ledger(first_index / LEDGER_FILE) as ledger:
        first_report = ledger.report()
    assert [t.question for t in history] == [HARBOUR_Q, "When did it reopen?"]
    assert history[0].cited_article_id is not None
    assert (second_report.asked, first_report.asked) == (2, 1)
    assert [(v.up, v.down) for v in second_report.votes] == [(1, 0)]
    assert first_report.votes == ()
    there_embed, here_embed = embed_of(report_there.messages[0]), embed_of(report_here.messages[0])
    assert "**2** questions asked" in (there_embed.description or "")
    assert "**1** questions asked" in (here_embed.description or "")
    assert {f.name: f.value for f in there_embed.fields}["Collection"] == f"server-{second.id}"
    # `citebot --collection NAME report` reads that collection's ledger.
    env = tmp_path / ".env"
    env.write_text(f"CITEBOT_COLLECTIONS_DIR={collections}\n")
    capsys.readouterr()
    assert (
        main(["--env-file", str(env), "--collection", f"server-{second.id}", "report", "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["asked"] == 2
