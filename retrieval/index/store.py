"""The SQLite file: articles, passages, sentences, and FTS5 tables for keyword search.

Passage and sentence ids are dense (0..n-1): each is the row of its vector in the version's
`.npy` files, so the dense index needs no id map. Keyword scores are FTS5's bm25(), computed
from a keyword index the builder lays out beside the FTS5 tables (`bm25.py` says why,
`postings.py` how).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from retrieval.index.postings import (
    SCHEMA as POSTINGS_SCHEMA,
)
from retrieval.index.postings import (
    TOKENIZE,
    KeywordReader,
    postings_path,
    write_keyword_index,
)
from retrieval.index.terms import fts_query, keyword_terms
from retrieval.types import Article

_SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    url TEXT,
    published TEXT,
    source TEXT,
    path TEXT NOT NULL,
    other_paths TEXT NOT NULL,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL
);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id),
    ordinal INTEGER NOT NULL,
    start_char INTEGER NOT NULL,
    end_char INTEGER NOT NULL,
    first_sentence INTEGER NOT NULL,
    last_sentence INTEGER NOT NULL
);
CREATE INDEX passages_article ON passages(article_id);
CREATE TABLE sentences (
    id INTEGER PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id),
    ordinal INTEGER NOT NULL,
    start_char INTEGER NOT NULL,
    end_char INTEGER NOT NULL
);
CREATE INDEX sentences_article ON sentences(article_id);
CREATE VIRTUAL TABLE passages_fts USING fts5(title, body, tokenize = '{TOKENIZE}');
CREATE VIRTUAL TABLE sentences_fts USING fts5(body, tokenize = '{TOKENIZE}');
"""


@dataclass(frozen=True, slots=True)
class PassageRow:
    id: int
    article_id: str
    start: int
    end: int
    first_sentence: int
    last_sentence: int


@dataclass(frozen=True, slots=True)
class SentenceRow:
    id: int
    article_id: str
    ordinal: int
    start: int
    end: int


