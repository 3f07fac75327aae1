"""`citebot chat` and `citebot demo`: the real bot, run against the local fake Discord, with its
replies rendered in this terminal. Nothing is sent to discord.com, with or without a token."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import replace

from discord import AppCommandOptionType

from bot.client import CitebotBot
from bot.formatting import PROGRESS_PREFIX
from bot.settings import Settings
from bot.slash import SlashCommand, options_of, slash_commands, usage
from bot.terminal import format_report
from bot.wiring import build_engine
from localdiscord import (
    BotMessage,
    BotSession,
    Channel,
    Exchange,
    InteractionResult,
    Invocation,
    InvocationError,
    LocalDiscord,
    User,
    render_message,
    render_result,
)
from localdiscord.validation import CONTENT_MAX
from retrieval import Engine
from retrieval.engine import MAX_QUESTION_CHARS

ANSWER_TIMEOUT = 120.0
REINDEX_TIMEOUT = 24 * 3600.0

CHAT_COMMANDS = """\
Options can also be given as Discord writes them: /sources page:4, /reindex full:True.
  /click BUTTON     press a button of the bot's latest message with buttons
                    (/click 👍 or /click Helpful; /click 👎 or /click Wrong)
  /thread [NAME]    start a thread in #general and talk in it (a follow-up there
                    is read with the thread's earlier questions)
  /leave            go back to #general from a thread
  /help             this help
  /quit             leave (Ctrl-D works too)"""

NEXT_STEPS = """\
Next:
  Talk to the bot yourself:  .venv/bin/citebot chat
  Connect to real Discord:   put DISCORD_TOKEN=... in .env, then .venv/bin/citebot run
                             (docs/discord.md: creating the bot, intents, inviting it)"""


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """The terminal is the user interface here: keep connection chatter and the voice-support
    warnings off it (the chat itself says when the index is unavailable)."""
    loggers = [
        logging.getLogger(name) for name in ("discord", "citebot.bot", "sentence_transformers")
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _local(settings: Settings) -> Settings:
    # A real guild id means nothing to the local Discord, which has its own guild.
    return replace(settings, guild_id=None)


@contextlib.asynccontextmanager
async def local_bot(settings: Settings, engine: Engine) -> AsyncIterator[BotSession[CitebotBot]]:
    """The bot, connected to a fresh local Discord."""
    async with (
        LocalDiscord() as fake,
        fake.running(lambda: CitebotBot(settings, engine, **fake.client_options)) as session,
    ):
        yield session


# --- rendering what the bot did ----------------------------------------------------------------


def _reindex_over(result: InteractionResult) -> bool:
    """The /reindex reply is final once it is neither "thinking…" nor a progress line."""
    original = result.original
    if original is None:
        return False
    if original.ephemeral or original.embeds:
        return True
    return not original.loading and not original.content.startswith(PROGRESS_PREFIX)


def _moved_on(seen: int) -> Callable[[InteractionResult], bool]:
    return lambda result: len(result.original_edits) > seen or _reindex_over(result)


async def show_reindex(invocation: Invocation, write: Callable[[str], None]) -> None:
    """Print each progress step as it is shown, then the final report."""
    seen = 0
    while True:
        result = await invocation.wait(
            _moved_on(seen),
            timeout=REINDEX_TIMEOUT,
            what="reindex progress",
        )
        if _reindex_over(result):
            write(render_result(result))
            return
        for edit in result.original_edits[seen:]:
            write(f"  {edit.content.splitlines()[0]}")
        seen = len(result.original_edits)


class Place:
    """Where the person chatting is: #general or a thread, and the latest message with buttons."""

    def __init__(self, session: BotSession[CitebotBot]) -> None:
        self.general = session.channels.general
        self.channel: Channel = self.general
        self.buttons: BotMessage | None = None

    def saw(self, messages: list[BotMessage]) -> None:
        for message in messages:
            if message.components and not message.ephemeral:
                self.buttons = message


