"""What reading a thread's history costs the questions that stand alone.

    python -m benchmarks.threaded [--set ../shared/eval/xquad_en_holes]

Each question of the set is asked twice: alone, and in a thread after the question before it in
the file (its answer as history), as the bot reads a thread. A question that stands on its own
should be answered the same either way; the difference is what follow-up detection
(retrieval/answer/followup.py) costs when it reads one as leaning on the thread. Prints how
many were read as follow-ups, and `citebot eval`'s metrics both ways, as JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from retrieval import Engine, Turn
from retrieval.answer.evaluation import Outcome, metrics, read_questions
from retrieval.answer.followup import leans_on_context
from retrieval.encode.load import DEFAULT_MODEL, load_encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=Path("../shared/eval/xquad_en_holes"))
    args = parser.parse_args()
    questions = read_questions(args.set / "questions.jsonl")
    with tempfile.TemporaryDirectory(prefix="citebot-threaded-") as tmp:
        articles = Path(tmp) / "articles"
        articles.mkdir()
        shutil.copy(args.set / "articles.jsonl", articles / "articles.jsonl")
        engine = Engine(Path(tmp) / "index", articles, load_encoder(DEFAULT_MODEL))
        engine.reindex()
        alone, threaded, leaning = [], [], 0
        previous = None
        for q in questions:
            answer = engine.ask(q.question)
            alone.append(Outcome(q, answer, 0.0))
            history = [] if previous is None else [Turn.of(previous)]
            leaning += bool(history) and leans_on_context(q.question)
            in_thread = engine.ask(q.question, history=history) if history else answer
            threaded.append(Outcome(q, in_thread, 0.0))
            previous = answer
        engine.close()
    drop = ("p50_ms", "p95_ms")
    print(
        json.dumps(
            {
                "set": args.set.name,
                "read_as_follow_ups": leaning,
                "alone": {k: v for k, v in metrics(alone).items() if k not in drop},
                "in_a_thread": {k: v for k, v in metrics(threaded).items() if k not in drop},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
