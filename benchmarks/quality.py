"""Answer quality of every mode on every dev set, in one run: the table in docs/quality.md.

    python -m benchmarks.quality [--sets DIR] [--modes hybrid,dense,bm25]

Each cell runs `citebot eval --json` as a subprocess (a fresh index per run, the same code path
as the bot), so the figures are exactly what a user reproducing them gets.
"""

from __future__ import annotations

import argparse
import json
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


def run_eval(folder: Path, mode: str) -> dict[str, float | int | None]:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "eval", "--mode", mode, "--json",
         "--articles", str(folder / "articles.jsonl"),
         "--questions", str(folder / "questions.jsonl")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, float | int | None] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "eval"
    )
    parser.add_argument("--modes", default="bm25,dense,hybrid")
    args = parser.parse_args()
    header = "| set | mode | questions | " + " | ".join(KEYS) + " |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for folder in sorted(p for p in args.sets.iterdir() if (p / "questions.jsonl").is_file()):
        for mode in args.modes.split(","):
            r = run_eval(folder, mode)
            cells = ["-" if r[k] is None else str(r[k]) for k in KEYS]
            print(f"| {folder.name} | {mode} | {r['questions']} | " + " | ".join(cells) + " |")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
