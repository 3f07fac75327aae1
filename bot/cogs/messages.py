"""Answers to messages: when the bot is mentioned, in DMs, and every message in the answer
channels and their threads (those need the Message Content intent). Replies quote the question's
message, in the channel or thread it was asked in."""

from __future__ import annotations

import contextlib
import logging

import discord
from discord.ext import commands

from bot.answering import answer, no_words_hint, question_text
from bot.client import NO_PINGS, CitebotBot
from bot.collections import place_of
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

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or message.author.bot or message.type not in ANSWERED_TYPES:
            return
        question = addressed_question(
            message.content,
            mentioned=mentions_me(message, me.id),
            answer_channel=in_answer_channel(message.channel, self.bot.settings.answer_channels),
            direct=message.guild is None,
        )
        if question is None:
            return
        hint = no_words_hint(question)  # checked first: it costs the user no cooldown slot
        if hint is not None:
            reply = Reply(content=hint)
        elif self.bot.collections.name_of(place_of(message)) is None:
            reply = Reply(content=NO_COLLECTION)  # a DM without a collection, at no cost
        elif wait := self.bot.cooldowns.hit(message.author.id):
            reply = Reply(content=cooling_down(wait))
        else:
            with contextlib.suppress(discord.HTTPException):
                await message.channel.typing()  # shows "citebot is typing…" until the reply
            try:
                async with self.bot.collections.use(place_of(message)) as collection:
                    if collection is None:
                        reply = Reply(content=NO_COLLECTION)
                    else:
                        reply = await answer(collection.engine, question, self.bot.answering)
            except Exception as exc:
                reply = Reply(content=error_reply(exc))
        try:
            await message.channel.send(
                content=reply.content,
                embed=reply.embed,  # type: ignore[arg-type]  # None means "no embed" here
                # Still sent, without the quote, if the question was deleted meanwhile.
                reference=message.to_reference(fail_if_not_exists=False),
                mention_author=False,
                allowed_mentions=NO_PINGS,
            )
        except discord.Forbidden:
            log.warning("No permission to reply in channel %s", message.channel.id)


async def setup(bot: CitebotBot) -> None:
    await bot.add_cog(Messages(bot))
