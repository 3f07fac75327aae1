"""`citebot eval`: build a fresh index from article files and score every question."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bot.settings import Settings
from bot.wiring import reader_of
from retrieval import CitebotError, Engine, InvalidQuestion
from retrieval.answer.choose import AnswerSettings
from retrieval.answer.evaluation import Outcome, Question, metrics, read_questions
from retrieval.answer.followup import Turn
from retrieval.answer.reader import Reader
from retrieval.encode.encoder import Encoder
from retrieval.encode.load import load_encoder
from retrieval.ingest.loading import DEFAULT_MAX_BYTES
from retrieval.types import DEFAULT_RECIPE, Answer, Mode, PassageVectors


def evaluate(
    article_files: list[Path],
    questions_file: Path,
    encoder: Encoder,
    *,
    mode: Mode,
    settings: AnswerSettings,
    reader: Reader | None = None,
    passage_vectors: PassageVectors = DEFAULT_RECIPE,
    max_bytes: int = DEFAULT_MAX_BYTES,
    quiet: bool = False,
) -> dict[str, float | int | None]:
    """Index the articles (files or folders) in a temporary folder, ask every question, return
    the metrics. Raises CitebotError when the questions cannot be read or nothing was indexed:
    all-zero metrics over an empty index would pass for a result."""
    questions = _questions(questions_file)
    with tempfile.TemporaryDirectory(prefix="citebot-eval-") as tmp:
        articles_dir = Path(tmp) / "articles"
        articles_dir.mkdir()
        for number, path in enumerate(article_files):
            copy = articles_dir / f"{number:03d}-{path.name}"
            if path.is_dir():
                shutil.copytree(path, copy, symlinks=True)
            elif path.is_file():
                shutil.copy(path, copy)
            else:
                raise CitebotError(f"Article file or folder {path} does not exist.")
        engine = Engine(
            Path(tmp) / "index",
            articles_dir,
            encoder,
            settings=settings,
            max_bytes=max_bytes,
            reader=reader,
            passage_vectors=passage_vectors,
        )
        report = engine.reindex()
        if not quiet:
            print(
                f"indexed {report.stats.articles} articles, {report.stats.passages} passages",
                file=sys.stderr,
            )
            for skip in report.skipped:
                # The copies' names start with their --articles number: show the given name.
                print(
                    f"  skipped {_given(skip.path, article_files)}: {skip.reason}", file=sys.stderr
                )
        if report.stats.articles == 0:
            engine.close()
            raise CitebotError(
                f"Nothing was indexed from {', '.join(map(str, article_files))}: "
                f"{len(report.skipped)} skipped, so there is nothing to score."
            )
        outcomes = []
        for number, q in enumerate(questions, 1):
            history = _converse(engine, q.history, mode)
            started = time.perf_counter()
            try:
                answer = engine.ask(q.question, mode=mode, history=history)
            except InvalidQuestion:
                answer = Answer(q.question, None, ())
            outcomes.append(Outcome(q, answer, (time.perf_counter() - started) * 1000))
            if not quiet and number % 100 == 0:
                print(f"  {number}/{len(questions)} questions", file=sys.stderr)
        engine.close()
    return metrics(outcomes)


def _converse(engine: Engine, questions: tuple[str, ...], mode: Mode) -> list[Turn]:
    """Ask a follow-up's earlier questions in order, each with those before it, as the bot
    does in a thread; the turns are the follow-up's history."""
    turns: list[Turn] = []
    for question in questions:
        try:
            turns.append(Turn.of(engine.ask(question, mode=mode, history=turns)))
        except InvalidQuestion:
            turns.append(Turn(question))
    return turns


def _questions(path: Path) -> list[Question]:
    """The questions in `path`, or CitebotError saying why they cannot be read."""
    try:
        questions = read_questions(path)
    except UnicodeDecodeError:
        raise CitebotError(
            f"The questions file {path} is not UTF-8 text; it must be JSON Lines."
        ) from None
    except OSError as exc:
        raise CitebotError(f"Cannot read the questions file {path}: {exc.strerror}.") from None
    except ValueError as exc:
        raise CitebotError(f"The questions file is malformed: {exc}.") from None
    if not questions:
        raise CitebotError(f"The questions file {path} holds no questions.")
    return questions


def _given(copied: str, article_files: list[Path]) -> str:
    """A path in the temporary folder (`NNN-NAME…`) as the user gave it."""
    number, _, rest = copied.partition("-")
    if not (number.isdigit() and int(number) < len(article_files)):
        return copied
    # `rest` is the file's name (and any `:LINE` or `#N`), or the folder's and a path inside.
    return str(article_files[int(number)].parent / rest)


def run_eval_command(settings: Settings, args: argparse.Namespace) -> int:
    result = evaluate(
        list(args.eval_articles),
        args.questions,
        load_encoder(settings.model, backend=settings.encoder),
        mode=args.mode,
        settings=AnswerSettings(threshold=settings.threshold),
        reader=reader_of(settings),
        passage_vectors=settings.passage_vectors,
        max_bytes=settings.max_file_bytes,
    )
    if args.json:
        print(json.dumps(result))
    else:
        width = max(len(k) for k in result)
        for key, value in result.items():
            print(f"{key:<{width}}  {'-' if value is None else value}")
    return 0
