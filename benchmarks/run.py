"""`make bench`: citebot's performance figures beside the baseline, from one run.

    python -m benchmarks.run [--quick] [--work DIR] [--fresh] [--json FILE]

The baseline is the reference path: sentence-transformers on torch, exact search over every
vector. Each figure is measured in a fresh process (`benchmarks.probe`), baseline and citebot
alternating, and the median of the repeats is printed. Grown corpora are kept in the work folder
(default `.benchmarks/`) and reused by later runs; `--fresh` rebuilds them. docs/performance.md
says what each figure measures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.corpus import EVAL_DIR, SETS, copies, eval_records, write_markdown
from benchmarks.table import BASELINE, POOLED, READER, READER_SIZE, render
from retrieval.encode.load import DEFAULT_BACKEND
from retrieval.errors import IndexUnavailable
from retrieval.index.version import MANIFEST, Manifest, current_version
from retrieval.types import DEFAULT_RECIPE

REPO = Path(__file__).resolve().parent.parent
SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}
REINDEX_ARTICLES = 10_000
STARTUP_QUESTION = "When is Lee visiting Japan?"
STARTUP = """
import sys
from pathlib import Path
from retrieval import Engine
from retrieval.answer.choose import answer_question
from retrieval.encode.load import load_encoder
from retrieval.index.version import IndexVersion, Manifest, current_version
index_dir, backend, question = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
encoder = load_encoder("all-MiniLM-L6-v2", backend=backend)
folder = current_version(index_dir)
manifest = Manifest.read(folder / "manifest.json")
if manifest.model == encoder.name:
    engine = Engine(index_dir, index_dir, encoder)
    if not engine.load():
        raise SystemExit(engine.unavailable_reason)
    engine.ask(question)
else:  # the baseline, torch, into an index recorded under the int8 name: the same work
    version = IndexVersion.open(folder, model=manifest.model, dimension=manifest.dimension)
    answer_question(version, encoder, question)
print("ready", "torch" in sys.modules, flush=True)
"""


def probe(task: str, **args: Any) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and return what it printed."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.probe", task, json.dumps(args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"benchmark task {task} failed:\n{result.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    log(f"  {task}: {json.dumps(out)}")
    return out


def up_to_date(index_dir: Path) -> bool:
    """Whether a benchmark's index exists, laid out as this citebot builds one: of this index
    format, with passage vectors made the default way."""
    if not (index_dir / "CURRENT").is_file():
        return False
    try:
        manifest = Manifest.read(current_version(index_dir) / MANIFEST)
    except IndexUnavailable:  # another format: rebuilt
        return False
    return manifest.passage_vectors == DEFAULT_RECIPE


def grown_index(
    work: Path, label: str, size: int, backend: str, eval_dir: Path, table: str, model: str
) -> tuple[Path, dict[str, Any] | None]:
    """The index of `size` passages grown from the evaluation articles' recorded embeddings
    (`table`), kept in `work`; grown again unless it is up to date, with the figures of that."""
    index_dir = work / f"grown-{label}-{backend}"
    if up_to_date(index_dir):
        return index_dir, None
    shutil.rmtree(index_dir, ignore_errors=True)
    log(f"growing a {label}-passage index (once; kept in {work})")
    figures = probe(
        "grow",
        index=str(index_dir),
        eval_dir=str(eval_dir),
        passages=size,
        table=table,
        model=model,
    )
    return index_dir, figures


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def startup_seconds(index_dir: Path, backend: str) -> tuple[float, bool]:
    """From starting the interpreter to the first answer: build the engine, load, ask once."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", STARTUP, str(index_dir), backend, STARTUP_QUESTION],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    seconds = time.perf_counter() - started
    _, stderr = process.communicate()
    if not line.startswith("ready"):
        raise SystemExit(f"start-up probe failed:\n{stderr[-3000:]}")
    return seconds, line.split()[1] == "True"


def prepare_eval_articles(work: Path, eval_dir: Path) -> Path:
    folder = work / "eval-articles"
    if not folder.is_dir():
        folder.mkdir(parents=True)
        for name in SETS:
            shutil.copy(eval_dir / name / "articles.jsonl", folder / f"{name}.jsonl")
    return folder


