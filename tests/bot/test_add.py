"""/add and /remove end to end: the real bot on the local Discord fetching from a local web
server, attachments downloaded from the local Discord's CDN, who may, and what is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.additions import ADD_DENIED, ADD_GUILD_ONLY, ADD_WHAT, REMOVE_DENIED
from bot.settings import Settings
from localdiscord import InteractionResult, InvocationError, LocalDiscord
from retrieval import Engine
from retrieval.build import reindex as reindex_module
from retrieval.errors import StorageError
from retrieval.ingest.addresses import parse_networks
from tests.bot.conftest import Run, embed_of
from tests.webpages import LOOPBACK, PageServer, page

HARBOUR_Q = "How many cables did engineers replace on the harbour bridge?"
ALLOW = {"fetch_allow": parse_networks(LOOPBACK)}


@pytest.fixture
async def pages() -> AsyncIterator[PageServer]:
    async with PageServer() as server:
        yield server


def text_of(result: InteractionResult) -> str:
    assert result.original is not None
    return result.original.content


async def add(session: object, options: dict[str, object], **kwargs: object) -> InteractionResult:
    run = await session.invoke("add", options, **kwargs)  # type: ignore[attr-defined]
    return await run.wait_done(timeout=15)  # type: ignore[no-any-return]


async def test_an_admin_adds_a_link_and_it_is_answered_from_at_once(
    run_bot: Run, pages: PageServer, fake_engine: Engine, corpus: Path
) -> None:
    async with run_bot(**ALLOW) as session:
        result = await add(session, {"url": pages.url("/moved")}, user=session.users.mod)
        asked = await (await session.invoke("ask", {"question": HARBOUR_Q})).wait_done()
        again = await add(session, {"url": pages.url("/harbour")}, user=session.users.mod)
    assert result.callback_types == [5]  # deferred at once: the fetch may take seconds
    assert result.original is not None and not result.original.ephemeral
    embed = embed_of(result.original)
    assert embed.title == "Article added"
    assert embed.description is not None
    assert embed.description.startswith(
        f"[Harbour bridge reopens after repairs]({pages.url('/harbour')}) · 2025-03-14 · "
    )
    assert embed.description.endswith("passages") or embed.description.endswith("passage")
    assert embed.footer.text == "The index now holds 4 articles."
    assert asked.original is not None
    answer = embed_of(asked.original)  # quoted from the page just added
    assert answer.description is not None and "Port Selwyn" in answer.description
    assert text_of(again).startswith("Nothing was added: Already there: “Harbour bridge")
    assert text_of(again).endswith("has the same link.")
    assert pages.hits.get("/harbour") == 1  # the second was known by its link, never fetched
    assert len(list((corpus / "added").iterdir())) == 1


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/to-metadata", "169.254.169.254 is a link-local address"),
        ("/empty", "No main text found in HTML"),
        ("/image.png", "is image/png, not an article"),
        ("/huge", "over the limit of 5,000,000 bytes"),
    ],
)
async def test_refused_links_say_why_and_change_nothing(
    run_bot: Run, pages: PageServer, fake_engine: Engine, corpus: Path, path: str, message: str
) -> None:
    before = fake_engine.stats()
    async with run_bot(**ALLOW) as session:
        result = await add(session, {"url": pages.url(path)}, user=session.users.owner)
    assert text_of(result).startswith("Nothing was added: ")
    assert message in text_of(result)
    assert fake_engine.stats() == before
    assert not (corpus / "added").exists()


async def test_a_slow_page_is_given_up_at_the_fetch_deadline(
    run_bot: Run, pages: PageServer, fake_engine: Engine
) -> None:
    before = fake_engine.stats()
    async with run_bot(fetch_timeout=0.5, **ALLOW) as session:
        result = await add(session, {"url": pages.url("/slow")}, user=session.users.owner)
    assert result.callback_types == [5]
    assert "took longer than 0.5 s, so it was stopped" in text_of(result)
    assert fake_engine.stats() == before


async def test_loopback_is_refused_without_the_allow_list(run_bot: Run, pages: PageServer) -> None:
    async with run_bot() as session:
        result = await add(session, {"url": pages.url("/harbour")}, user=session.users.owner)
    assert "127.0.0.1 is a loopback address" in text_of(result)
    assert pages.hits == {}


async def test_a_failed_build_keeps_the_served_index(
    run_bot: Run,
    pages: PageServer,
    fake_engine: Engine,
    corpus: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = fake_engine.stats()

    def broken(*args: object, **kwargs: object) -> None:
        raise StorageError("Cannot write the index: disk full")

    monkeypatch.setattr(reindex_module, "publish_version", broken)
    async with run_bot(**ALLOW) as session:
        result = await add(session, {"url": pages.url("/harbour")}, user=session.users.owner)
        asked = await (await session.invoke("ask", {"question": HARBOUR_Q})).wait_done()
    assert text_of(result) == "Nothing was added: Cannot write the index: disk full."
    assert fake_engine.stats() == before
    assert not any((corpus / "added").iterdir())
    assert asked.original is not None and embed_of(asked.original).title == "Not in the articles"


async def test_files_are_added_from_attachments(run_bot: Run, fake_engine: Engine) -> None:
    async with run_bot() as session:
        pdf = session.upload("notice.pdf", page("library.pdf"), "application/pdf")
        from_pdf = await add(session, {"file": pdf}, user=session.users.mod)
        text = session.upload("trains.txt", b"Night trains return\nThe night train runs again.")
        from_text = await add(session, {"file": text}, user=session.users.mod)
        image = session.upload("photo.png", b"\x89PNG\r\n")
        refused = await add(session, {"file": image}, user=session.users.mod)
    assert from_pdf.original is not None
    assert embed_of(from_pdf.original).description is not None
    assert embed_of(from_pdf.original).description.startswith(  # type: ignore[union-attr]
        "Library extends opening hours · "
    )
    assert from_text.original is not None
    assert embed_of(from_text.original).footer.text == "The index now holds 5 articles."
    assert "'photo.png' is not a kind of file citebot reads" in text_of(refused)
    titles = {s.title for s in fake_engine.sources()}
    assert {"Library extends opening hours", "Night trains return"} <= titles


async def test_a_file_over_the_limit_is_not_downloaded(
    run_bot: Run, fake: LocalDiscord, fake_engine: Engine
) -> None:
    async with run_bot(max_file_bytes=100) as session:
        big = session.upload("big.txt", b"Big story\n" + b"word " * 100)
        result = await add(session, {"file": big}, user=session.users.mod)
    assert "over the limit of 100 bytes" in text_of(result)
    assert fake.uploads.downloads == {}


async def test_who_may_add_and_remove(run_bot: Run, pages: PageServer, settings: Settings) -> None:
    async with run_bot(**ALLOW) as session:
        alice = session.users.alice
        with pytest.raises(InvocationError, match="would not show /add to alice"):
            await session.invoke("add", {"url": pages.url("/harbour")}, user=alice)
        denied = await add(session, {"url": pages.url("/harbour")}, user=alice, check_visible=False)
        neither = await add(session, {}, user=session.users.mod)
        dm = session.dm_channel(session.users.owner)
        in_dm = await add(
            session,
            {"url": pages.url("/harbour")},
            user=session.users.owner,
            channel=dm,
            check_visible=False,
        )
    assert text_of(denied) == ADD_DENIED
    assert text_of(neither) == ADD_WHAT
    assert text_of(in_dm) == ADD_GUILD_ONLY
    assert pages.hits == {}

    async with run_bot(anyone_may_add=True, **ALLOW) as session:
        alice = session.users.alice
        added = await add(session, {"url": pages.url("/orchard")}, user=alice)
        run = await session.invoke(
            "remove", {"article": pages.url("/orchard")}, user=alice, check_visible=False
        )
        not_removed = await run.wait_done()
    assert added.original is not None and embed_of(added.original).title == "Article added"
    assert text_of(not_removed) == REMOVE_DENIED


async def test_remove_by_link_or_id(
    run_bot: Run, pages: PageServer, fake_engine: Engine, corpus: Path
) -> None:
    async with run_bot(**ALLOW) as session:
        await add(session, {"url": pages.url("/orchard")}, user=session.users.mod)
        mod = session.users.mod
        by_url = await (
            await session.invoke("remove", {"article": pages.url("/orchard")}, user=mod)
        ).wait_done()
        by_id = await (await session.invoke("remove", {"article": "lee.txt"}, user=mod)).wait_done()
        unknown = await (
            await session.invoke("remove", {"article": "nope.txt"}, user=mod)
        ).wait_done()
    assert text_of(by_url).startswith("Removed “Frost damages apple orchards” (added/frost-")
    assert text_of(by_url).endswith("The index now holds 3 articles.")
    assert text_of(by_id) == "Removed “Lee visits China” (lee.txt). The index now holds 2 articles."
    assert text_of(unknown).startswith("Nothing was removed: No indexed article has the id")
    assert not (corpus / "lee.txt").exists()
    assert {s.article_id for s in fake_engine.sources()} == {"chips-1", "rain.md"}


async def test_an_attachment_that_cannot_be_downloaded_is_reported(
    run_bot: Run, fake: LocalDiscord, fake_engine: Engine
) -> None:
    before = fake_engine.stats()
    async with run_bot() as session:
        lost = session.upload("lost.txt", b"Lost story\nIt is gone.")
        fake.uploads.files.pop(lost.id)  # Discord's CDN no longer has it
        result = await add(session, {"file": lost}, user=session.users.mod)
    assert text_of(result) == (
        "Nothing was added: Cannot download lost.txt from Discord (404); attach it again."
    )
    assert fake_engine.stats() == before
