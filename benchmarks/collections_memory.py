"""Memory of one open collection: how much a process grows for each collection's engine it opens
and asks one question of (the encoder is shared, so it is not counted).

    python -m benchmarks.collections_memory --articles 79 790 3950 --collections 5

Indexes are built with the fake encoder at the real model's dimension (384): an index's size
depends on its rows and that dimension, not on the vectors' values. Each size is measured in a
fresh process: RSS before, then after opening each collection and answering one question in
it; the figure is the median of those steps.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.corpus import copies, eval_questions, eval_records, write_jsonl
from retrieval import Engine
from retrieval.encode.fake import FakeEncoder

DIMENSION = 384


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def build(folder: Path, articles: int, collections: int) -> None:
    source = folder / "source"
    (source / "articles").mkdir(parents=True)
    write_jsonl(source / "articles" / "articles.jsonl", copies(eval_records(), articles))
    engine = Engine(source / "index", source / "articles", FakeEncoder(DIMENSION))
    engine.reindex()
    engine.close()
    for n in range(collections):
        shutil.copytree(source, folder / f"c{n}")


def measure(folder: Path, collections: int) -> list[float]:
    """In this process: RSS growth for each collection opened and asked one question."""
    encoder = FakeEncoder(DIMENSION)
    question = eval_questions()[0]
    engines = []
    steps = []
    before = rss_mib()
    for n in range(collections):
        engine = Engine(folder / f"c{n}" / "index", folder / f"c{n}" / "articles", encoder)
        assert engine.load(), engine.unavailable_reason
        engine.ask(question)
        engines.append(engine)
        after = rss_mib()
        steps.append(after - before)
        before = after
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, nargs="+", default=[79, 790, 3950])
    parser.add_argument("--collections", type=int, default=5)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print(" ".join(f"{s:.2f}" for s in measure(args.measure, args.collections)))
        return
    print("articles  passages  MiB per open collection (median of steps)")
    for articles in args.articles:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            build(folder, articles, args.collections)
            engine = Engine(folder / "c0" / "index", folder / "c0" / "articles", FakeEncoder(384))
            engine.load()
            passages = engine.stats().passages
            engine.close()
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.collections_memory",
                    "--measure",
                    str(folder),
                    "--collections",
                    str(args.collections),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            steps = [float(s) for s in done.stdout.split()]
            median = statistics.median(steps)
            print(f"{articles:8d}  {passages:8d}  {median:.1f}  ({done.stdout.strip()})")


if __name__ == "__main__":
    main()
