"""Indexing throughput on Ray (`citebot index --ray`) with 1 and 2 workers, beside a local build.

    python -m benchmarks.ray_build [--repeats 3] [--work DIR] [--json FILE]

Each build indexes the dev sets' articles (79 articles, 534 passages, as `benchmarks.run`'s
indexing figure) from scratch with the default encoder (onnx-int8, whole passages) into a fresh
index folder. Passages/s is passages built ÷ the build's wall time: reading, splitting, embedding
every sentence and passage, writing. The model's loading in the driver is left out, as in
`benchmarks.run`; Ray's start-up, once per process, is reported apart; the actors' start-up (a
pool is started for the sentences, then for the passages) is inside each build's time. The three
kinds alternate within each repeat, and medians are printed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.corpus import EVAL_DIR
from benchmarks.run import prepare_eval_articles
from retrieval.build.embedding import Embedder
from retrieval.build.ray_embedding import ray_embedder
from retrieval.build.reindex import build_index
from retrieval.encode.load import DEFAULT_BACKEND, DEFAULT_MODEL, load_encoder
from retrieval.encode.onnx import cores

KINDS = ("local", "ray, 1 worker", "ray, 2 workers")


def _build(articles: Path, index: Path, embedder: Embedder | None, encoder: Any) -> float:
    shutil.rmtree(index, ignore_errors=True)
    started = time.perf_counter()
    report = build_index(articles, index, encoder, embedder=embedder)
    return report.stats.passages / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ray_build", description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(".benchmarks"))
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    import ray

    articles = prepare_eval_articles(args.work, args.eval_dir)
    encoder = load_encoder(DEFAULT_MODEL, backend=DEFAULT_BACKEND)
    started = time.perf_counter()
    ray.init(num_cpus=cores(), include_dashboard=False, log_to_driver=False)
    ray_start_s = time.perf_counter() - started
    rates: dict[str, list[float]] = {kind: [] for kind in KINDS}
    try:
        for repeat in range(args.repeats):
            for kind in KINDS:
                index = args.work / "ray-build-index"
                if kind == "local":
                    rate = _build(articles, index, None, encoder)
                else:
                    workers = 1 if "1 worker" in kind else 2
                    with ray_embedder(
                        DEFAULT_MODEL,
                        DEFAULT_BACKEND,
                        dimension=encoder.dimension,
                        workers=workers,
                    ) as embed:
                        rate = _build(articles, index, embed, encoder)
                rates[kind].append(rate)
                print(f"repeat {repeat + 1}, {kind}: {rate:.1f} passages/s", flush=True)
    finally:
        ray.shutdown()
    result = {
        "cores": cores(),
        "ray_start_s": round(ray_start_s, 1),
        "passages_per_s": {k: round(statistics.median(v), 1) for k, v in rates.items()},
        "runs": {k: [round(r, 1) for r in v] for k, v in rates.items()},
    }
    print("| build | passages/s (median) |\n|---|---|")
    for kind, rate in result["passages_per_s"].items():  # type: ignore[attr-defined]
        print(f"| {kind} | {rate} |")
    print(f"Ray start-up: {result['ray_start_s']} s; {cores()} cores")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
