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
from retrieval import CitebotError, Engine, InvalidQuestion
from retrieval.answer.choose import AnswerSettings
from retrieval.answer.evaluation import Outcome, metrics, read_questions
from retrieval.encode.encoder import Encoder
from retrieval.encode.load import load_encoder
from retrieval.types import DEFAULT_RECIPE, Answer, Mode, PassageVectors


def evaluate(
    article_files: list[Path],
    questions_file: Path,
    encoder: Encoder,
    *,
    mode: Mode,
    settings: AnswerSettings,
    passage_vectors: PassageVectors = DEFAULT_RECIPE,
    quiet: bool = False,
) -> dict[str, float | int | None]:
    """Index the articles in a temporary folder, ask every question, return the metrics."""
    questions = read_questions(questions_file)
    with tempfile.TemporaryDirectory(prefix="citebot-eval-") as tmp:
        articles_dir = Path(tmp) / "articles"
        articles_dir.mkdir()
        for number, path in enumerate(article_files):
            if not path.is_file():
                raise CitebotError(f"Article file {path} does not exist.")
            shutil.copy(path, articles_dir / f"{number:03d}-{path.name}")
        engine = Engine(
            Path(tmp) / "index",
            articles_dir,
            encoder,
            settings=settings,
            passage_vectors=passage_vectors,
        )
        report = engine.reindex()
        if not quiet:
            print(
                f"indexed {report.stats.articles} articles, {report.stats.passages} passages",
                file=sys.stderr,
            )
        outcomes = []
        for number, q in enumerate(questions, 1):
            started = time.perf_counter()
            try:
                answer = engine.ask(q.question, mode=mode)
            except InvalidQuestion:
                answer = Answer(q.question, None, ())
            outcomes.append(Outcome(q, answer, (time.perf_counter() - started) * 1000))
            if not quiet and number % 100 == 0:
                print(f"  {number}/{len(questions)} questions", file=sys.stderr)
        engine.close()
    return metrics(outcomes)


def run_eval_command(settings: Settings, args: argparse.Namespace) -> int:
    result = evaluate(
        list(args.eval_articles),
        args.questions,
        load_encoder(settings.model, backend=settings.encoder),
        mode=args.mode,
        settings=AnswerSettings(threshold=settings.threshold),
        passage_vectors=settings.passage_vectors,
    )
    if args.json:
        print(json.dumps(result))
    else:
        width = max(len(k) for k in result)
        for key, value in result.items():
            print(f"{key:<{width}}  {'-' if value is None else value}")
    return 0
