"""Point discord.py at the local fake: the one sanctioned place that touches discord.py globals.

Why globals: discord.py has no option for its API or gateway address. ``Route.BASE`` is a class
attribute read whenever a ``Route`` is built (every REST call, including the interaction webhook
adapter), and ``DiscordWebSocket.DEFAULT_GATEWAY`` is read by ``from_client`` for the first
connection and after an invalidated session; after READY the client uses READY's
``resume_gateway_url``, which the fake also points at itself. Both are process-wide, so:

* the patch is a context manager that restores the originals on exit, and must stay entered for
  as long as the bot runs (routes are built per request);
* while one fake is patched in, patching in a different one raises, instead of silently sending
  one bot's traffic to the other fake. Nested entries for the same fake are counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

_active: list[tuple[str, str]] = []


@contextmanager
def pointed_at(api_base: str, gateway_url: str) -> Iterator[None]:
    """Send discord.py's REST calls to ``api_base`` (ending in ``/api/v10``) and its first
    gateway connection to ``gateway_url`` while the block runs."""
    target = (api_base.rstrip("/"), gateway_url)
    if _active and _active[-1] != target:
        raise RuntimeError(
            f"discord.py is already pointed at {_active[-1][0]}; run one LocalDiscord bot at a "
            "time per process (the address is a discord.py class attribute)"
        )
    saved_base, saved_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = target[0]
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    _active.append(target)
    try:
        yield
    finally:
        _active.pop()
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved_base, saved_gateway
