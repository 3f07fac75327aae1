"""Passage search: dense (FAISS), keyword (SQLite FTS5 BM25), and their fusion.

Hybrid fuses the two rankings with reciprocal rank fusion (Cormack et al., 2009): a passage's
score is the sum of 1 / (RRF_K + rank) over the rankings it appears in, which needs no score
calibration between a cosine and a BM25 value.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np

from retrieval.encode.encoder import Encoder
from retrieval.index.version import IndexVersion
from retrieval.types import Hit, Mode, Vectors

RRF_K = 60
# From this many passages, a question's keyword search runs while it is embedded. Below, it
# takes a fraction of the embedding, and the two only contend for the cores; the extra thread's
# memory arena also costs memory on a small index (docs/performance.md).
OVERLAP_FROM = 250_000
# Keyword searches of questions being embedded; more than one, for questions asked at once.
_KEYWORD_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="citebot-keyword")


@dataclass(frozen=True, slots=True)
class Ranked:
    """A passage in a fused ranking, with what each retriever said of it."""

    passage_id: int
    score: float
    cosine: float | None
    bm25: float | None


def rank_passages(
    version: IndexVersion,
    question: str,
    encoder: Encoder | None,
    mode: Mode,
    depth: int,
) -> tuple[Vectors | None, list[Ranked]]:
    """The question's embedding (None in bm25 mode) and its passages, best first.

    In hybrid mode over a large index, the keyword search, which needs no embedding, runs in
    another thread while the question is embedded: ONNX Runtime lets go of the GIL, so on two
    cores the two overlap (at 1M passages the keyword search takes ~3 times as long).
    """
    if mode != "bm25" and encoder is None:
        raise ValueError(f"mode {mode!r} needs an encoder")
    keyword_search = None
    if mode == "hybrid" and len(version.passage_vectors) >= OVERLAP_FROM:
        keyword_search = _KEYWORD_THREADS.submit(version.store.keyword_passages, question, depth)
    query = None
    dense: list[tuple[int, float]] = []
    try:
        if encoder is not None and mode != "bm25":
            query = encoder.encode_query(question)
            ids, scores = version.passages.search(query, depth)
            dense = list(zip(ids.tolist(), scores.tolist(), strict=True))
    finally:
        if keyword_search is not None:  # never left running past the caller's use of version
            wait([keyword_search])
    keyword: list[tuple[int, float]] = []
    if keyword_search is not None:
        keyword = keyword_search.result()
    elif mode != "dense":
        keyword = version.store.keyword_passages(question, depth)
    if mode == "dense":
        return query, [Ranked(i, s, s, None) for i, s in dense]
    if mode == "bm25":
        return query, [Ranked(i, s, None, s) for i, s in keyword]

    fused: dict[int, float] = {}
    for ranking in (dense, keyword):
        for rank, (pid, _) in enumerate(ranking):
            fused[pid] = fused.get(pid, 0.0) + 1.0 / (RRF_K + rank + 1)
    cosines = dict(dense)
    bm25 = dict(keyword)
    order = sorted(fused, key=lambda pid: (-fused[pid], pid))[:depth]
    # A keyword-only passage still gets its true cosine, so answer scoring can compare all.
    # Only those kept are read: a vector read is one disk read per passage.
    missing = [pid for pid in order if pid not in cosines]
    if missing and query is not None:
        rows = np.asarray(version.passage_vectors[np.asarray(missing)])
        for pid, cos in zip(missing, (rows @ query).tolist(), strict=True):
            cosines[pid] = float(cos)
    ranked = [Ranked(pid, fused[pid], cosines.get(pid), bm25.get(pid)) for pid in order]
    return query, ranked


def hits(version: IndexVersion, ranked: list[Ranked], k: int) -> list[Hit]:
    """The first k ranked passages as typed hits."""
    rows = version.store.passages([r.passage_id for r in ranked[:k]])
    return [
        Hit(
            r.passage_id,
            rows[r.passage_id].article_id,
            rows[r.passage_id].start,
            rows[r.passage_id].end,
            r.score,
        )
        for r in ranked[:k]
        if r.passage_id in rows
    ]
