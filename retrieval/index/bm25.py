"""Keyword scores equal to SQLite FTS5's bm25(), from postings laid out at build time.

FTS5's bm25() first counts, for every term of a question, each row that holds it (the IDF),
then scores every matching row by walking its position lists, so a question with common words
costs most of an answer's time on a large index (docs/performance.md). Here the
same numbers come from postings written once per index version: for each term, the rows that
hold it and what it adds to each one's score (its term of the sum below: it depends only on its
count in the row, the row's length, N and the average length, all fixed once a version is
built), and for each row its length in tokens. The postings are read from FTS5's
own index (fts5vocab), and a question is cut into tokens by FTS5 itself (a temporary table with
the same tokenizer), so stemming and case folding cannot drift from the keyword index.

The formula, as FTS5 computes it (fts5_aux.c), with k1 = 1.2 and b = 0.75:

    idf(t)   = max(log((N - n(t) + 0.5) / (n(t) + 0.5)), 1e-6)   N rows, n(t) rows holding t
    score(d) = sum over the question's terms t of
               idf(t) * f(t, d) * (k1 + 1) / (f(t, d) + k1 * (1 - b + b * |d| / avgdl))

where f(t, d) counts t's occurrences in d, each weighted by its column's weight (a title hit
counts 2 in `bm25(passages_fts, 2.0, 1.0)`), and |d| is d's length in tokens.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

K1 = 1.2
B = 0.75

Ids = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float64]


# How postings are stored: each row id in 4 bytes, each impact in 8, little-endian.
ROW = np.dtype("<i4")
IMPACT = np.dtype("<f8")


@dataclass(frozen=True, slots=True)
class Postings:
    """The rows holding one term, ascending, and what the term adds to each row's score."""

    rows: npt.NDArray[np.int32]
    impacts: npt.NDArray[np.float64]

    def to_bytes(self) -> tuple[bytes, bytes]:
        """The rows, then the impacts, as stored (ROW, IMPACT)."""
        return self.rows.astype(ROW).tobytes(), self.impacts.astype(IMPACT).tobytes()


NOWHERE = Postings(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float64))


@dataclass(frozen=True, slots=True)
class Counts:
    """The rows holding one term, ascending, and its weighted count in each (as read)."""

    rows: npt.NDArray[np.int32]
    counts: npt.NDArray[np.uint16]

    def to_bytes(self) -> tuple[bytes, bytes]:
        return self.rows.astype(ROW).tobytes(), self.counts.astype("<u2").tobytes()

    @classmethod
    def from_bytes(cls, rows: bytes, counts: bytes) -> Counts:
        return cls(np.frombuffer(rows, dtype=ROW), np.frombuffer(counts, dtype="<u2"))


class Field:
    """One FTS5 table's statistics: each row's length in tokens (rows are 0..N-1)."""

    def __init__(self, lengths: npt.NDArray[np.int32]) -> None:
        self.rows = len(lengths)
        avgdl = _avgdl(self.rows, int(lengths.sum(dtype=np.int64)))
        # Each row's length term, k1 * (1 - b + b * |d| / avgdl), in FTS5's order of
        # operations, so every score stays bit for bit FTS5's.
        self._norm: Scores = K1 * (1 - B + B * lengths.astype(np.float64) / avgdl)

    def idf(self, hits: int) -> float:
        return _idf(self.rows, hits)

    def postings(self, found: Counts) -> Postings:
        """A term's contribution to each row holding it, worked out once when building: N, the
        term's rows and every row's length are fixed for an index version."""
        counts = found.counts.astype(np.float64)
        idf = self.idf(len(found.rows))
        impacts: Scores = idf * ((counts * (K1 + 1.0)) / (counts + self._norm[found.rows]))
        return Postings(found.rows, impacts)

    def top(self, phrases: Sequence[Postings], limit: int) -> tuple[Ids, Scores]:
        """The `limit` best rows holding any phrase, best first; ties by row, as FTS5 sorts."""
        if self.rows == 0 or limit <= 0 or not phrases:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        # Summed over all N rows, phrase after phrase: the order FTS5 adds them in, so every
        # sum is FTS5's to the last bit. np.add.at beats one np.bincount over the concatenated
        # postings, and all N rows beat sorting the postings or MaxScore pruning on the grown
        # corpora, where even rare words hold thousands of rows (docs/performance.md).
        scores: Scores = np.zeros(self.rows, dtype=np.float64)
        for phrase in phrases:
            np.add.at(scores, phrase.rows, phrase.impacts)
        if sum(len(p.rows) for p in phrases) * _SCAN_RATIO > self.rows:
            held = _above_floor(phrases, scores, limit)
        else:
            rows = np.concatenate([p.rows for p in phrases])
            held = _best_postings(rows, scores, limit, len(phrases))
        return _best(held, scores[held], limit)


