"""`citebot` in a process of its own, pointed at a local Discord: for tests that run the bot as
separate processes. discord.py has no setting for Discord's address, so the one sanctioned
patch (localdiscord.patch) is applied here, around the unchanged command line.

    python -m tests.bot.shard_process API_URL GATEWAY_URL run --shard-count 4 --shard-ids 0,1
"""

from __future__ import annotations

import sys

from bot.cli import main
from localdiscord.patch import pointed_at

if __name__ == "__main__":
    api_url, gateway_url, *argv = sys.argv[1:]
    with pointed_at(api_url, gateway_url):
        sys.exit(main(argv))