def mean_tokens(texts: list[str]) -> float:
    from tokenizers import Tokenizer

    from retrieval.encode.load import bundled_model_path

    tokenizer = Tokenizer.from_file(str(bundled_model_path() / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return statistics.fmean(len(e.ids) for e in tokenizer.encode_batch(texts))


def passage_texts(index_dir: Path) -> list[str]:
    from retrieval.build.pooling import embedding_text
    from retrieval.index.version import IndexVersion, Manifest, current_version

    folder = current_version(index_dir)
    manifest = Manifest.read(folder / "manifest.json")
    version = IndexVersion.open(folder, model=manifest.model, dimension=manifest.dimension)
    try:
        articles = {a.id: a for a in version.store.articles()}
        rows = version.store.passages(list(range(manifest.passages)))
        return [
            embedding_text(
                articles[r.article_id].title, articles[r.article_id].text[r.start : r.end]
            )
            for r in rows.values()
        ]
    finally:
        version.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no 1M corpus")
    parser.add_argument("--work", type=Path, default=REPO / ".benchmarks")
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--fresh", action="store_true", help="rebuild the grown corpora")
    parser.add_argument("--backend", default=DEFAULT_BACKEND, help="citebot's encoder backend")
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    parser.add_argument(
        "--cache-dir", type=Path, help="ONNX export cache (default ~/.cache/citebot)"
    )
    args = parser.parse_args(argv)
    quick: bool = args.quick
    backend: str = args.backend
    work: Path = args.work
    if args.fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    eval_dir: Path = args.eval_dir
    repeats = 1 if quick else 3
    questions = 100 if quick else 300
    sizes = {k: v for k, v in SIZES.items() if not (quick and v > 100_000)}
    cache = str(args.cache_dir) if args.cache_dir else None
    results: dict[str, Any] = {"backend": backend, "quick": quick, "started": time.ctime()}

    # --- indexing: the evaluation articles, from files to a built index ---
    articles = prepare_eval_articles(work, eval_dir)
    table = str(work / f"table-{backend}")
    # (label, encoder backend, passage vectors): the baseline is citebot before issue 5, with
    # every passage embedded whole; then citebot's default; then its faster option.
    variants = (
        (BASELINE, BASELINE, "embedded"),
        (backend, backend, DEFAULT_RECIPE),
        (POOLED, backend, "pooled"),
    )
    indexing: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in variants}
    for repeat in range(repeats):
        for label, name, recipe in variants:
            index_dir = work / f"index-eval-{label}"
            shutil.rmtree(index_dir, ignore_errors=True)
            log(f"indexing the evaluation articles with {label} ({repeat + 1}/{repeats})")
            record = table if label == backend and repeat == 0 else None
            indexing[label].append(
                probe(
                    "index",
                    backend=name,
                    passage_vectors=recipe,
                    articles=str(articles),
                    index=str(index_dir),
                    record=record,
                    eval_dir=str(eval_dir),
                    cache_dir=cache,
                )
            )
    results["indexing"] = indexing
    results["passage_tokens"] = round(mean_tokens(passage_texts(work / f"index-eval-{backend}")), 1)
    model = indexing[backend][0]["model"]

    # --- answering at 10k, 100k, 1M passages ---
    asking: dict[str, dict[str, Any]] = {}
    for label, size in sizes.items():
        index_dir, growing = grown_index(work, label, size, backend, eval_dir, table, model)
        if growing is not None:
            asking.setdefault(label, {})["grow"] = growing
        for name, exact in ((BASELINE, True), (backend, False)):
            log(f"asking {questions} questions at {label} passages with {name}")
            asking.setdefault(label, {})[name] = probe(
                "ask",
                backend=name,
                index=str(index_dir),
                exact=exact,
                questions=questions,
                passes=1 if quick else 3,
                eval_dir=str(eval_dir),
                cache_dir=cache,
            )
        if label == READER_SIZE:
            log(f"asking {questions} questions at {label} passages with {backend} and the reader")
            asking[label][READER] = probe(
                "ask",
                backend=backend,
                index=str(index_dir),
                exact=False,
                reader=True,
                questions=questions,
                passes=1 if quick else 3,
                eval_dir=str(eval_dir),
                cache_dir=cache,
            )
    results["ask"] = asking

    # --- IVF recall on spread-out vectors ---
    recall_n = max(v for v in sizes.values())
    log(f"IVF recall@10 on {recall_n} synthetic vectors")
    results["recall"] = probe(
        "recall", table=table, queries=table + ".questions.npy", n=recall_n, questions=questions
    )

    # --- start-up to the first answer ---
    label = "1M" if "1M" in sizes else "100k"
    index_dir = work / f"grown-{label}-{backend}"
    startup: dict[str, list[float]] = {BASELINE: [], backend: []}
    torch_loaded = False
    for _ in range(3 if quick else 5):
        for name in (BASELINE, backend):
            seconds, loaded_torch = startup_seconds(index_dir, name)
            startup[name].append(round(seconds, 3))
            if name == backend:
                torch_loaded |= loaded_torch
    results["startup"] = {"index": label, "runs": startup, "torch_imported": torch_loaded}

    # --- reindex of an unchanged 10k-article corpus ---
    reindex_articles = 2_000 if quick else REINDEX_ARTICLES
    corpus = work / f"articles-{reindex_articles}"
    index_dir = work / f"index-{reindex_articles}-{backend}"
    if not up_to_date(index_dir):
        shutil.rmtree(corpus, ignore_errors=True)
        shutil.rmtree(index_dir, ignore_errors=True)
        log(f"writing {reindex_articles} article files and indexing them (once)")
        write_markdown(corpus, copies(eval_records(eval_dir), reindex_articles))
        results["replay_build"] = probe(
            "replay_build", articles=str(corpus), index=str(index_dir), table=table, model=model
        )
    dimension = 384
    results["reindex"] = [
        probe(
            "reindex", articles=str(corpus), index=str(index_dir), model=model, dimension=dimension
        )
        for _ in range(repeats)
    ]

    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(render(results, backend))
    return 0


if __name__ == "__main__":
    sys.exit(main())
