"""The bot end to end: real discord.py against the local Discord, a real Engine, the fake
encoder. Each test asserts on what the bot really sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.embeds import limit_violations
from localdiscord import BotMessage, LocalDiscord
from retrieval import Engine
from retrieval.encode.fake import FakeEncoder
from tests.bot.conftest import CHIPS, Run, embed_of, pings_no_one
from tests.conftest import CORPUS, write_corpus

CHIPS_SNIPPET = "The chipmaker expects to hire 3,000 workers by 2027."
NO_PINGS = {"parse": [], "replied_user": False}


async def test_a_mention_is_answered_with_a_cited_embed(run_bot: Run, fake: LocalDiscord) -> None:
    async with run_bot() as session:
        exchange = await session.send_message(CHIPS, mention_bot=True)
        [reply] = await exchange.wait_messages()
    assert reply.reply_to == exchange.message.id
    assert reply.content == ""
    embed = embed_of(reply)
    assert embed.title == "Chipmaker expands"
    assert embed.description == f"> {CHIPS_SNIPPET}"
    assert embed.footer.text == f"Asked: {CHIPS}"  # the bot's mention is stripped
    assert reply.allowed_mentions == NO_PINGS
    assert not fake.gateway.has_intent(1 << 15)  # mentions need no Message Content intent


async def test_every_message_in_an_answer_channel_is_answered(
    run_bot: Run, fake: LocalDiscord
) -> None:
    news = fake.channels.news
    async with run_bot(answer_channels=frozenset({news.id})) as session:
        exchange = await session.send_message(CHIPS, channel=news)
        [reply] = await exchange.wait_messages()
    assert reply.reply_to == exchange.message.id and reply.channel_id == news.id
    assert embed_of(reply).description == f"> {CHIPS_SNIPPET}"
    assert fake.gateway.has_intent(1 << 15)  # answer channels need Message Content


async def test_threads_of_an_answer_channel_are_answered_in_the_thread(
    run_bot: Run, fake: LocalDiscord
) -> None:
    news, general = fake.channels.news, fake.channels.general
    known = fake.world.add_thread("known", news)  # in GUILD_CREATE when the bot connects
    async with run_bot(answer_channels=frozenset({news.id})) as session:
        started = await fake.create_thread("started", news, private=True)  # THREAD_CREATE
        elsewhere = await fake.create_thread("elsewhere", general)
        asked = [await session.send_message(CHIPS, channel=t) for t in (known, started)]
        answered = [await e.wait_messages() for e in asked]
        unaddressed = await session.send_message(CHIPS, channel=elsewhere)
        mentioned = await session.send_message(CHIPS, channel=elsewhere, mention_bot=True)
        [mention_reply] = await mentioned.wait_messages()  # events arrive in order
        ignored = unaddressed.messages()
        seen = [session.bot.get_channel(t.id) for t in (known, started, elsewhere)]
    assert [(type(c), getattr(c, "parent_id", None)) for c in seen] == [
        (discord.Thread, news.id),
        (discord.Thread, news.id),
        (discord.Thread, general.id),
    ]
    for exchange, [reply] in zip(asked, answered, strict=True):
        assert reply.channel_id == exchange.message.channel.id  # in the thread, not #news
        assert reply.reply_to == exchange.message.id
        assert embed_of(reply).description == f"> {CHIPS_SNIPPET}"
    assert ignored == []  # a thread elsewhere is not an answer channel...
    assert mention_reply.channel_id == elsewhere.id  # ...but a mention there is answered
    assert embed_of(mention_reply).description == f"> {CHIPS_SNIPPET}"


async def test_other_channels_and_bots_are_ignored(run_bot: Run, fake: LocalDiscord) -> None:
    other_bot = fake.world.add_user("newsfeed", bot=True)
    news = fake.channels.news
    async with run_bot(answer_channels=frozenset({news.id})) as session:
        unaddressed = await session.send_message(CHIPS)  # #general, no mention
        from_bot = await session.send_message(CHIPS, author=other_bot, mention_bot=True)
        bot_in_channel = await session.send_message(CHIPS, author=other_bot, channel=news)
        # Events arrive in order: once this is answered, the ones before were seen and ignored.
        last = await session.send_message(CHIPS, mention_bot=True)
        await last.wait_messages()
        ignored = [e.messages() for e in (unaddressed, from_bot, bot_in_channel)]
    assert ignored == [[], [], []]
    assert [m.reply_to for m in fake.bot_messages] == [last.message.id]


async def test_direct_messages_are_answered(run_bot: Run) -> None:
    async with run_bot() as session:
        dm = session.dm_channel(session.users.bob)
        exchange = await session.send_message(CHIPS, author=session.users.bob, channel=dm)
        [reply] = await exchange.wait_messages()
    assert embed_of(reply).description == f"> {CHIPS_SNIPPET}"


async def test_an_empty_mention_gets_a_hint(run_bot: Run) -> None:
    async with run_bot() as session:
        exchange = await session.send_message("", mention_bot=True)
        [reply] = await exchange.wait_messages()
    assert reply.content.startswith("Ask a question in words")


async def test_ask_defers_then_answers(run_bot: Run) -> None:
    async with run_bot() as session:
        run = await session.invoke("ask", {"question": "When is Lee visiting Japan?"})
        result = await run.wait_done()
    assert result.callback_types == [5]  # deferred first: within the 3 s deadline
    assert [a.kind for a in result.actions] == ["callback", "edit_original"]
    assert result.original is not None and not result.original.ephemeral
    embed = embed_of(result.original)
    assert embed.title == "Lee visits China"
    assert embed.description is not None and "planning to visit Japan" in embed.description
    assert {f.name: f.value for f in embed.fields}["File"] == "lee.txt"
    assert pings_no_one(result.original)


async def test_abstention_names_the_nearest_articles(run_bot: Run) -> None:
    async with run_bot() as session:
        exchange = await session.send_message("Who painted the Mona Lisa?", mention_bot=True)
        [reply] = await exchange.wait_messages()
    embed = embed_of(reply)
    assert embed.title == "Not in the articles"
    [nearest] = embed.fields
    assert nearest.name == "Nearest articles" and nearest.value is not None
    assert nearest.value.count("•") == 3


async def test_everyone_and_role_mentions_never_ping(run_bot: Run, fake: LocalDiscord) -> None:
    moderators = fake.roles.Moderators
    question = f"@everyone @here {moderators.mention} <@{fake.users.bob.id}> {CHIPS}"
    async with run_bot() as session:
        exchange = await session.send_message(question, mention_bot=True)
        [reply] = await exchange.wait_messages()
        run = await session.invoke("ask", {"question": question}, user=session.users.bob)
        result = await run.wait_done()
    assert result.original is not None
    assert reply.allowed_mentions == NO_PINGS
    for message in (reply, result.original):
        assert pings_no_one(message)
        embed = embed_of(message)
        assert embed.description == f"> {CHIPS_SNIPPET}"  # mentions are not question words
        assert embed.footer.text == f"Asked: {CHIPS}"
    # Every message but the deferral's "thinking…" placeholder (which has no text to ping with).
    assert all(pings_no_one(m) for m in fake.bot_messages if not m.loading)


async def test_an_oversized_answer_fits_discord_limits(
    tmp_path: Path, fake: LocalDiscord, run_bot: Run
) -> None:
    phrase = "the festival drew large crowds to Valencia"
    huge_sentence = f"Once again {phrase}" + f", and {phrase}" * 150 + "."
    title = "**Festival** " * 60
    articles = write_corpus(
        tmp_path / "huge",
        {
            "huge.jsonl": json.dumps(
                {
                    "id": "huge",
                    "title": title,
                    "url": f"https://example.org/{'x' * 3000}",
                    "published": "2024-10-30",
                    "text": huge_sentence,
                }
            ),
            **CORPUS,
        },
    )
    engine = Engine(tmp_path / "huge-index", articles, FakeEncoder())
    engine.reindex()
    try:
        async with run_bot(engine=engine) as session:
            exchange = await session.send_message(
                "Did the festival draw large crowds to Valencia?", mention_bot=True
            )
            [reply] = await exchange.wait_messages()
    finally:
        engine.close()
    embed = embed_of(reply)
    assert limit_violations(embed) == []
    # The library cuts sentences to 600 characters; the title is what overflows here.
    assert embed.description is not None and "the festival drew large crowds" in embed.description
    assert embed.title is not None and embed.title.endswith("…")
    assert embed.title.startswith("\\*\\*Festival\\*\\*")
    assert embed.url is None  # too long to be a link: the file is named instead
    assert not [r for r in fake.requests if r.status >= 400]


async def test_cooldown_per_user(run_bot: Run) -> None:
    async with run_bot(cooldown_rate=2, cooldown_per=60.0) as session:
        alice, bob = session.users.alice, session.users.bob
        replies = []
        for _ in range(3):
            exchange = await session.send_message(CHIPS, author=alice, mention_bot=True)
            replies += await exchange.wait_messages()
        by_bob = await session.send_message(CHIPS, author=bob, mention_bot=True)
        [bob_reply] = await by_bob.wait_messages()
        run = await session.invoke("ask", {"question": CHIPS}, user=alice)
        refused = await run.wait_done()
    assert [bool(r.embeds) for r in replies] == [True, True, False]
    assert replies[2].content == "You're asking quickly — try again in 60 s."
    assert replies[2].allowed_mentions == NO_PINGS
    assert bob_reply.embeds
    assert refused.callback_types == [4]  # answered at once, not deferred
    assert refused.original is not None and refused.original.ephemeral
    assert refused.original.content.startswith("You're asking quickly — try again in")


@pytest.mark.parametrize(
    ("route", "no_words"), [("mention", ""), ("answer channel", "?! 🙂"), ("ask", "?! 🙂")]
)
async def test_a_question_without_words_costs_no_cooldown_slot(
    run_bot: Run, fake: LocalDiscord, route: str, no_words: str
) -> None:
    news = fake.channels.news
    async with run_bot(
        cooldown_rate=1, cooldown_per=60.0, answer_channels=frozenset({news.id})
    ) as session:
        replies: list[BotMessage] = []
        for text in (no_words, CHIPS, CHIPS):  # the last is one too many: the cooldown holds
            if route == "ask":
                result = await (await session.invoke("ask", {"question": text})).wait_done()
                assert result.original is not None
                replies.append(result.original)
            else:
                where: dict[str, Any] = (
                    {"channel": news} if route == "answer channel" else {"mention_bot": True}
                )
                exchange = await session.send_message(text, **where)
                replies += await exchange.wait_messages()
    hint, answered, refused = replies
    assert hint.content.startswith("Ask a question in words") and not hint.embeds
    assert embed_of(answered).description == f"> {CHIPS_SNIPPET}"
    assert refused.content.startswith("You're asking quickly")
    if route == "ask":
        assert hint.ephemeral and refused.ephemeral and not answered.ephemeral


async def test_a_mention_of_the_bots_own_role_is_answered(run_bot: Run, fake: LocalDiscord) -> None:
    """Discord's autocomplete offers the bot's role as "@citebot" beside the bot itself."""
    news = fake.channels.news
    [own_role] = [r for r in fake.world.roles.values() if r.bot_id is not None]
    async with run_bot(answer_channels=frozenset({news.id})) as session:  # #general is not one
        exchange = await session.send_message(f"{own_role.mention} {CHIPS}")
        [reply] = await exchange.wait_messages()
        other = await session.send_message(f"{fake.roles.Moderators.mention} {CHIPS}")
        with pytest.raises(TimeoutError):  # another role's mention is not the bot's
            await other.wait_messages(timeout=0.5)
    assert embed_of(reply).description == f"> {CHIPS_SNIPPET}"
