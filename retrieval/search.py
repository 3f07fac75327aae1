"""Passage search: dense (FAISS), keyword (SQLite FTS5 BM25), and their fusion.

Hybrid fuses the two rankings with reciprocal rank fusion (Cormack et al., 2009): a passage's
score is the sum of 1 / (RRF_K + rank) over the rankings it appears in, which needs no score
calibration between a cosine and a BM25 value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.encoder import Vectors
from retrieval.index import IndexVersion
from retrieval.types import Hit, Mode

RRF_K = 60


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
    query: Vectors | None,
    mode: Mode,
    depth: int,
) -> list[Ranked]:
    """Passages for `question`, best first; `query` is its embedding (unused by bm25 mode)."""
    dense: list[tuple[int, float]] = []
    keyword: list[tuple[int, float]] = []
    if mode in ("dense", "hybrid") and query is not None:
        ids, scores = version.passages.search(query, depth)
        dense = list(zip(ids.tolist(), scores.tolist(), strict=True))
    if mode in ("bm25", "hybrid"):
        keyword = version.store.keyword_passages(question, depth)
    if mode == "dense":
        return [Ranked(i, s, s, None) for i, s in dense]
    if mode == "bm25":
        return [Ranked(i, s, None, s) for i, s in keyword]

    fused: dict[int, float] = {}
    for ranking in (dense, keyword):
        for rank, (pid, _) in enumerate(ranking):
            fused[pid] = fused.get(pid, 0.0) + 1.0 / (RRF_K + rank + 1)
    cosines = dict(dense)
    bm25 = dict(keyword)
    # A keyword-only passage still gets its true cosine, so answer scoring can compare all.
    missing = [pid for pid in fused if pid not in cosines]
    if missing and query is not None:
        rows = np.asarray(version.passage_vectors[np.asarray(missing)])
        for pid, cos in zip(missing, (rows @ query).tolist(), strict=True):
            cosines[pid] = float(cos)
    order = sorted(fused, key=lambda pid: (-fused[pid], pid))
    return [Ranked(pid, fused[pid], cosines.get(pid), bm25.get(pid)) for pid in order[:depth]]


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
