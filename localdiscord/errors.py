"""Errors raised to tests by the local Discord harness.

    LocalDiscordError
     ├── InvocationError    the invocation is impossible on Discord (unknown or hidden command,
     │                      options the client would refuse)
     ├── BotNotReady        the bot stopped or timed out before READY
     └── InteractionFailed  the bot did not acknowledge an interaction in time

API errors answered to the bot (``validation.ApiError``) are HTTP responses, not raised here.
"""

from __future__ import annotations


class LocalDiscordError(Exception):
    pass


class InvocationError(LocalDiscordError):
    pass


class BotNotReady(LocalDiscordError):
    pass


class InteractionFailed(LocalDiscordError):
    pass