async def _answers(
    session: BotSession[CitebotBot], exchange: Exchange
) -> tuple[list[BotMessage], Channel | None]:
    """The bot's answer to a message: replies to it, or messages in a thread it opened on it."""

    def check() -> tuple[list[BotMessage], Channel | None] | None:
        replies = exchange.messages()
        if replies:
            return replies, None
        thread = exchange.thread
        in_thread = session.messages_in(thread) if thread is not None else []
        return (in_thread, thread) if in_thread else None

    return await session.server.wait_for(
        check, timeout=ANSWER_TIMEOUT, describe=lambda: "the bot did not answer"
    )


async def ask_in_channel(
    session: BotSession[CitebotBot],
    text: str,
    user: User,
    write: Callable[[str], None],
    place: Place | None = None,
) -> None:
    content = session.mentionify(text)
    if len(content) > CONTENT_MAX:
        # Discord refuses the message outright (400 Invalid Form Body): say so, keep chatting.
        write(
            f"(Discord would not send that: a message holds at most {CONTENT_MAX:,} characters, "
            f"and this one has {len(content):,} with the mention. The bot reads the first "
            f"{MAX_QUESTION_CHARS:,} of a question: shorten it.)"
        )
        return
    channel = place.channel if place is not None else session.channels.general
    exchange = await session.send_message(content, author=user, channel=channel, mention_bot=True)
    messages, thread = await _answers(session, exchange)
    if thread is not None and place is not None:
        place.channel = thread
        write(f"(citebot opened the thread #{thread.name}; you are in it now. /leave goes back.)")
    for message in messages:
        write(render_message(message))
    if place is not None:
        place.saw(messages)


async def click(
    session: BotSession[CitebotBot],
    place: Place,
    button: str,
    user: User,
    write: Callable[[str], None],
) -> None:
    """Press a button of the latest message that has buttons, printing the bot's answer."""
    if place.buttons is None:
        write("No message with buttons yet: ask a question first.")
        return
    try:
        invocation = await session.click(place.buttons, button, user=user)
    except InvocationError as exc:
        write(f"(Discord would not send that: {exc})")
        return
    write(render_result(await invocation.wait_done(timeout=ANSWER_TIMEOUT)))


async def enter_thread(
    session: BotSession[CitebotBot], place: Place, name: str, write: Callable[[str], None]
) -> None:
    thread = await session.start_thread(name or "questions", channel=place.general)
    place.channel = thread
    write(f"(You started the thread #{thread.name} in #general and are in it. /leave goes back.)")


# --- the bot's slash commands, as typed lines -------------------------------------------------


def chat_help(commands: Mapping[str, SlashCommand]) -> str:
    lines = ["Type a question to ask it in #general with @citebot, or a slash command:"]
    for command in commands.values():
        head = f"  {usage(command):<17} "
        if len(head) > 20:  # a long usage gets a line of its own
            lines.append(head.rstrip())
            head = " " * 20
        lines.append(head + command.description)
        lines += [
            f"{'':20}{p.name}: {p.description}"
            for p in command.parameters
            if p.type is AppCommandOptionType.boolean
        ]
    return "\n".join([*lines, CHAT_COMMANDS])


async def run_slash(
    session: BotSession[CitebotBot],
    line: str,
    user: User,
    write: Callable[[str], None],
    place: Place | None = None,
) -> None:
    """Run one `/command args` line as `user`, printing what the bot answers."""
    name, _, rest = line[1:].partition(" ")
    command = slash_commands(session.bot).get(name)
    if command is None:
        write(f"Unknown command /{name}; type /help for the list.")
        return
    options = options_of(command, rest.strip())
    if options is None:
        write(f"Usage: {usage(command)}")
        return
    channel = place.channel if place is not None else None
    try:
        invocation = await session.invoke(name, options, user=user, channel=channel)
    except InvocationError as exc:
        write(f"(Discord would not send that: {exc})")
        return
    if name == "reindex":
        await show_reindex(invocation, write)
        return
    result = await invocation.wait_done(timeout=ANSWER_TIMEOUT)
    write(render_result(result))
    if place is not None:
        place.saw(result.messages)


# --- chat ----------------------------------------------------------------------------------


