"""Answers to messages: when the bot is mentioned, in DMs, every message in the answer channels
and their threads, and every message in a thread the bot answered in, a follow-up (those need
the Message Content intent). Replies quote the question's message, in the channel or thread it
was asked in; with CITEBOT_REPLY_MODE=thread a question in a channel gets a thread of its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord
from discord.ext import commands

from bot.answering import no_words_hint, question_text
from bot.client import NO_PINGS, CitebotBot
from bot.collections import place_of
from bot.conversation import Outgoing, answer_in_conversation, thread_name, where_of
from bot.formatting import Reply
from bot.replies import NO_COLLECTION, cooling_down, error_reply

log = logging.getLogger("citebot.bot")

ANSWERED_TYPES = (discord.MessageType.default, discord.MessageType.reply)


def addressed_question(
    text: str, *, mentioned: bool, answer_channel: bool, direct: bool
) -> str | None:
    """The question a message asks the bot, or None when the message is not for the bot.

    A mention or a DM is always for the bot (even an empty one gets a hint); in an answer
    channel, any message with words is. Mentions, the bot's own included, are removed.
    """
    question = question_text(text)
    if mentioned or direct:
        return question
    if answer_channel and question:
        return question
    return None


def mentions_me(message: discord.Message, me: int) -> bool:
    """Whether `message` mentions the bot: as a user, or by its own role, which Discord's
    autocomplete offers as "@citebot" too (the role its integration made in each server)."""
    if any(user.id == me for user in message.mentions):
        return True
    own_role = message.guild.self_role if message.guild is not None else None
    return own_role is not None and own_role.id in message.raw_role_mentions


def in_answer_channel(channel: discord.abc.Snowflake, answer_channels: frozenset[int]) -> bool:
    """Whether `channel` is an answer channel, or a thread (public or private) started in one."""
    if isinstance(channel, discord.Thread):
        return channel.parent_id in answer_channels
    return channel.id in answer_channels


class Messages(commands.Cog):
    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot

    async def _follows_up(self, message: discord.Message) -> bool:
        """Whether `message` is in a thread the bot has answered in (as its collection's ledger
        says): its messages are follow-ups."""
        channel = message.channel
        if not isinstance(channel, discord.Thread):
            return False
        collections = self.bot.collections
        place = place_of(message)
        name = collections.name_of(place)
        if name is None:
            return False
        if not collections.single and not collections.ledger_exists(name):
            return False  # never answered there: no need to open the collection to know it
        try:
            async with collections.use(place) as collection:
                ledger = collection.ledger if collection is not None else None
                if ledger is None:
                    return False
                return await asyncio.to_thread(ledger.answered_in, channel.id)
        except Exception:
            log.exception("Could not read the ledger")
            return False

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or message.author.bot or message.type not in ANSWERED_TYPES:
            return
        settings = self.bot.settings
        question = addressed_question(
            message.content,
            mentioned=mentions_me(message, me.id),
            answer_channel=in_answer_channel(message.channel, settings.answer_channels)
            or await self._follows_up(message),
            direct=message.guild is None,
        )
        if question is None:
            return
        hint = no_words_hint(question)  # checked first: it costs the user no cooldown slot
        if hint is not None:
            await self._send(message, message.channel, Outgoing(Reply(content=hint)))
            return
        place = place_of(message)
        if self.bot.collections.name_of(place) is None:
            # A DM without a collection, at no cost.
            await self._send(message, message.channel, Outgoing(Reply(content=NO_COLLECTION)))
            return
        if wait := self.bot.cooldowns.hit(message.author.id):
            await self._send(message, message.channel, Outgoing(Reply(content=cooling_down(wait))))
            return
        channel: discord.abc.Messageable = message.channel
        if settings.reply_mode == "thread" and isinstance(message.channel, discord.TextChannel):
            # The thread belongs to the question's channel, so to the same collection.
            channel = await self._open_thread(message, question)
        with contextlib.suppress(discord.HTTPException):
            await channel.typing()  # shows "citebot is typing…" until the reply
        try:
            async with self.bot.collections.use(place) as collection:
                outgoing = await answer_in_conversation(
                    collection, self.bot.answering, question, message.author.id, where_of(channel)
                )
        except Exception as exc:
            outgoing = Outgoing(Reply(content=error_reply(exc)))
        await self._send(message, channel, outgoing)

    async def _open_thread(
        self, message: discord.Message, question: str
    ) -> discord.abc.Messageable:
        """A thread on the question's message, or its channel if the bot may not open one."""
        try:
            return await message.create_thread(
                name=thread_name(question), auto_archive_duration=1440
            )
        except discord.HTTPException as exc:
            log.warning(
                "Could not open a thread in channel %s (%s); answering in the channel",
                message.channel.id,
                exc,
            )
            return message.channel

    async def _send(
        self, message: discord.Message, channel: discord.abc.Messageable, outgoing: Outgoing
    ) -> None:
        reply = outgoing.reply
        # In the question's own channel the answer quotes it; a thread opened on it shows it.
        reference = message.to_reference(fail_if_not_exists=False)
        try:
            await channel.send(
                content=reply.content,
                embed=reply.embed,  # type: ignore[arg-type]  # None means "no embed" here
                view=outgoing.view,  # type: ignore[arg-type]  # None means "no buttons" here
                # Still sent, without the quote, if the question was deleted meanwhile.
                reference=reference if channel is message.channel else None,  # type: ignore[arg-type]
                mention_author=False,
                allowed_mentions=NO_PINGS,
            )
        except discord.Forbidden:
            log.warning("No permission to reply in channel %s", getattr(channel, "id", None))


async def setup(bot: CitebotBot) -> None:
    await bot.add_cog(Messages(bot))
