"""Keyword scores from the postings equal FTS5's own bm25(), row for row."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval import IndexUnavailable
from retrieval.index import bm25 as keyword
from retrieval.index.bm25 import Counts, Field
from retrieval.index.postings import postings_path
from retrieval.index.store import PassageRow, SentenceRow, Store
from retrieval.types import Article

WORDS = [
    "president",
    "visits",
    "visiting",
    "visited",
    "Japan",
    "Japan's",
    "China",
    "Beijing",
    "trade",
    "deal",
    "talks",
    "rain",
    "floods",
    "Valencia",
    "rescued",
    "people",
    "cars",
    "officials",
    "factory",
    "Arizona",
    "workers",
    "2027",
    "Zürich",
    "naïve",
    "café",
    "minister",
    "Takaichi",
    "selfies",
    "Xiaomi",
    "phone",
    "storm",
    "river",
    "bridge",
    "closed",
]


def fill(store: Store, seed: int = 0) -> None:
    """Articles of random sentences; passages of three sentences, each with its title."""
    rng = random.Random(seed)
    with store.transaction():
        for a in range(40):
            sentences = [
                " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 14))) + "."
                for _ in range(rng.randint(1, 9))
            ]
            text = " ".join(sentences)
            title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 4)))
            article = Article(id=f"a{a}", title=title, text=text, path=f"a{a}.txt")
            store.add_article(article)
            spans, at = [], 0
            for sentence in sentences:
                spans.append((at, at + len(sentence)))
                at += len(sentence) + 1
            s_rows = [
                SentenceRow(_next(store, "sentences") + i, article.id, i, s, e)
                for i, (s, e) in enumerate(spans)
            ]
            store.add_sentences(s_rows, [text[s:e] for s, e in spans])
            p_rows = []
            base = _next(store, "passages")
            for i in range(0, len(spans), 2):
                window = spans[i : i + 3]
                p_rows.append(
                    PassageRow(
                        base + len(p_rows),
                        article.id,
                        window[0][0],
                        window[-1][1],
                        s_rows[i].id,
                        s_rows[i + len(window) - 1].id,
                    )
                )
            store.add_passages(p_rows, title, [text[p.start : p.end] for p in p_rows])
        store.write_keyword_index()


def _next(store: Store, table: str) -> int:
    (n,) = store._db.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(n)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    path = tmp_path_factory.mktemp("keyword") / "s.sqlite"
    writer = Store.create(path)
    fill(writer)
    writer.close()
    return Store.open(path)


QUESTIONS = [
    "When is the president visiting Japan?",
    "Who rescued people from the floods in Valencia?",
    "How many workers will the factory in Arizona hire by 2027?",
    "What phone did the minister use for selfies?",
    "Japan's trade deal",
    "cafe in Zurich",  # folded diacritics
    "naive",
    "visit visits visiting",  # three words, one stem: three phrases, as FTS5 counts them
    "snow",  # in no row
    "the of and",  # no keyword terms at all
]


def fts_passages(store: Store, question: str, limit: int) -> list[tuple[int, float]]:
    from retrieval.index.terms import fts_query

    match = fts_query(question)
    if match is None:
        return []
    rows = store._db.execute(
        "SELECT rowid, -bm25(passages_fts, 2.0, 1.0) FROM passages_fts"
        " WHERE passages_fts MATCH ? ORDER BY bm25(passages_fts, 2.0, 1.0), rowid LIMIT ?",
        (match, limit),
    ).fetchall()
    return [(int(r), float(s)) for r, s in rows]


@pytest.mark.parametrize("question", QUESTIONS)
def test_passage_ranking_equals_fts5_bm25(store: Store, question: str) -> None:
    for limit in (1, 5, 50):
        ours = store.keyword_passages(question, limit)
        theirs = fts_passages(store, question, limit)
        assert [i for i, _ in ours] == [i for i, _ in theirs]
        assert [s for _, s in ours] == pytest.approx([s for _, s in theirs], rel=1e-12)


@pytest.mark.parametrize("question", QUESTIONS)
def test_sentence_scores_equal_fts5_bm25(store: Store, question: str) -> None:
    from retrieval.index.terms import fts_query

    ids = list(range(0, 200, 3))
    ours = store.keyword_sentences(question, sentence_texts(store, ids))
    match = fts_query(question)
    theirs = (
        {
            int(r): float(s)
            for r, s in store._db.execute(
                "SELECT rowid, -bm25(sentences_fts) FROM sentences_fts WHERE sentences_fts"
                f" MATCH ? AND rowid IN ({','.join('?' * len(ids))})",
                [match, *ids],
            )
        }
        if match
        else {}
    )
    assert ours.keys() == theirs.keys()
    for key, score in theirs.items():
        assert ours[key] == pytest.approx(score, rel=1e-12)


def written(path: Path, *changes: str) -> Path:
    """A store filled by `fill` at `path`, then changed by the SQL statements `changes`."""
    writer = Store.create(path)
    fill(writer)
    for sql in changes:
        writer._db.execute(sql)
    writer.close()
    return path


def test_a_postings_file_of_another_size_than_recorded_is_refused(tmp_path: Path) -> None:
    path = written(tmp_path / "s.sqlite")
    postings = postings_path(path)
    postings.write_bytes(postings.read_bytes() + b"\0" * 8)
    with pytest.raises(IndexUnavailable, match=r"hold [\d,]+ bytes, not the [\d,]+ written"):
        Store.open(path)
    database = sqlite3.connect(path)
    database.execute("DELETE FROM keyword_totals WHERE field = 'postings file'")
    database.commit()
    database.close()
    with pytest.raises(IndexUnavailable, match="not a size recorded; rebuild the index"):
        Store.open(path)


def test_sentence_lengths_are_fts5s_own_at_every_size(tmp_path: Path) -> None:
    # FTS5 records a row's length as a varint: one byte below 128 tokens, more above.
    sizes = [0, 1, 127, 128, 300, 16_383, 16_384, 40_000]
    text = " ".join(f"word{i % 50}" for i in range(max(sizes)))
    spans = [(0, len(" ".join(text.split()[:n]))) for n in sizes]
    store = Store.create(tmp_path / "s.sqlite")
    with store.transaction():
        store.add_article(Article(id="a", title="long", text=text, path="a.txt"))
        rows = [SentenceRow(i, "a", i, s, e) for i, (s, e) in enumerate(spans)]
        store.add_sentences(rows, [text[s:e] for s, e in spans])
    lengths = store._keywords._sentence_lengths(list(range(len(sizes))))
    assert lengths == dict(enumerate(sizes))
    store.close()


def test_a_sentence_without_a_recorded_length_is_refused(tmp_path: Path) -> None:
    unrecorded = "DELETE FROM sentences_fts_docsize WHERE id = 0"
    damaged = Store.open(written(tmp_path / "s.sqlite", unrecorded))
    texts = sentence_texts(damaged, [0, 1])
    with pytest.raises(
        IndexUnavailable, match="no length for some sentences; rebuild the index in full"
    ):
        damaged.keyword_sentences(" ".join(texts.values()), texts)
    damaged.close()


def test_the_limit_cuts_through_tied_copies_in_row_order(tmp_path: Path) -> None:
    # Thirty copies of one article score alike: the top 5 must be the first five, as FTS5
    # sorts equal scores, even though the selection only looks at the best postings.
    store = Store.create(tmp_path / "copies.sqlite")
    with store.transaction():
        for a in range(30):
            text = "Floods in Valencia. The bridge closed." if a % 3 else "Rain in Zürich."
            store.add_article(Article(id=f"c{a}", title="storm", text=text, path=f"c{a}.txt"))
            store.add_sentences([SentenceRow(a, f"c{a}", 0, 0, len(text))], [text])
            store.add_passages([PassageRow(a, f"c{a}", 0, len(text), a, a)], "storm", [text])
        store.write_keyword_index()
    for question in ("floods in Valencia", "bridge storm", "rain storm"):
        for limit in (1, 5, 12):
            ours = store.keyword_passages(question, limit)
            assert ours == fts_passages(store, question, limit)
            assert len(ours) == limit
    store.close()


def sentence_texts(store: Store, ids: list[int]) -> dict[int, str]:
    """The sentences' texts, as answer code cuts them from their articles."""
    found = store.sentences(ids)
    articles = {a.id: a for a in store.articles(sorted({s.article_id for s in found.values()}))}
    return {i: articles[s.article_id].text[s.start : s.end] for i, s in found.items()}


