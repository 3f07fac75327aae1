"""What the reader costs a question: ask p50 at 100k passages with and without it, one run.

    python -m benchmarks.reader_latency [--work DIR] [--repeats 3] [--questions 200]

The issue's target is a ratio: ask p50 with the reader at most 3 times today's (the same
citebot, `CITEBOT_READER=off`), both measured in this run on this machine. It reuses the
corpus `benchmarks.run` grows (the evaluation articles copied to 100k passages, with replayed
embeddings) and builds it first when missing. Each measurement runs in a fresh process
(`benchmarks.probe ask`), without and with the reader alternating, and the medians of the
repeats are printed with the CPU they ran on.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks.corpus import EVAL_DIR
from benchmarks.run import (
    REPO,
    SIZES,
    grown_index,
    log,
    prepare_eval_articles,
    probe,
    up_to_date,
)
from retrieval.encode.load import DEFAULT_BACKEND
from retrieval.index.version import MANIFEST, Manifest, current_version

SIZE = "100k"


def cpu_name() -> str:
    """The CPU's model name and whether it has AVX-512 VNNI (int8 runs twice as fast on it)."""
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return platform.processor() or "unknown"
    name = next((ln.split(":", 1)[1].strip() for ln in info.splitlines() if "model name" in ln), "")
    flags = next((ln for ln in info.splitlines() if ln.startswith("flags")), "")
    simd = "AVX-512 VNNI" if "avx512_vnni" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{name or platform.machine()} ({simd})"


def grown_100k(work: Path, eval_dir: Path, backend: str) -> Path:
    """The 100k-passage index `benchmarks.run` uses, grown here if it is missing."""
    if up_to_date(work / f"grown-{SIZE}-{backend}"):
        return work / f"grown-{SIZE}-{backend}"
    table = str(work / f"table-{backend}")
    if not Path(table + ".npy").is_file():
        log("indexing the evaluation articles once, to record their embeddings")
        probe(
            "index",
            backend=backend,
            articles=str(prepare_eval_articles(work, eval_dir)),
            index=str(work / f"index-eval-{backend}"),
            record=table,
            eval_dir=str(eval_dir),
        )
    manifest = Manifest.read(current_version(work / f"index-eval-{backend}") / MANIFEST)
    model = manifest.model
    return grown_index(work, SIZE, SIZES[SIZE], backend, eval_dir, table, model)[0]


def table(runs: dict[str, list[dict[str, Any]]], cpu: str) -> str:
    """The Markdown table of the runs' medians; the first configuration is the baseline of the
    ratios (citebot without the reader)."""
    p50 = {label: statistics.median(r["p50_ms"] for r in rs) for label, rs in runs.items()}
    p95 = {label: statistics.median(r["p95_ms"] for r in rs) for label, rs in runs.items()}
    base = next(iter(runs))
    repeats = len(runs[base])
    lines = [
        f"CPU: {cpu}; {runs[base][0]['passages']:,} passages; medians of {repeats} runs",
        "| ask at 100k | p50 ms | p95 ms | each run's p50 | p50 ratio |",
        "|---|---|---|---|---|",
    ]
    for label, rs in runs.items():
        each = " / ".join(f"{r['p50_ms']:.1f}" for r in rs)
        ratio = p50[label] / p50[base]
        lines.append(f"| {label} | {p50[label]:.1f} | {p95[label]:.1f} | {each} | {ratio:.2f}× |")
    lines.append("target: the shipped reader's p50 ratio at most 3×")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.reader_latency", description=__doc__
    )
    parser.add_argument("--work", type=Path, default=REPO / ".benchmarks")
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--backend", default=DEFAULT_BACKEND)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    index_dir = grown_100k(args.work, args.eval_dir, args.backend)

    variants = {
        "without the reader": {"reader": False},
        "with the reader, every shortlisted sentence read": {"reader": True, "stops": "all"},
        "with the reader, the first always read (a sure one stops it)": {
            "reader": True,
            "stops": "first",
        },
        "with the reader (as shipped: a sure first sentence is cited unread)": {"reader": True},
    }
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in variants}
    for repeat in range(args.repeats):
        for label, options in variants.items():
            log(f"asking {args.questions} questions at {SIZE}, {label} ({repeat + 1})")
            runs[label].append(
                probe(
                    "ask",
                    backend=args.backend,
                    index=str(index_dir),
                    exact=False,
                    questions=args.questions,
                    passes=1,
                    eval_dir=str(args.eval_dir),
                    **options,
                )
            )
    print(table(runs, cpu_name()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