class Store:
    """One SQLite file, and its keyword postings file beside it (postings.py).
    Thread-safe: a lock serialises use of the single connection."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self._lock = threading.Lock()
        self._postings = postings_path(path)
        self._keywords = KeywordReader(connection, self._postings)

    @classmethod
    def create(cls, path: Path) -> Store:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
        db.executescript(_SCHEMA + POSTINGS_SCHEMA)
        return cls(db, path)

    @classmethod
    def open(cls, path: Path, *, postings: bool = True) -> Store:
        """Open read-only; raises sqlite3.DatabaseError when the file is not a citebot store,
        IndexUnavailable when its postings file is missing or cut short (checked only when
        `postings`: a build reusing the store's rows reads no postings)."""
        uri = path.resolve().as_uri() + "?mode=ro"
        db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        try:
            db.execute("SELECT count(*) FROM articles").fetchone()
            db.execute("SELECT count(*) FROM passages_fts").fetchone()
            store = cls(db, path)
        except sqlite3.DatabaseError:
            db.close()
            raise
        if not postings:
            return store
        try:
            store._keywords.open_postings()
        except BaseException:
            db.close()
            raise
        return store

    def close(self) -> None:
        with self._lock:
            self._keywords.close()
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- writing (used by the builder only, inside `transaction`) ---

    def set_meta(self, values: dict[str, str]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())

    def add_article(self, article: Article) -> None:
        self._db.execute(
            "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                article.id,
                article.title,
                article.url,
                article.published,
                article.source,
                article.path,
                json.dumps(list(article.other_paths)),
                article.text,
                article.content_hash,
            ),
        )

    def add_sentences(self, rows: Iterable[SentenceRow], texts: Sequence[str]) -> None:
        rows = list(rows)
        self._db.executemany(
            "INSERT INTO sentences VALUES (?, ?, ?, ?, ?)",
            [(r.id, r.article_id, r.ordinal, r.start, r.end) for r in rows],
        )
        self._db.executemany(
            "INSERT INTO sentences_fts (rowid, body) VALUES (?, ?)",
            [(r.id, t) for r, t in zip(rows, texts, strict=True)],
        )

    def add_passages(self, rows: Iterable[PassageRow], title: str, texts: Sequence[str]) -> None:
        rows = list(rows)
        self._db.executemany(
            "INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (r.id, r.article_id, i, r.start, r.end, r.first_sentence, r.last_sentence)
                for i, r in enumerate(rows)
            ],
        )
        self._db.executemany(
            "INSERT INTO passages_fts (rowid, title, body) VALUES (?, ?, ?)",
            [(r.id, title, t) for r, t in zip(rows, texts, strict=True)],
        )

    def write_keyword_index(self) -> None:
        """Lay out the keyword index from FTS5's own (after every row is in)."""
        write_keyword_index(self._db, self._postings)

    # --- reading ---

    def meta(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def counts(self) -> tuple[int, int, int]:
        """Articles, passages, sentences."""
        with self._lock:
            row = self._db.execute(
                "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM passages),"
                " (SELECT count(*) FROM sentences)"
            ).fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def article_hashes(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT id, content_hash FROM articles").fetchall())

    def articles(self, ids: Sequence[str] | None = None) -> list[Article]:
        """Articles by id (in the order asked), or all of them sorted by title."""
        sql = (
            "SELECT id, title, url, published, source, path, other_paths, text, content_hash"
            " FROM articles"
        )
        with self._lock:
            if ids is None:
                rows = self._db.execute(sql + " ORDER BY title COLLATE NOCASE, id").fetchall()
            else:
                marks = ",".join("?" * len(ids))
                found = {
                    r[0]: r for r in self._db.execute(sql + f" WHERE id IN ({marks})", list(ids))
                }
                rows = [found[i] for i in ids if i in found]
        return [
            Article(
                id=r[0],
                title=r[1],
                url=r[2],
                published=r[3],
                source=r[4],
                path=r[5],
                other_paths=tuple(json.loads(r[6])),
                text=r[7],
                content_hash=r[8],
            )
            for r in rows
        ]

    def matching_ids(self, *, url: str | None = None, text: str | None = None) -> list[str]:
        """Ids of the articles with this url, or with exactly this text (a scan: adding an
        article is rare, and an index on every text would double the file)."""
        with self._lock:
            return [
                r[0]
                for r in self._db.execute(
                    "SELECT id FROM articles WHERE url = ? OR text = ? ORDER BY id", (url, text)
                ).fetchall()
            ]

    def passages(self, ids: Sequence[int]) -> dict[int, PassageRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                "SELECT id, article_id, start_char, end_char, first_sentence, last_sentence"
                f" FROM passages WHERE id IN ({marks})",
                list(ids),
            ).fetchall()
        return {r[0]: PassageRow(*r) for r in rows}

    def passages_of_article(self, article_id: str) -> list[PassageRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, article_id, start_char, end_char, first_sentence, last_sentence"
                " FROM passages WHERE article_id = ? ORDER BY id",
                (article_id,),
            ).fetchall()
        return [PassageRow(*r) for r in rows]

    def sentences_of_article(self, article_id: str) -> list[SentenceRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, article_id, ordinal, start_char, end_char FROM sentences"
                " WHERE article_id = ? ORDER BY id",
                (article_id,),
            ).fetchall()
        return [SentenceRow(*r) for r in rows]

    def sentences(self, ids: Sequence[int]) -> dict[int, SentenceRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                "SELECT id, article_id, ordinal, start_char, end_char FROM sentences"
                f" WHERE id IN ({marks})",
                list(ids),
            ).fetchall()
        return {r[0]: SentenceRow(*r) for r in rows}

    def keyword_passages(self, question: str, limit: int) -> list[tuple[int, float]]:
        """Passage ids by BM25, best first, with a score where higher is better."""
        terms = keyword_terms(question)
        if not terms:
            return []
        with self._lock:
            found = self._keywords.passages(terms, limit)
            if found is not None:
                return found
            rows = self._db.execute(
                # bm25() is lower-is-better; weight titles above bodies.
                "SELECT rowid, -bm25(passages_fts, 2.0, 1.0) AS s FROM passages_fts"
                " WHERE passages_fts MATCH ? ORDER BY bm25(passages_fts, 2.0, 1.0) LIMIT ?",
                (fts_query(question), limit),
            ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def keyword_sentences(self, question: str, texts: Mapping[int, str]) -> dict[int, float]:
        """BM25 scores (higher is better) of the given sentences (id to text) that match the
        question."""
        terms = keyword_terms(question)
        if not terms or not texts:
            return {}
        with self._lock:
            found = self._keywords.sentences(terms, texts)
            if found is not None:
                return found
            marks = ",".join("?" * len(texts))
            rows = self._db.execute(
                "SELECT rowid, -bm25(sentences_fts) FROM sentences_fts"
                f" WHERE sentences_fts MATCH ? AND rowid IN ({marks})",
                [fts_query(question), *texts],
            ).fetchall()
        return {int(r[0]): float(r[1]) for r in rows}
