"""Answer quality of every mode (or encoder backend) on every dev set, in one run.

    python -m benchmarks.quality [--sets DIR] [--modes hybrid,dense,bm25]
    python -m benchmarks.quality --modes hybrid --backends torch,onnx,onnx-int8
    python -m benchmarks.quality --modes hybrid --backends torch,onnx-int8 \
        --passage-vectors embedded,pooled

The first is the table in docs/quality.md, the second the per-backend one in
docs/performance.md, the third each backend with each way of making passage vectors. Each cell
runs `citebot eval --json` as a subprocess (a fresh index per run, the same code path as the
bot; the backend set by CITEBOT_ENCODER, the passage vectors by CITEBOT_PASSAGE_VECTORS), so the
figures are exactly what a user reproducing them gets.
"""

from __future__ import annotations

import argparse
import itertools
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


def run_eval(
    folder: Path, mode: str, backend: str | None, recipe: str | None
) -> dict[str, float | int | None]:
    env = dict(os.environ)
    if backend:
        env["CITEBOT_ENCODER"] = backend
    if recipe:
        env["CITEBOT_PASSAGE_VECTORS"] = recipe
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
    parser.add_argument(
        "--passage-vectors",
        default="",
        help="comma-separated ways to make passage vectors (default: the default)",
    )
    args = parser.parse_args()
    backends: list[str | None] = [b for b in args.backends.split(",") if b] or [None]
    recipes: list[str | None] = [r for r in args.passage_vectors.split(",") if r] or [None]
    header = "| set | mode | backend | questions | " + " | ".join(KEYS) + " |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for folder in sorted(p for p in args.sets.iterdir() if (p / "questions.jsonl").is_file()):
        for mode in args.modes.split(","):
            for backend, recipe in itertools.product(backends, recipes):
                r = run_eval(folder, mode, backend, recipe)
                cells = ["-" if r[k] is None else str(r[k]) for k in KEYS]
                label = (backend or "default") + (f", {recipe}" if recipe else "")
                print(
                    f"| {folder.name} | {mode} | {label} | {r['questions']} | "
                    + " | ".join(cells)
                    + " |"
                )
                sys.stdout.flush()


if __name__ == "__main__":
    main()