@pytest.mark.parametrize("scan_ratio", [0, 10**9], ids=["from postings", "from a scan"])
def test_top_rows_equal_a_full_sort(monkeypatch: pytest.MonkeyPatch, scan_ratio: int) -> None:
    # Both ways of picking the best rows, on random fields with many ties (few distinct
    # lengths and counts), a phrase repeated, and phrases from one row to most of them.
    monkeypatch.setattr(keyword, "_SCAN_RATIO", scan_ratio)
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(1, 400))
        field = Field(rng.integers(1, 4, size=n).astype(np.int32))
        phrases = []
        for _ in range(int(rng.integers(1, 5))):
            size = int(rng.integers(0, n + 1))
            rows = np.sort(rng.choice(n, size=size, replace=False)).astype(np.int32)
            counts = rng.integers(1, 3, size=size).astype(np.uint16)
            phrases.append(field.postings(Counts(rows, counts)))
        phrases.append(phrases[0])
        total = np.zeros(n)
        for p in phrases:
            total[p.rows] += p.impacts
        held = np.flatnonzero(total)
        expected = sorted(held.tolist(), key=lambda r: (-total[r], r))
        for limit in (1, 5, 50):
            ids, scores = field.top(phrases, limit)
            assert ids.tolist() == expected[:limit]
            assert scores.tolist() == pytest.approx([total[r] for r in expected[:limit]])


def test_picking_rows_never_imports_numpy_ma() -> None:
    # np.unique's first call imports numpy.ma, 1.2 MB a serving process would hold for nothing;
    # both ways of picking rows, with rows held by several phrases, must get by without it.
    code = """
import sys
import numpy as np
from retrieval.index import bm25 as keyword
from retrieval.index.bm25 import Counts, Field
field = Field(np.full(1000, 5, dtype=np.int32))
common = field.postings(Counts(np.arange(0, 1000, 2, dtype=np.int32), np.ones(500, np.uint16)))
rare = field.postings(Counts(np.arange(0, 300, 3, dtype=np.int32), np.ones(100, np.uint16)))
for ratio in (0, 10**9):
    keyword._SCAN_RATIO = ratio
    ids, _ = field.top([common, rare], 50)
    assert ids.tolist() == list(range(0, 300, 6))[:50], ids
assert "numpy.ma" not in sys.modules
"""
    subprocess.run([sys.executable, "-c", code], check=True)
