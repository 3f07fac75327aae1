"""A question answered as part of a conversation: the thread's earlier questions from the
ledger as its history, the answer kept in the ledger, and vote buttons under it.

The same for /ask and for messages. A failure of the ledger never costs the asker the answer:
it is logged, and the answer goes out without history or buttons (as it does where no ledger
is kept). The engine and ledger are those of the place's collection (bot/collections.py).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import discord

from bot.answering import ask
from bot.collections import Collection
from bot.feedback import vote_view
from bot.formatting import Reply
from bot.ledger import Where
from bot.replies import NO_COLLECTION
from bot.text import plain
from retrieval import Turn

log = logging.getLogger("citebot.bot")

THREAD_NAME_MAX = 100  # Discord's limit


@dataclass(frozen=True)
class Outgoing:
    """A reply, and its vote buttons when it shows an answer."""

    reply: Reply
    view: discord.ui.View | None = None


def where_of(channel: object) -> Where:
    """Where a message or command was sent: a thread is also the conversation."""
    if isinstance(channel, discord.Thread):
        return Where(channel.id, channel.name, channel.id)
    if isinstance(channel, discord.abc.GuildChannel):
        return Where(channel.id, channel.name, None)
    return Where(getattr(channel, "id", None), "direct message", None)


def thread_name(question: str) -> str:
    """A thread's name for the question that opens it."""
    return plain(question, THREAD_NAME_MAX) or "Question"


async def answer_in_conversation(
    collection: Collection | None,
    gate: asyncio.Semaphore,
    question: str,
    user_id: int,
    where: Where,
) -> Outgoing:
    """Answer from the place's collection (None: the place has none), with the conversation's
    history, and record the answer for its vote buttons."""
    if collection is None:
        return Outgoing(Reply(content=NO_COLLECTION))
    engine, ledger = collection.engine, collection.ledger
    history: list[Turn] = []
    if ledger is not None and where.conversation_id is not None:
        try:
            history = await asyncio.to_thread(ledger.history, where.conversation_id)
        except Exception:
            log.exception("Could not read a conversation's history from the ledger")
    answered = await ask(engine, question, gate, history)
    if answered.answer is None or ledger is None:
        return Outgoing(answered.reply)
    try:
        answer_id = await asyncio.to_thread(ledger.record, answered.answer, user_id, where)
    except Exception:
        log.exception("Could not record an answer in the ledger")
        return Outgoing(answered.reply)
    return Outgoing(answered.reply, vote_view(answer_id))
