"""Long-running commands: `run` (real Discord), `chat` and `demo` (the local Discord)."""

from __future__ import annotations

import argparse

from bot.cli import format_answer, format_report
from bot.settings import Settings
from retrieval import CitebotError


def run_command(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli import _engine

    if args.command == "demo":
        engine = _engine(settings)
        try:
            print(format_report(engine.reindex()))
            print(f"\nQ: {args.question}")
            print(format_answer(engine.ask(args.question)))
        finally:
            engine.close()
        return 0
    raise CitebotError(f"`citebot {args.command}` needs the Discord bot, which is not built yet.")
