"""/reindex end to end: permissions, progress, questions answered meanwhile, one at a time."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import discord
import pytest

from bot.reindexing import ThrottledProgress
from bot.replies import REINDEX_DENIED, REINDEX_GUILD_ONLY, REINDEX_RUNNING
from localdiscord import InteractionResult, Invocation, InvocationError, LocalDiscord
from retrieval import Engine
from retrieval.build import reindex as reindex_module
from retrieval.build.reindex import reindex_lock
from tests.bot.conftest import GatedEncoder, Run

CHIPS = "How many workers will the chipmaker hire?"
NEW_ARTICLE = "Port strike ends\nDock workers in Rotterdam ended their strike on Friday.\n"


@pytest.fixture
def gated_engine(corpus: Path, tmp_path: Path, gated: GatedEncoder) -> Iterator[Engine]:
    """An engine over the tiny corpus, already indexed, whose next build waits for the gate."""
    engine = Engine(tmp_path / "gated-index", corpus, gated)
    engine.reindex()
    (corpus / "port.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    gated.gate.clear()
    gated.building.clear()
    yield engine
    gated.gate.set()
    engine.close()


def finished(result: InteractionResult) -> bool:
    original = result.original
    return original is not None and bool(original.embeds or original.ephemeral)


async def wait_finished(run: Invocation) -> InteractionResult:
    return await run.wait(finished, what="the final reindex message")


async def building(gated: GatedEncoder) -> None:
    assert await asyncio.to_thread(gated.building.wait, 10), "the build never started embedding"


async def test_admin_reindex_shows_progress_while_questions_are_answered(
    run_bot: Run, gated_engine: Engine, gated: GatedEncoder, fake: LocalDiscord
) -> None:
    async with run_bot(engine=gated_engine) as session:
        reindex = await session.invoke("reindex", user=session.users.mod)
        await building(gated)
        embedding = await reindex.wait(
            lambda r: any("embedding" in m.content for m in r.original_edits),
            what="an 'embedding' progress edit",
        )
        # Mid-build: a question is answered from the index being served.
        asked = await (await session.invoke("ask", {"question": CHIPS})).wait_done()
        gated.gate.set()
        result = await wait_finished(reindex)
    assert embedding.callback_types == [5]  # deferred at once, within the 3 s deadline
    progress = [m.content for m in result.original_edits if m.content]
    assert all(p.startswith("Reindexing… ") for p in progress)
    assert any(p.startswith("Reindexing… embedding 0/") for p in progress)
    assert asked.original is not None
    [answer] = asked.original.embeds
    assert answer["description"] == "> The chipmaker expects to hire 3,000 workers by 2027."
    assert result.original is not None and not result.original.ephemeral
    final = discord.Embed.from_dict(result.original.embeds[0])
    fields = {f.name: f.value for f in final.fields}
    assert final.title == "Reindex finished"
    assert fields["Articles"] == "added 1, changed 0, removed 0, unchanged 3, skipped 0"
    assert fields["Added"] == "port.txt"
    assert result.original.content == ""  # the progress line is gone
    assert gated_engine.stats().articles == 4


async def test_the_report_lists_skipped_files(
    run_bot: Run, corpus: Path, fake_engine: Engine
) -> None:
    (corpus / "bad.txt").write_bytes(b"\x00\x00binary")
    (corpus / "lee.txt").unlink()
    async with run_bot() as session:
        result = await wait_finished(await session.invoke("reindex", user=session.users.owner))
    assert result.original is not None
    fields = {f["name"]: f["value"] for f in result.original.embeds[0]["fields"]}
    assert fields["Articles"] == "added 0, changed 0, removed 1, unchanged 2, skipped 1"
    assert fields["Removed"] == "lee.txt"
    assert fields["Skipped"].startswith("• bad.txt: ")


async def test_a_member_without_manage_server_is_refused(run_bot: Run) -> None:
    async with run_bot() as session:
        alice = session.users.alice
        with pytest.raises(InvocationError, match="would not show /reindex to alice"):
            await session.invoke("reindex", user=alice)  # Discord hides it from her
        # Were the command shown to her anyway (a server admin's override), the bot refuses.
        run = await session.invoke("reindex", user=alice, check_visible=False)
        result = await run.wait_done()
    assert result.callback_types == [4]
    assert result.original is not None and result.original.ephemeral
    assert result.original.content == REINDEX_DENIED


async def test_the_admin_role_may_reindex(run_bot: Run, fake: LocalDiscord) -> None:
    indexers = fake.world.add_role("Indexers", 0)
    # Roles anyone with Manage Roles could make: the name in other case, and the id as a name.
    squatters = [fake.world.add_role("indexers", 0), fake.world.add_role(str(indexers.id), 0)]
    async with run_bot(admin_role=indexers.id) as session:
        bob = session.users.bob
        run = await session.invoke("reindex", user=bob, roles=[indexers], check_visible=False)
        allowed = await wait_finished(run)
        run = await session.invoke("reindex", user=session.users.alice, check_visible=False)
        refused = await run.wait_done()
        alice = session.users.alice
        run = await session.invoke("reindex", user=alice, roles=squatters, check_visible=False)
        squatted = await run.wait_done()
    assert allowed.original is not None and allowed.original.embeds
    assert refused.original is not None and refused.original.content == REINDEX_DENIED
    assert squatted.original is not None and squatted.original.content == REINDEX_DENIED


async def test_reindex_is_not_offered_in_direct_messages(run_bot: Run) -> None:
    async with run_bot() as session:
        dm = session.dm_channel(session.users.owner)
        with pytest.raises(InvocationError, match="not available in DMs"):
            await session.invoke("reindex", user=session.users.owner, channel=dm)
        run = await session.invoke(
            "reindex", user=session.users.owner, channel=dm, check_visible=False
        )
        result = await run.wait_done()
    assert result.original is not None and result.original.content == REINDEX_GUILD_ONLY


async def test_a_second_reindex_is_refused_politely(
    run_bot: Run, gated_engine: Engine, gated: GatedEncoder
) -> None:
    async with run_bot(engine=gated_engine) as session:
        first = await session.invoke("reindex", user=session.users.mod)
        await building(gated)
        second = await (await session.invoke("reindex", user=session.users.owner)).wait_done()
        gated.gate.set()
        done = await wait_finished(first)
    assert second.callback_types == [4]
    assert second.original is not None and second.original.ephemeral
    assert second.original.content == REINDEX_RUNNING
    assert done.original is not None and done.original.embeds


async def test_a_reindex_by_another_process_is_refused(run_bot: Run, fake_engine: Engine) -> None:
    async with run_bot() as session:
        with reindex_lock(fake_engine.index_dir):  # as `citebot index` would hold it
            run = await session.invoke("reindex", user=session.users.mod)
            result = await run.wait(
                lambda r: r.original is not None and r.original.content == REINDEX_RUNNING,
                what="the engine's refusal",
            )
    assert result.callback_types == [5]


async def test_status_says_a_reindex_is_running(
    run_bot: Run, gated_engine: Engine, gated: GatedEncoder
) -> None:
    async with run_bot(engine=gated_engine) as session:
        reindex = await session.invoke("reindex", user=session.users.mod)
        await building(gated)
        status = await (await session.invoke("status")).wait_done()
        gated.gate.set()
        await wait_finished(reindex)
    assert status.original is not None
    footer = status.original.embeds[0]["footer"]["text"]
    assert footer == "A reindex is running; questions use the current index meanwhile."


async def test_progress_is_throttled_and_survives_failed_edits() -> None:
    shown: list[str] = []

    async def show(text: str) -> None:
        shown.append(text)
        if len(shown) == 1:
            raise discord.HTTPException(_Response(), "rate limited")

    progress = ThrottledProgress(show, asyncio.get_running_loop(), interval=0.05)
    progress.start()
    progress.report("embedding", 0, 1000)
    async with asyncio.timeout(5):
        while not shown:
            await asyncio.sleep(0.001)
    for done in range(1, 1000):  # within the interval: only the latest is shown, once
        progress.report("embedding", done, 1000)
    await asyncio.sleep(0.12)
    await progress.finish()
    assert [text.split("\n")[0] for text in shown] == [
        "Reindexing… embedding 0/1,000 passages and sentences (0%)",  # this edit failed
        "Reindexing… embedding 999/1,000 passages and sentences (99%)",
    ]


class _Response:
    status = 429
    reason = "Too Many Requests"


async def test_a_full_reindex_embeds_every_article_afresh(
    run_bot: Run, fake_engine: Engine
) -> None:
    # Nothing changed since the fixture's build: a plain reindex keeps the served version,
    # `full` rebuilds it all (the repair for damage `citebot verify` found).
    passages = fake_engine.stats().passages
    async with run_bot() as session:
        plain = await wait_finished(await session.invoke("reindex", user=session.users.mod))
        full = await wait_finished(
            await session.invoke("reindex", {"full": True}, user=session.users.mod)
        )
    assert plain.original is not None and full.original is not None
    plain_embed, full_embed = plain.original.embeds[0], full.original.embeds[0]
    assert "; 0 new passage vectors." in plain_embed["description"]
    assert f"; {passages:,} new passage vectors." in full_embed["description"]
    fields = {f["name"]: f["value"] for f in full_embed["fields"]}
    assert (
        fields["Rebuilt in full"]
        == "Every article was embedded afresh, as a full rebuild was asked for."
    )
    assert "Rebuilt in full" not in {f["name"] for f in plain_embed["fields"]}


async def test_a_rewrite_writes_a_new_version_reusing_every_vector(
    run_bot: Run, fake_engine: Engine
) -> None:
    # The repair for damage `citebot verify` found in the FAISS index or the keyword postings.
    before = fake_engine.stats().version
    async with run_bot() as session:
        run = await wait_finished(
            await session.invoke("reindex", {"rewrite": True}, user=session.users.mod)
        )
    assert run.original is not None
    embed = run.original.embeds[0]
    assert "; 0 new passage vectors." in embed["description"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Rewritten"] == (
        "Every file was written anew, reusing the vectors, as a rewrite was asked for."
    )
    assert "Rebuilt in full" not in fields
    assert fake_engine.stats().version != before


def failed(result: InteractionResult) -> bool:
    return result.original is not None and result.original.content.startswith("The reindex ")


async def test_an_emptied_folder_is_refused_unless_the_admin_allows_it(
    run_bot: Run, fake_engine: Engine, corpus: Path
) -> None:
    for path in corpus.iterdir():
        path.unlink()  # an unmounted share
    async with run_bot() as session:
        mod = session.users.mod
        refused = await (await session.invoke("reindex", user=mod)).wait(failed, what="a refusal")
        assert len(fake_engine.sources()) == 3  # still served
        run = await session.invoke("reindex", {"allow_shrink": True}, user=mod)
        allowed = await wait_finished(run)
    assert refused.original is not None
    assert refused.original.content.startswith(
        "The reindex failed: The articles folder "
    ) and refused.original.content.endswith(
        "(or /reindex allow_shrink:True). Questions are still answered from the previous index."
    )
    assert "unavailable" not in refused.original.content
    assert allowed.original is not None and "Indexed 0 articles" in str(allowed.original.embeds)


async def test_a_failed_write_tells_the_admin_what_failed(
    run_bot: Run, fake_engine: Engine, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(reindex_module, "publish_version", full_disk)
    (corpus / "port.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    async with run_bot() as session:
        run = await session.invoke("reindex", user=session.users.mod)
        result = await run.wait(failed, what="the failure")
        asked = await (await session.invoke("ask", {"question": CHIPS})).wait_done()
    assert result.original is not None
    assert result.original.content == (
        f"The reindex failed: Cannot write the index in {fake_engine.index_dir}: database or "
        "disk is full. The served version is unchanged. Questions are still answered from the "
        "previous index."
    )
    assert asked.original is not None and "3,000 workers" in str(asked.original.embeds)
