"""Short replies for people, in one place: every error the bot can meet becomes one of these.

Errors citebot raises on purpose (retrieval.errors) carry a message written for people and are
shown; anything else is a bug, logged with its traceback, and the user gets a generic reply.
"""

from __future__ import annotations

import logging
import math

from bot.text import content
from retrieval import CitebotError, IndexUnavailable, InvalidQuestion, ReindexInProgress

log = logging.getLogger("citebot.bot")

GENERIC = "Sorry, something went wrong on my side; the error is logged. Please try again later."
REINDEX_RUNNING = "A reindex is already running; wait for it to finish, then try again."
REINDEX_DENIED = (
    "Only members with Manage Server (or the bot's admin role) can run /reindex. "
    "Ask a server admin."
)
REINDEX_GUILD_ONLY = "/reindex works in a server channel, not in direct messages."
NO_COLLECTION = (
    "I answer in servers only: no collection of articles is set up for direct messages. Ask "
    "me in a server channel."
)


def unavailable(reason: str | None) -> str:
    why = (reason or "no index is loaded").rstrip(". ")
    return content(f"The index is unavailable: {why}. An admin can run /reindex.")


def reindex_failed(exc: BaseException, *, serving: bool) -> str:
    """The reply to the admin whose /reindex failed: what failed, and what still serves (not
    "the index is unavailable… run /reindex", which they just did)."""
    if isinstance(exc, ReindexInProgress):
        return REINDEX_RUNNING
    still = " Questions are still answered from the previous index." if serving else ""
    if isinstance(exc, CitebotError):
        return content(f"The reindex failed: {str(exc).rstrip('. ')}.{still}")
    log.error("Unexpected error while reindexing", exc_info=exc)
    return f"The reindex failed on an unexpected error; it is logged.{still}"


def cooling_down(retry_after: float) -> str:
    seconds = max(math.ceil(retry_after), 1)
    return f"You're asking quickly — try again in {seconds} s."


def error_reply(exc: BaseException) -> str:
    """The reply for an error met while serving a request; logs the ones that are bugs."""
    if isinstance(exc, IndexUnavailable):  # ModelMismatch included
        return unavailable(str(exc))
    if isinstance(exc, ReindexInProgress):
        return REINDEX_RUNNING
    if isinstance(exc, InvalidQuestion | CitebotError):
        return content(str(exc))
    log.error("Unexpected error while serving a request", exc_info=exc)
    return GENERIC
