"""The `citebot` command line: index, ask, add, remove, sources, verify, eval, report, run,
chat, demo.

Domain errors become one-line messages here, in one place; nothing below prints.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict
from pathlib import Path

from bot.ledger import FILENAME as LEDGER_FILE
from bot.ledger import Ledger
from bot.reporting import report_json, report_text
from bot.settings import (
    Settings,
    SettingsError,
    check_shards,
    check_threshold,
    load_settings,
    shard_ids_from,
)
from bot.terminal import (
    answer_json,
    format_answer,
    format_report,
    format_sources,
    format_verification,
)
from bot.wiring import build_engine
from retrieval import MODES, CitebotError, Engine, verify_served
from retrieval.build.embedding import Embedder

log = logging.getLogger("citebot")


def _threshold(text: str) -> float:
    try:
        return check_threshold(float(text), "--threshold")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; use 0 to 1.") from None
    except SettingsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _shard_ids(text: str) -> tuple[int, ...]:
    try:
        return shard_ids_from(text, "--shard-ids")
    except SettingsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citebot",
        description="Answer questions over news articles with verbatim, cited sentences.",
    )
    parser.add_argument("--env-file", type=Path, help="settings file (default: .env, if any)")
    parser.add_argument("--articles", type=Path, help="articles folder (CITEBOT_ARTICLES_DIR)")
    parser.add_argument("--index", type=Path, help="index folder (CITEBOT_INDEX_DIR)")
    parser.add_argument(
        "--collection",
        help="act on this collection under CITEBOT_COLLECTIONS_DIR (a server's is "
        "server-ID) instead of --articles and --index",
    )
    parser.add_argument("--model", help="embedding model (CITEBOT_MODEL)")
    parser.add_argument(
        "--threshold", type=_threshold, help="abstention threshold, 0 to 1 (CITEBOT_THRESHOLD)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="index the articles folder (incremental)")
    p.add_argument("path", nargs="?", type=Path, help="articles folder (overrides the setting)")
    repair = p.add_mutually_exclusive_group()
    repair.add_argument(
        "--full",
        action="store_true",
        help="embed every article afresh, reusing nothing from the served index (repairs "
        "damage `citebot verify` found)",
    )
    repair.add_argument(
        "--rewrite",
        action="store_true",
        help="write every file of the index anew, reusing the vectors that match their "
        "checksums (repairs damage `citebot verify` found in the dense index or the keyword "
        "postings, without embedding)",
    )

    p.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="embed on Ray (pip install 'citebot[ray]'): the cluster at ADDRESS, or without one "
        "a Ray started here; see docs/scaling.md",
    )
    p.add_argument(
        "--ray-workers",
        type=int,
        metavar="N",
        help="encoder actors on Ray, one CPU each (default: every CPU of the cluster)",
    )
    p.add_argument(
        "--allow-shrink",
        action="store_true",
        help="allow a reindex that drops more of the indexed articles than CITEBOT_MAX_SHRINK "
        "(all of them included)",
    )

    p = sub.add_parser("ask", help="answer one question with a cited sentence")
    p.add_argument("question")
    p.add_argument("--k", type=int, default=3, help="further sources to list (default 3)")
    p.add_argument("--mode", choices=MODES, default="hybrid")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("add", help="add an article from a link or a file, and index it")
    p.add_argument("target", metavar="URL|FILE")
    p = sub.add_parser("remove", help="remove an article (by id or link) and reindex")
    p.add_argument("article", metavar="ID|URL")

    p = sub.add_parser("sources", help="list the indexed articles")
    p.add_argument("--json", action="store_true")

    sub.add_parser("verify", help="check every byte of the served index's files (exit 1 if not ok)")

    p = sub.add_parser("eval", help="measure answer quality on evaluation sets")
    p.add_argument("--articles", dest="eval_articles", type=Path, action="append", required=True)
    p.add_argument("--questions", type=Path, required=True)
    p.add_argument("--mode", choices=MODES, default="hybrid")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")

    p = sub.add_parser(
        "report", help="questions asked and unanswered, votes and most cited articles"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("run", help="start the Discord bot (needs DISCORD_TOKEN)")
    p.add_argument("--shard-count", type=int, help="total shards (CITEBOT_SHARD_COUNT)")
    p.add_argument(
        "--shard-ids",
        type=_shard_ids,
        help="shards this process runs, e.g. 0,1 (CITEBOT_SHARD_IDS)",
    )
    sub.add_parser("chat", help="talk to the bot in this terminal through the local Discord")
    p = sub.add_parser("demo", help="index, start the bot on the local Discord, ask one question")
    p.add_argument("question", nargs="?", default="When is Lee visiting Japan?")
    return parser


def _progress_bar() -> tuple[object, object]:
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage != "embedding" or total == 0:
            return
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc="embedding", unit="text", file=sys.stderr)
        bar.n = done
        bar.refresh()

    def close() -> None:
        for bar in bars.values():
            bar.close()

    return progress, close


def _embedder(
    settings: Settings, engine: Engine, args: argparse.Namespace
) -> AbstractContextManager[Embedder | None]:
    """Where `index` embeds: here, or with `--ray` on a Ray cluster (imported only then)."""
    if args.ray is None:
        return nullcontext()
    from retrieval.build.ray_embedding import ray_embedder

    return ray_embedder(
        settings.model,
        settings.encoder,
        dimension=engine.encoder.dimension,
        address=args.ray or None,
        workers=args.ray_workers,
    )


def _cmd_index(settings: Settings, args: argparse.Namespace) -> int:
    if args.ray_workers is not None and args.ray is None:
        raise CitebotError("--ray-workers needs --ray.")
    if args.ray_workers is not None and args.ray_workers < 1:
        raise CitebotError(f"--ray-workers of {args.ray_workers} is too few; use 1 or more.")
    engine = build_engine(settings.with_overrides(articles_dir=args.path))
    progress, close = _progress_bar()
    try:
        with _embedder(settings, engine, args) as embedder:
            report = engine.reindex(
                progress=progress,  # type: ignore[arg-type]
                full=args.full,
                rewrite=args.rewrite,
                max_shrink=None if args.allow_shrink else settings.max_shrink,
                embedder=embedder,
            )
    finally:
        close()  # type: ignore[operator]
        engine.close()
    print(format_report(report))
    return 0


def _cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    if not 0 <= args.k <= 10:
        raise CitebotError(f"--k of {args.k} is out of range; use 0 to 10.")
    engine = build_engine(settings, further=args.k)
    try:
        if not engine.load():
            raise CitebotError(engine.unavailable_reason or "No index.")
        answer = engine.ask(args.question, mode=args.mode)
    finally:
        engine.close()
    if args.json:
        print(json.dumps(answer_json(answer), ensure_ascii=False))
    else:
        print(format_answer(answer))
    return 0


def _cmd_sources(settings: Settings, as_json: bool) -> int:
    engine = build_engine(settings)
    try:
        if not engine.load():
            raise CitebotError(engine.unavailable_reason or "No index.")
        sources = engine.sources()
    finally:
        engine.close()
    if as_json:
        print(json.dumps([asdict(s) for s in sources], ensure_ascii=False))
    else:
        print(format_sources(sources))
    return 0


def _cmd_add_or_remove(settings: Settings, args: argparse.Namespace) -> int:
    from bot.additions import add_from_command_line, format_added, format_removed
    from retrieval.adding import remove_article

    engine = build_engine(settings)
    try:
        engine.load()  # none yet is fine: adding builds the first index
        if args.command == "add":
            print(format_added(add_from_command_line(settings, engine, args.target)))
        else:
            print(format_removed(remove_article(engine, args.article)))
    finally:
        engine.close()
    return 0


def _cmd_verify(settings: Settings) -> int:
    # Reads only the index folder: no model is loaded to check bytes.
    verification = verify_served(settings.index_dir)
    print(format_verification(verification))
    return 0 if verification.ok else 1


def _in_collection(settings: Settings, name: str) -> Settings:
    from bot.collections import NAME, collection_folders

    if settings.collections_dir is None:
        raise CitebotError("--collection needs CITEBOT_COLLECTIONS_DIR, where collections live.")
    if not NAME.fullmatch(name):
        raise CitebotError(f"{name!r} is not a collection name, such as server-1234 or world.")
    articles, index = collection_folders(settings.collections_dir, name)
    return settings.with_overrides(articles_dir=articles, index_dir=index)


def _cmd_report(settings: Settings, as_json: bool) -> int:
    path = settings.index_dir / LEDGER_FILE
    if not path.exists():
        raise CitebotError(
            f"There is no ledger at {path} yet: the bot records its answers there once it runs "
            "(citebot run, or chat)."
        )
    with Ledger(path, retention_days=settings.retention_days) as ledger:
        report = ledger.report()
    if as_json:
        print(json.dumps(report_json(report), ensure_ascii=False))
    else:
        print(report_text(report))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        env_file = args.env_file or Path(".env")
        settings = load_settings(env_file, required=args.env_file is not None).with_overrides(
            articles_dir=args.articles if args.command != "eval" else None,
            index_dir=args.index,
            model=args.model,
            threshold=args.threshold,
        )
        if args.collection is not None:
            settings = _in_collection(settings, args.collection)
        code = _run(settings, args)
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is met below
        return code
    except (CitebotError, SettingsError) as exc:
        print(f"citebot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `citebot sources | head`: the reader left. Point stdout at /dev/null so that the
        # flush at exit does not raise again (the recipe in Python's `signal` docs).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "index":
        return _cmd_index(settings, args)
    if args.command == "ask":
        return _cmd_ask(settings, args)
    if args.command == "sources":
        return _cmd_sources(settings, args.json)
    if args.command == "verify":
        return _cmd_verify(settings)
    if args.command in ("add", "remove"):
        return _cmd_add_or_remove(settings, args)
    if args.command == "report":
        return _cmd_report(settings, args.json)
    if args.command == "eval":
        from bot.evaluate import run_eval_command

        return run_eval_command(settings, args)
    if args.command == "run":
        settings = settings.with_overrides(shard_count=args.shard_count, shard_ids=args.shard_ids)
        check_shards(settings.shard_count, settings.shard_ids, "--shard-ids")
    from bot.app import run_command

    return run_command(settings, args)


if __name__ == "__main__":
    sys.exit(main())