class LineReader:
    """Reads stdin lines on request in a daemon thread, so the event loop never blocks and
    Ctrl-C can end the program while a read is pending. None means end of input."""

    def __init__(self, prompt: str) -> None:
        self._prompt = prompt
        self._loop = asyncio.get_running_loop()
        self._wanted = threading.Semaphore(0)
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        threading.Thread(target=self._read, name="citebot chat: stdin", daemon=True).start()

    def _read(self) -> None:
        while True:
            self._wanted.acquire()
            try:
                line: str | None = input(self._prompt)
            except EOFError:
                line = None
            self._loop.call_soon_threadsafe(self._lines.put_nowait, line)
            if line is None:
                return

    async def read(self) -> str | None:
        self._wanted.release()
        return await self._lines.get()


async def chat(settings: Settings) -> None:
    print("Starting citebot (loading the model and the index)…", flush=True)
    engine = await asyncio.to_thread(build_engine, settings)
    # The one person here is the admin trying the bot: the cooldown would only get in the way.
    local = replace(_local(settings), cooldown_per=0.0)
    try:
        async with local_bot(local, engine) as session:
            me = session.users.mod
            print("citebot chat: the bot runs against a local Discord (nothing is sent to")
            print(f"discord.com). You are @{me.name} (Moderators: Manage Server) in #general.")
            if not engine.ready:
                print(f"Note: the index is unavailable ({engine.unavailable_reason}).")
                print("Type /reindex to build it.")
            print(
                f"The per-user cooldown ({settings.cooldown_rate} questions per "
                f"{settings.cooldown_per:g} s, CITEBOT_COOLDOWN_RATE and CITEBOT_COOLDOWN_PER) "
                "is off here; it holds on Discord."
            )
            print("Type a question, or /help. Ctrl-D or /quit leaves.\n")
            await chat_loop(session, me, LineReader("> " if sys.stdin.isatty() else ""))
    finally:
        await asyncio.to_thread(engine.close)


async def chat_loop(session: BotSession[CitebotBot], me: User, reader: LineReader) -> None:
    echo = not sys.stdin.isatty()  # piped input: show what was "typed" in the transcript
    place = Place(session)
    while (line := await reader.read()) is not None:
        line = line.strip()
        if not line:
            continue
        if echo:
            print(f"> {line}")
        command, _, rest = line.partition(" ")
        if line in ("/quit", "/exit"):
            break
        if line == "/help":
            print(chat_help(slash_commands(session.bot)))
        elif command == "/click":
            await click(session, place, rest.strip(), me, print)
        elif command == "/thread":
            await enter_thread(session, place, rest.strip(), print)
        elif line == "/leave":
            place.channel = place.general
            print("(Back in #general.)")
        elif line.startswith("/"):
            await run_slash(session, line, me, print, place)
        else:
            await ask_in_channel(session, line, me, print, place)
        print()


def run_chat(settings: Settings) -> int:
    with _quiet_logs():
        asyncio.run(chat(settings))
    return 0


# --- demo ----------------------------------------------------------------------------------


OUT_OF_SCOPE = "Who won the 2022 FIFA World Cup?"


async def demo(settings: Settings, question: str) -> None:
    if settings.discord_token is not None:
        print("DISCORD_TOKEN is set, but the demo always uses the local Discord: nothing is")
        print("sent to discord.com. `citebot run` connects to real Discord.\n")
    else:
        print("No DISCORD_TOKEN configured: the demo runs the bot against a local Discord.\n")
    engine = await asyncio.to_thread(build_engine, settings)
    try:
        print(f"Indexing {settings.articles_dir}/ …")
        print(format_report(await asyncio.to_thread(engine.reindex)))
        async with local_bot(_local(settings), engine) as session:
            alice, bob = session.users.alice, session.users.bob
            print(f"\n#general  @{alice.name}: @citebot {question}")
            await ask_in_channel(session, question, alice, print)
            print(f"\n#general  @{bob.name} used /ask question: {question}")
            await run_slash(session, f"/ask {question}", bob, print)
            # And one the articles cannot answer: citebot says so instead of quoting something.
            print(f"\n#general  @{alice.name}: @citebot {OUT_OF_SCOPE}")
            await ask_in_channel(session, OUT_OF_SCOPE, alice, print)
    finally:
        await asyncio.to_thread(engine.close)
    print()
    print(NEXT_STEPS)


def run_demo(settings: Settings, question: str) -> int:
    with _quiet_logs():
        asyncio.run(demo(settings, question))
    return 0
