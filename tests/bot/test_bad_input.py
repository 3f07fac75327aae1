"""Bad input through the bot on the local Discord: questions of every odd shape, as a mention and
as /ask, and a /reindex over a folder of bad files. Each gets a clear reply; nothing crashes,
pings anyone or is lost."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.answering import answer, question_text
from bot.embeds import limit_violations
from bot.replies import GENERIC
from bot.text import CONTENT_MAX, plain
from localdiscord import BotMessage, Exchange, InvocationError, LocalDiscord, UserMessage
from retrieval import Engine
from retrieval.build.reindex import build_index
from retrieval.encode.fake import FakeEncoder
from retrieval.index.dense import IVF_THRESHOLD
from retrieval.index.version import PASSAGE_ANN, current_version
from tests.badfiles import EXPECTED_SKIPS, MAX_BYTES, deny_reading, write_bad_articles
from tests.bot.conftest import Run, pings_no_one
from tests.conftest import CORPUS, write_corpus
from tests.retrieval.test_reliability import DAMAGE, LONG_STORY, Renamed, cut, damage_deep

HINT = "Ask a question in words"
LEE = "When is Lee visiting Japan?"
# A ping Discord would parse from text, were allowed_mentions not "none": escaped ones have a
# zero-width space after the @.
RAW_PING = re.compile(r"@(?:everyone|here|[!&]?\d{15,21})")

# Questions with no words in them get the hint; the others an answer or "not in the articles".
NO_WORDS = {
    "empty": "",
    "whitespace only": " \t\n  \u3000 ",
    "zero-width only": "\u200b\u200c\u200d\u2060\ufeff",
    "emoji only": "🙂🎉🔥👍🏽",
    "punctuation only": "?!…—¿¡ ... ???",
    "control characters only": "\x00\x07\x1b\x7f\x08\r\x0c",
}
WORDS = {
    "10,000 characters": (LEE + " ") * 357,
    "control characters": "When\x00 is\x07 Lee\x1b[31m visiting\r Japan?",
    "zero-width characters": "When\u200b is\u200d Lee\u2060 visiting\ufeff Japan?",
    "right-to-left override": "\u202eWhen is Lee visiting Japan?",
    "Spanish": "¿Cuándo visitará Lee Japón?",
    "Chinese": "李在明什么时候访问日本？",
    "everyone and here": "@everyone @here " + LEE,
    "markdown": "**When** is __Lee__ visiting ~~Japan~~? [click](https://evil.example) > quote",
    "code block": "```\n@everyone\n``` " + LEE + " `rm -rf /` ```",
    "a URL": "https://example.org/news/lee-japan?id=1&ref=@everyone",
}


def texts_of(message: BotMessage) -> list[str]:
    """Every text a user sees in the message."""
    found = [message.content]
    for embed in message.embeds:
        found += [embed.get("title") or "", embed.get("description") or ""]
        found += [
            (embed.get(k) or {}).get(n) or "" for k, n in (("footer", "text"), ("author", "name"))
        ]
        for field in embed.get("fields") or []:
            found += [field["name"], field["value"]]
    return found


def problems(message: BotMessage, *, words: bool) -> list[str]:
    """Why `message` is not a clear, safe reply to a question (empty when it is)."""
    found = []
    if not pings_no_one(message):
        found.append(f"allowed_mentions {message.allowed_mentions}")
    seen = "\n".join(texts_of(message))
    found += [f"raw ping {m!r}" for m in RAW_PING.findall(seen)]
    if "Traceback" in seen or GENERIC in seen:
        found.append("an error reply")
    if words:
        if len(message.embeds) != 1 or not message.embeds[0].get("title"):
            found.append(f"not an answer embed: {message.content!r}")
    elif not message.content.startswith(HINT):
        found.append(f"not the hint: {message.content!r}")
    return found


def with_mentions(fake: LocalDiscord) -> dict[str, str]:
    """WORDS, and a question with role and user mentions of this Discord's."""
    role, user = fake.roles.Moderators, fake.users.bob
    return {**WORDS, "role and user mentions": f"{role.mention} {user.mention} {LEE}"}