def sentence_scores(
    phrases: Sequence[tuple[int, Mapping[int, int]]],
    lengths: Mapping[int, int],
    rows: int,
    tokens: int,
) -> dict[int, float]:
    """FTS5's bm25() of a few rows, from what is known of them and of their field.

    `phrases` holds, for each phrase of the question in order, how many rows of the field hold
    it and its count in each given row that does; `lengths` maps each given row to its length
    in tokens; `rows` and `tokens` are the field's totals. Rows holding no phrase are left out.
    """
    avgdl = _avgdl(rows, tokens)
    out: dict[int, float] = {}
    for hits, counts in phrases:
        idf = _idf(rows, hits)
        for row, count in counts.items():
            norm = K1 * (1 - B + B * lengths[row] / avgdl)
            out[row] = out.get(row, 0.0) + idf * ((count * (K1 + 1.0)) / (count + norm))
    return out


def _idf(rows: int, hits: int) -> float:
    value = math.log((rows - hits + 0.5) / (hits + 0.5))
    return value if value > 0.0 else 1e-6


def _avgdl(rows: int, tokens: int) -> float:
    # As FTS5: all tokens of all columns over all rows, divided by the rows.
    return tokens / rows if rows else 1.0


# Picking the best rows from the postings costs about ten times as much a posting as a scan of all
# N scores costs a row, so the scan wins from one posting per ten rows (docs/performance.md).
_SCAN_RATIO = 10


def _best_postings(rows: Ids, scores: Scores, limit: int, phrases: int) -> Ids:
    """Rows that include the `limit` best, from the postings (`rows`, every phrase's).

    A row holds at most one posting per phrase, so the `limit * phrases` best postings name at
    least `limit` rows, and a row outside them scores below all of these.
    """
    totals = scores[rows]
    enough = limit * phrases
    if len(totals) > enough:
        cut = np.partition(totals, len(totals) - enough)[len(totals) - enough]
        rows = rows[totals >= cut]
    return _distinct(rows)


def _above_floor(phrases: Sequence[Postings], scores: Scores, limit: int) -> Ids:
    """Rows that include the `limit` best, from a scan of all N scores above a floor.

    The floor is the `limit`-th best score among the rows of the rarest phrases: the `limit`-th
    best of all rows is at least that, so every row of the answer, ties included, is above it.
    """
    rarest: list[npt.NDArray[np.int32]] = []
    some: Ids = np.zeros(0, dtype=np.int64)
    for phrase in sorted(phrases, key=lambda p: len(p.rows)):
        rarest.append(phrase.rows)
        if sum(len(r) for r in rarest) >= limit:
            some = _distinct(np.concatenate(rarest))
            if len(some) >= limit:
                break
    # Fewer rows hold any phrase than asked for: all of them (every phrase adds more than 0).
    floor = _kth(scores[some], limit) if len(some) >= limit else 0.0
    held: Ids = np.flatnonzero(scores > floor) if floor == 0.0 else np.flatnonzero(scores >= floor)
    return held


def _distinct(rows: npt.NDArray[np.integer]) -> Ids:
    """The distinct `rows`, ascending.

    Not np.unique: it is several times slower on numpy 2.4, and its first call imports numpy.ma,
    which a serving process would then hold for nothing.
    """
    ordered = np.sort(rows).astype(np.int64, copy=False)
    keep = np.ones(len(ordered), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    held: Ids = ordered[keep]
    return held


def _kth(scores: Scores, k: int) -> float:
    return float(-np.partition(-scores, k - 1)[k - 1])


def _best(rows: Ids, scores: Scores, limit: int) -> tuple[Ids, Scores]:
    """The `limit` best of ascending `rows`, best first, equal scores in row order."""
    if len(rows) > limit:
        # Keep all rows scoring at least the limit-th score, ties included, then sort.
        keep = np.flatnonzero(scores >= _kth(scores, limit))
        rows, scores = rows[keep], scores[keep]
    order = np.argsort(-scores, kind="stable")[:limit]
    return rows[order], scores[order]


def read_postings(
    instances: Iterable[tuple[str, int, str]], weights: Mapping[str, int], rows: int
) -> tuple[Iterator[tuple[str, Counts]], npt.NDArray[np.int32]]:
    """Postings per term from fts5vocab 'instance' rows (term, row, column), in their order.

    Returns the postings as an iterator and the rows' lengths, which are complete once the
    iterator is exhausted.
    """
    lengths = np.zeros(rows, dtype=np.int32)

    def walk() -> Iterator[tuple[str, Counts]]:
        term: str | None = None
        docs: list[int] = []
        counts: list[int] = []
        sizes: list[int] = []
        for token, doc, column in instances:
            if token != term:
                if term is not None:
                    yield term, _flush(docs, counts, sizes, lengths)
                term, docs, counts, sizes = token, [], [], []
            if not docs or docs[-1] != doc:
                docs.append(doc)
                counts.append(0)
                sizes.append(0)
            counts[-1] += weights[column]
            sizes[-1] += 1
        if term is not None:
            yield term, _flush(docs, counts, sizes, lengths)

    return walk(), lengths


def _flush(
    docs: list[int], counts: list[int], sizes: list[int], lengths: npt.NDArray[np.int32]
) -> Counts:
    rows = np.asarray(docs, dtype=np.int32)
    np.add.at(lengths, rows, np.asarray(sizes, dtype=np.int32))
    return Counts(rows, np.minimum(np.asarray(counts), np.iinfo(np.uint16).max).astype(np.uint16))
