"""Answer quality of every mode (or encoder backend) on every dev set, in one run.

    python -m benchmarks.quality [--sets DIR] [--modes hybrid,dense,bm25]
    python -m benchmarks.quality --modes hybrid --backends torch,onnx,onnx-int8

The first is the table in docs/quality.md, the second the per-backend one in
docs/performance.md. Each cell runs `citebot eval --json` as a subprocess (a fresh index per
run, the same code path as the bot; the backend set by CITEBOT_ENCODER), so the figures are
exactly what a user reproducing them gets.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

KEYS = (
    "snippet_hit@1",
    "article_recall@1",
    "article_recall@5",
    "mrr",
    "abstain_recall",
    "false_abstain_rate",
    "p50_ms",
    "p95_ms",
)


def run_eval(folder: Path, mode: str, backend: str | None) -> dict[str, float | int | None]:
    env = dict(os.environ, CITEBOT_ENCODER=backend) if backend else None
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "eval", "--mode", mode, "--json",
         "--articles", str(folder / "articles.jsonl"),
         "--questions", str(folder / "questions.jsonl")],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    result: dict[str, float | int | None] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "eval"
    )
    parser.add_argument("--modes", default="bm25,dense,hybrid")
    parser.add_argument(
        "--backends", default="", help="comma-separated encoder backends (default: the default)"
    )
    args = parser.parse_args()
    backends: list[str | None] = [b for b in args.backends.split(",") if b] or [None]
    header = "| set | mode | backend | questions | " + " | ".join(KEYS) + " |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for folder in sorted(p for p in args.sets.iterdir() if (p / "questions.jsonl").is_file()):
        for mode in args.modes.split(","):
            for backend in backends:
                r = run_eval(folder, mode, backend)
                cells = ["-" if r[k] is None else str(r[k]) for k in KEYS]
                print(
                    f"| {folder.name} | {mode} | {backend or 'default'} | {r['questions']} | "
                    + " | ".join(cells)
                    + " |"
                )
                sys.stdout.flush()


if __name__ == "__main__":
    main()
