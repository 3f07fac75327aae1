"""One measurement in a fresh process: `python -m benchmarks.probe TASK ARGS_JSON`.

Each task prints one JSON object. A fresh process per measurement keeps peak memory (the
kernel's high-water mark) and caches of one measurement out of the next.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # each task imports what it measures, when it runs
    from retrieval.answer.combine import Combiner


def rss_mib() -> float:
    """Resident memory now."""
    return _status_mib("VmRSS:")


def peak_mib() -> float:
    """The highest resident memory since the process started, or since `reset_peak`."""
    return _status_mib("VmHWM:")


def reset_peak() -> None:
    """Start the peak over from the memory resident now (Linux: clear_refs 5)."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
        handle.write("5")


def _status_mib(key: str) -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return 0.0


def percentiles(ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


def _encoder(backend: str, cache_dir: str | None) -> Any:
    from retrieval.encode.load import load_encoder

    return load_encoder(
        "all-MiniLM-L6-v2",
        backend=backend,  # type: ignore[arg-type]
        cache_dir=Path(cache_dir) if cache_dir else None,
    )


def task_index(args: dict[str, Any]) -> dict[str, Any]:
    """Build an index of an articles folder from scratch with a real encoder: passages/s."""
    from benchmarks.corpus import Recorder
    from retrieval.build.reindex import build_index
    from retrieval.types import DEFAULT_RECIPE

    started = time.perf_counter()
    encoder = _encoder(args["backend"], args.get("cache_dir"))
    load_s = time.perf_counter() - started
    recorder = Recorder(encoder) if args.get("record") else None
    model_mib = rss_mib()
    started = time.perf_counter()
    report = build_index(
        Path(args["articles"]),
        Path(args["index"]),
        recorder or encoder,
        passage_vectors=args.get("passage_vectors", DEFAULT_RECIPE),
    )
    seconds = time.perf_counter() - started
    if recorder is not None:
        from benchmarks.corpus import eval_questions

        keys = list(recorder.table)
        np.save(args["record"] + ".npy", np.stack([recorder.table[k] for k in keys]))
        Path(args["record"] + ".json").write_text(json.dumps(keys), encoding="utf-8")
        asked = eval_questions(Path(args["eval_dir"]))[::3]
        np.save(
            args["record"] + ".questions.npy", np.stack([encoder.encode_query(q) for q in asked])
        )
    passages = report.stats.passages
    return {
        "backend": args["backend"],
        "model": report.stats.model,
        "articles": report.stats.articles,
        "passages": passages,
        "seconds": round(seconds, 2),
        "passages_per_s": round(passages / seconds, 1),
        "load_s": round(load_s, 2),
        "model_mib": round(model_mib, 1),
        "peak_mib": round(peak_mib(), 1),
        "bytes_per_passage": round((peak_mib() - model_mib) * 2**20 / max(passages, 1)),
    }


def load_table(path: str) -> dict[str, Any]:
    keys = json.loads(Path(path + ".json").read_text(encoding="utf-8"))
    vectors = np.load(path + ".npy")
    return dict(zip(keys, vectors, strict=True))


def task_grow(args: dict[str, Any]) -> dict[str, Any]:
    """Write an index of copies of the evaluation articles with replayed embeddings."""
    from benchmarks.corpus import eval_records
    from benchmarks.grow import write_grown_index

    started = time.perf_counter()
    manifest = write_grown_index(
        Path(args["index"]),
        eval_records(Path(args["eval_dir"])),
        int(args["passages"]),
        load_table(args["table"]),
        model=args["model"],
    )
    return {
        "passages": manifest.passages,
        "sentences": manifest.sentences,
        "articles": manifest.articles,
        "dense": manifest.dense,
        "seconds": round(time.perf_counter() - started, 1),
    }


def task_replay_build(args: dict[str, Any]) -> dict[str, Any]:
    """Index an articles folder with replayed embeddings (the real builder, no model)."""
    from benchmarks.corpus import ReplayEncoder
    from retrieval.build.reindex import build_index

    table = load_table(args["table"])
    encoder = ReplayEncoder(table, args["model"], len(next(iter(table.values()))), 0.05)
    started = time.perf_counter()
    report = build_index(Path(args["articles"]), Path(args["index"]), encoder)
    seconds = time.perf_counter() - started
    return {
        "articles": report.stats.articles,
        "passages": report.stats.passages,
        "seconds": round(seconds, 1),
        "passages_per_s": round(report.stats.passages / seconds, 1),
    }


def task_reindex(args: dict[str, Any]) -> dict[str, Any]:
    """Reindex a folder whose index is up to date: loading, hashing, comparing."""
    from retrieval.build.reindex import build_index
    from retrieval.encode.fake import FakeEncoder

    class Named(FakeEncoder):
        # Nothing changed, so nothing is embedded: only the recorded identity is read.
        name = args["model"]

        @property
        def dimension(self) -> int:
            return int(args["dimension"])

    before = rss_mib()
    started = time.perf_counter()
    report = build_index(Path(args["articles"]), Path(args["index"]), Named())
    seconds = time.perf_counter() - started
    if report.added or report.changed or report.removed or report.embedded_passages:
        # Also when the index was laid out by another citebot (an older keyword index, or
        # passage vectors made another way): this encoder must never write a vector.
        raise AssertionError(f"the index was not up to date with the corpus: {report}")
    return {
        "articles": report.stats.articles,
        "passages": report.stats.passages,
        "seconds": round(seconds, 3),
        "bytes_per_passage": round((peak_mib() - before) * 2**20 / report.stats.passages),
    }


def with_stops(combiner: Combiner, stops: str) -> Combiner:
    """The combiner with the early stops of `stops`: "shipped" keeps them; "first" always reads
    the first sentence (as before the signals could cite it unread); "all" reads every
    shortlisted sentence (as before the combiner could stop early)."""
    if stops == "shipped":
        return combiner
    if stops == "first":
        return replace(combiner, signals=None)
    if stops == "all":
        return replace(combiner, signals=None, sure=None)
    raise ValueError(f"stops must be shipped, first or all, not {stops!r}")


def task_ask(args: dict[str, Any]) -> dict[str, Any]:
    """Ask questions in process: encode, search, choose the snippet; latency and memory."""
    from benchmarks.corpus import eval_questions
    from retrieval.answer.choose import answer_question
    from retrieval.engine import clean_question
    from retrieval.index import dense
    from retrieval.index.version import IndexVersion, Manifest, current_version

    encoder = _encoder(args["backend"], args.get("cache_dir"))
    reader = None
    if args.get("reader"):
        from retrieval.answer.reader import load_reader

        reader = load_reader()
        if reader.combiner is not None:
            reader.combiner = with_stops(reader.combiner, args.get("stops", "shipped"))
    questions = eval_questions(Path(args["eval_dir"]))
    rng = np.random.default_rng(1)
    picked = [questions[i] for i in rng.choice(len(questions), int(args["questions"]))]
    texts = [clean_question(q) for q in picked]
    # Every question embedded first: the model's own buffers, grown to the longest question,
    # are the model's memory; what the index adds is measured from this peak on.
    encode = percentiles(_times(lambda t: encoder.encode_query(t), texts))
    # np.percentile's first call imports numpy.ma (1.2 MB): the benchmark's cost, not the
    # index's, so it is paid here, before the index's memory is measured.
    # Loading the model peaks above what it holds after; the index's share is what the peak
    # grows by from the memory resident once the model has answered every question.
    reset_peak()
    model_mib = rss_mib()
    folder = current_version(Path(args["index"]))
    manifest = Manifest.read(folder / "manifest.json")
    warm_page_cache(folder)
    # The baseline embeds with torch into an index recorded under another backend's name.
    version = IndexVersion.open(folder, model=manifest.model, dimension=manifest.dimension)
    if args.get("exact"):
        version.passages = dense.exact(version.passage_vectors.mapped())
    for text in texts[:10]:
        answer_question(version, encoder, text, reader=reader)
    # Several passes over the questions; each figure is the median of the passes' figures, so
    # one burst of another process on the shared machine moves one pass, not the result.
    passes = [
        percentiles(_times(lambda t: answer_question(version, encoder, t, reader=reader), texts))
        for _ in range(int(args.get("passes", 3)))
    ]
    query = encoder.encode_query(texts[0])
    search_ms = _times(lambda t: version.passages.search(query, 50), texts)
    out = {
        "backend": args["backend"],
        "dense": version.passages.kind,
        "passages": manifest.passages,
        **{key: statistics.median(p[key] for p in passes) for key in passes[0]},
        "p95_ms_passes": [p["p95_ms"] for p in passes],
        "encode_p50_ms": encode["p50_ms"],
        "search_p50_ms": percentiles(search_ms)["p50_ms"],
        "model_mib": round(model_mib, 1),
        "peak_mib": round(peak_mib(), 1),
        "bytes_per_passage": round((peak_mib() - model_mib) * 2**20 / manifest.passages),
    }
    version.close()
    return out


def warm_page_cache(folder: Path) -> None:
    """Read the version's files once, as a server that has answered for a while has them in
    the kernel's cache; a question after a cold boot reads from disk instead (at 100k passages
    the first pass over 300 questions had a p95 of 65 ms, the second 15)."""
    for path in folder.iterdir():
        with open(path, "rb") as handle:
            while handle.read(1 << 20):
                pass


def _times(call: Callable[[str], object], texts: list[str]) -> list[float]:
    out = []
    for text in texts:
        started = time.perf_counter()
        call(text)
        out.append((time.perf_counter() - started) * 1000)
    return out


def task_recall(args: dict[str, Any]) -> dict[str, Any]:
    """IVF against exact search on spread-out vectors: recall@10 and search latency."""
    from benchmarks.corpus import mixture_vectors
    from retrieval.index import dense

    table = load_table(args["table"])
    base = np.stack(list(table.values()))
    queries = np.load(args["queries"])[: int(args["questions"])]
    vectors = mixture_vectors(base, int(args["n"]))
    started = time.perf_counter()
    ivf = dense.build(vectors, ivf_threshold=1)
    build_s = time.perf_counter() - started
    # Both search on one thread per call (index/faiss.py), as a question does.
    exact = dense.exact(vectors)
    recalls = []
    ivf_ms: list[float] = []
    exact_ms: list[float] = []
    for query in queries:
        started = time.perf_counter()
        want, _ = exact.search(query, 10)
        exact_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        got, _ = ivf.search(query, 10)
        ivf_ms.append((time.perf_counter() - started) * 1000)
        recalls.append(len(set(want.tolist()) & set(got.tolist())) / 10)
    return {
        "n": len(vectors),
        "recall_at_10": round(statistics.fmean(recalls), 4),
        "ivf_build_s": round(build_s, 1),
        "ivf": percentiles(ivf_ms),
        "exact": percentiles(exact_ms),
    }


TASKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "index": task_index,
    "grow": task_grow,
    "replay_build": task_replay_build,
    "reindex": task_reindex,
    "ask": task_ask,
    "recall": task_recall,
}


def main() -> int:
    task, raw = sys.argv[1], sys.argv[2]
    result = TASKS[task](json.loads(raw))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
