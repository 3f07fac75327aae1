"""Long-running commands: `run` (real Discord), `chat` and `demo` (the local Discord)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from functools import partial
from typing import Any

import aiohttp
import discord

from bot.client import make_bot
from bot.settings import Secret, Settings
from bot.wiring import build_engine
from retrieval import CitebotError

log = logging.getLogger("citebot")

NO_TOKEN = (
    "DISCORD_TOKEN is not set, so `citebot run` cannot connect to Discord. Put the bot token in "
    ".env as DISCORD_TOKEN=... (docs/discord.md shows where to get one), or try the local "
    "Discord instead: `citebot demo` or `citebot chat`."
)
TOKEN_REJECTED = (
    "Discord rejected DISCORD_TOKEN (401 Unauthorized). Copy a fresh token from the Developer "
    "Portal (your app → Bot → Reset Token) into .env; see docs/discord.md."
)
INTENT_MISSING = (
    "Discord refused the Message Content intent, which CITEBOT_ANSWER_CHANNELS needs. Turn it "
    "on in the Developer Portal (your app → Bot → Privileged Gateway Intents → Message Content "
    "Intent), or empty CITEBOT_ANSWER_CHANNELS to answer mentions only; see docs/discord.md."
)


def run_command(settings: Settings, args: argparse.Namespace) -> int:
    """`citebot run`, `citebot chat` or `citebot demo`."""
    if args.command == "run":
        return run_discord(settings)
    from bot import chat  # the local Discord is only imported when used

    if args.command == "chat":
        return chat.run_chat(settings)
    if args.command == "demo":
        return chat.run_demo(settings, args.question)
    raise CitebotError(f"Unknown command {args.command!r}; use run, chat or demo.")


def run_discord(settings: Settings) -> int:
    """Serve on real Discord until interrupted; needs DISCORD_TOKEN."""
    if settings.discord_token is None:
        raise CitebotError(NO_TOKEN)
    asyncio.run(serve(settings, settings.discord_token))
    return 0


async def serve(settings: Settings, token: Secret, **client_options: Any) -> None:
    """Run the bot until cancelled. The engine (and its model) is built in a worker thread in
    setup_hook, after login and before the bot connects; `client_options` go to discord.py."""
    bot = make_bot(settings, partial(build_engine, settings), **client_options)
    async with bot:
        try:
            await bot.start(token.reveal())
        except discord.LoginFailure:
            raise CitebotError(TOKEN_REJECTED) from None
        except discord.PrivilegedIntentsRequired:
            raise CitebotError(INTENT_MISSING) from None
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise CitebotError(
                f"Cannot reach Discord ({type(exc).__name__}); check the network connection."
            ) from None