async def post_unchecked(fake: LocalDiscord, content: str) -> Exchange:
    """A message Discord's own 2,000-character limit would stop (Nitro allows 4,000): the bot
    must cope with whatever the gateway delivers."""
    author, channel = fake.users.alice, fake.channels.general
    stored = fake.messages.create(channel, author, {"content": content}, placeholder=True)
    await fake.publish("MESSAGE_CREATE", stored)
    return Exchange(fake, UserMessage(stored.id, channel, author, content))


async def test_odd_questions_by_mention_get_clear_replies_and_ping_no_one(
    run_bot: Run, fake: LocalDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    questions = {**NO_WORDS, **with_mentions(fake)}
    async with run_bot(cooldown_per=0) as session:
        mention = session.bot_user.mention
        exchanges = {}
        for name, text in questions.items():
            if len(text) > 1900:
                exchanges[name] = await post_unchecked(fake, f"{mention} {text}")
            else:
                exchanges[name] = await session.send_message(text, mention_bot=True)
        replies = {name: await e.wait_messages() for name, e in exchanges.items()}
    found = {
        name: [f"{len(got)} replies"]
        if len(got) != 1
        else problems(got[0], words=name not in NO_WORDS)
        for name, got in replies.items()
    }
    assert {name: p for name, p in found.items() if p} == {}
    long = replies["10,000 characters"][0].embeds[0]
    assert long["footer"]["text"] == plain(
        "Asked: " + question_text(WORDS["10,000 characters"]), 300
    )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_odd_questions_by_slash_command_get_clear_replies_and_ping_no_one(
    run_bot: Run, fake: LocalDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    questions = {**NO_WORDS, **with_mentions(fake)}
    del questions["empty"]  # refused by Discord, below
    questions["10,000 characters"] = questions["10,000 characters"][:1000]  # /ask's own limit
    async with run_bot(cooldown_per=0) as session:
        # Discord's client enforces the option's bounds: these never reach the bot.
        for refused in ("", WORDS["10,000 characters"]):
            with pytest.raises(InvocationError, match="length"):
                await session.invoke("ask", {"question": refused})
        runs = {name: await session.invoke("ask", {"question": q}) for name, q in questions.items()}
        results = {name: await run.wait_done() for name, run in runs.items()}
    found = {}
    for name, result in results.items():
        messages = result.messages
        if len(messages) != 1 or result.followups:
            found[name] = [f"{len(messages)} messages, {len(result.followups)} follow-ups"]
        else:
            found[name] = problems(messages[0], words=name not in NO_WORDS)
    assert {name: p for name, p in found.items() if p} == {}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# Any text at all, as Discord delivers it (valid UTF-8: no lone surrogates).
any_text = st.text(st.characters(codec="utf-8"), max_size=1500) | st.lists(
    st.sampled_from(["@everyone", "@here", "<@123456789012345678>", "`", "*", LEE])
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(question=any_text.map(lambda q: q if isinstance(q, str) else " ".join(q)))
def test_any_question_gets_a_reply_that_fits_and_pings_no_one(
    fake_engine: Engine, question: str
) -> None:
    async def reply_to(text: str):  # type: ignore[no-untyped-def]
        return await answer(fake_engine, text, asyncio.Semaphore(1))

    reply = asyncio.run(reply_to(question))
    if reply.embed is None:
        assert reply.content is not None and reply.content.startswith(HINT)
        assert len(reply.content) <= CONTENT_MAX
        return
    assert limit_violations(reply.embed) == []
    shown = [reply.embed.title or "", reply.embed.description or "", reply.embed.footer.text or ""]
    shown += [f"{f.name} {f.value}" for f in reply.embed.fields]
    assert not RAW_PING.findall("\n".join(shown))


async def test_a_reindex_over_bad_files_lists_each_skipped_file_with_its_reason(
    run_bot: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    articles = write_bad_articles(tmp_path / "bad-articles", tmp_path / "outside")
    deny_reading(monkeypatch, "locked.txt")
    engine = Engine(tmp_path / "bad-index", articles, FakeEncoder(), max_bytes=MAX_BYTES)
    try:
        async with run_bot(engine=engine) as session:
            run = await session.invoke("reindex", user=session.users.mod)
            result = await run.wait(
                lambda r: r.original is not None and bool(r.original.embeds),
                what="the reindex report",
            )
            asked = await (await session.invoke("ask", {"question": LEE})).wait_done()
    finally:
        engine.close()
    assert result.original is not None and not problems(result.original, words=True)
    fields = {f["name"]: f["value"] for f in result.original.embeds[0]["fields"]}
    assert fields["Articles"].endswith(f"skipped {len(EXPECTED_SKIPS)}")
    listed = dict(line.removeprefix("• ").split(": ", 1) for line in fields["Skipped"].splitlines())
    assert {path.replace("\\", "") for path in listed} == set(EXPECTED_SKIPS)
    for path, reason in listed.items():
        expected = EXPECTED_SKIPS[path.replace("\\", "")]
        assert reason.replace("\\", "").startswith(expected.removesuffix("…")), path
    assert asked.original is not None and asked.original.embeds  # the good files are served


# Damage found at start (all but the last), and damage found only when a question reads it.
ON_DISK = ["passages.npy emptied", "sqlite overwritten", "manifest missing", "CURRENT not text"]


@pytest.mark.parametrize(
    "what", [*ON_DISK, "passages.ann cut in half", "another model", "deep in the database"]
)
async def test_a_damaged_index_is_explained_and_repaired_by_an_admin_reindex(
    run_bot: Run, tmp_path: Path, what: str, caplog: pytest.LogCaptureFixture
) -> None:
    articles = write_corpus(
        tmp_path / "articles", {**CORPUS, "port.txt": f"Port traffic\n{LONG_STORY}"}
    )
    index = tmp_path / "damaged-index"
    encoder = Renamed(FakeEncoder()) if what == "another model" else FakeEncoder()
    ivf = what.startswith("passages.ann")  # a large index: its FAISS file is loaded at start
    build_index(articles, index, encoder, ivf_threshold=16 if ivf else IVF_THRESHOLD)
    if what in DAMAGE:
        DAMAGE[what][0](current_version(index))
    elif ivf:
        cut(PASSAGE_ANN)(current_version(index))
    elif what == "deep in the database":
        damage_deep(current_version(index))
    engine = Engine(index, articles, FakeEncoder())
    try:
        async with run_bot(engine=engine, cooldown_per=0) as session:  # the bot starts anyway
            before = await (await session.send_message(LEE, mention_bot=True)).wait_messages()
            asked = await (await session.invoke("ask", {"question": LEE})).wait_done()
            run = await session.invoke("reindex", user=session.users.mod)
            repaired = await run.wait(
                lambda r: r.original is not None and bool(r.original.embeds), what="the report"
            )
            after = await (await session.send_message(LEE, mention_bot=True)).wait_messages()
    finally:
        engine.close()
    [reply] = before
    assert reply.content.startswith("The index is unavailable: "), reply.content
    assert "reindex" in reply.content.removesuffix("An admin can run /reindex.")  # what to do
    assert reply.content.endswith("An admin can run /reindex.")
    assert asked.original is not None and asked.original.content == reply.content
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    found_at_start = what != "deep in the database"
    assert any(m.startswith("The index is unavailable") for m in warned) == found_at_start
    assert repaired.original is not None
    assert repaired.original.embeds[0]["title"] == "Reindex finished"
    fields = {f["name"]: f["value"] for f in repaired.original.embeds[0]["fields"]}
    if ivf:  # damage only in a file every build writes anew: every vector is reused
        assert "Rebuilt in full" not in fields
        assert fields["Rewritten"].startswith(
            "Every file was written anew, reusing the vectors, as the served version could not "
            "be opened. The dense index"
        )
        assert "; 0 new passage vectors." in repaired.original.embeds[0]["description"]
    else:
        assert fields["Rebuilt in full"].startswith("Every article was embedded afresh: the served")
    assert "planning to visit Japan" in after[0].embeds[0]["description"]
