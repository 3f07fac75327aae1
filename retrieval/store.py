"""The SQLite file: articles, passages, sentences, and FTS5 tables for keyword search.

Passage and sentence ids are dense (0..n-1): each is the row of its vector in the version's
`.npy` files, so the dense index needs no id map. Keyword scores are FTS5's bm25(), computed
from postings the builder lays out beside the FTS5 tables (`keyword.py` says why); a store
written before those existed is scored by FTS5 itself, with the same results, only slower.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.keyword import NOWHERE, Field, Postings, read_postings
from retrieval.types import Article

TOKENIZE = "porter unicode61 remove_diacritics 2"
# FTS5 table of each keyword field, and the weight of a hit in each of its columns.
_FIELDS = {
    "passages": ("passages_fts", {"title": 2, "body": 1}),
    "sentences": ("sentences_fts", {"body": 1}),
}

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
CREATE TABLE keyword_postings (
    field TEXT NOT NULL,
    term TEXT NOT NULL,
    rows BLOB NOT NULL,
    counts BLOB NOT NULL,
    PRIMARY KEY (field, term)
);
CREATE TABLE keyword_lengths (field TEXT PRIMARY KEY, lengths BLOB NOT NULL);
"""

# Words too common to help a keyword search; dropping them keeps an OR query selective.
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "being",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "may",
        "me",
        "might",
        "my",
        "not",
        "of",
        "on",
        "or",
        "our",
        "she",
        "should",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)
_WORD = re.compile(r"\w+", re.UNICODE)


def keyword_terms(text: str) -> list[str]:
    """The words of a question worth matching, lower-cased, de-duplicated, in order."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word not in _STOPWORDS and word not in seen:
            seen[word] = None
    return list(seen)


def fts_query(text: str) -> str | None:
    """An FTS5 MATCH expression OR-ing the question's terms, each quoted so nothing is syntax."""
    terms = keyword_terms(text)
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


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
    """One SQLite file. Thread-safe: a lock serialises use of the single connection."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        self._lock = threading.Lock()
        self._fields: dict[str, Field] = {}
        self._tokenizer_ready = False
        self._has_postings = bool(
            connection.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'keyword_postings'"
            ).fetchone()
        )

    @classmethod
    def create(cls, path: Path) -> Store:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
        db.executescript(_SCHEMA)
        return cls(db)

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open read-only; raises sqlite3.DatabaseError when the file is not a citebot store."""
        uri = path.resolve().as_uri() + "?mode=ro"
        db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        try:
            db.execute("SELECT count(*) FROM articles").fetchone()
            db.execute("SELECT count(*) FROM passages_fts").fetchone()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return cls(db)

    def close(self) -> None:
        with self._lock:
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
        """Lay out each field's postings from FTS5's own index (after every row is in)."""
        for field, (table, weights) in _FIELDS.items():
            (rows,) = self._db.execute(f"SELECT count(*) FROM {table}").fetchone()
            vocab = f"temp.{field}_instances"
            self._db.execute(
                f"CREATE VIRTUAL TABLE {vocab} USING fts5vocab(main, {table}, instance)"
            )
            instances = self._db.execute(f"SELECT term, doc, col FROM {vocab}")
            postings, lengths = read_postings(instances, weights, int(rows))
            self._db.executemany(
                "INSERT INTO keyword_postings VALUES (?, ?, ?, ?)",
                ((field, term, *found.to_bytes()) for term, found in postings),
            )
            self._db.execute(
                "INSERT INTO keyword_lengths VALUES (?, ?)",
                (field, lengths.astype("<i4").tobytes()),
            )
            self._db.execute(f"DROP TABLE {vocab}")

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

    def sentences_between(self, first: int, last: int) -> list[SentenceRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, article_id, ordinal, start_char, end_char FROM sentences"
                " WHERE id BETWEEN ? AND ? ORDER BY id",
                (first, last),
            ).fetchall()
        return [SentenceRow(*r) for r in rows]

    def keyword_passages(self, question: str, limit: int) -> list[tuple[int, float]]:
        """Passage ids by BM25, best first, with a score where higher is better."""
        terms = keyword_terms(question)
        if not terms:
            return []
        with self._lock:
            phrases = self._phrases("passages", terms)
            if phrases is None:
                match = fts_query(question)
                rows = self._db.execute(
                    # bm25() is lower-is-better; weight titles above bodies.
                    "SELECT rowid, -bm25(passages_fts, 2.0, 1.0) AS s FROM passages_fts"
                    " WHERE passages_fts MATCH ? ORDER BY bm25(passages_fts, 2.0, 1.0) LIMIT ?",
                    (match, limit),
                ).fetchall()
                return [(int(r[0]), float(r[1])) for r in rows]
            field = self._field("passages")
        if not phrases:
            return []
        ids, scores = field.top(phrases, limit)
        return list(zip(ids.tolist(), scores.tolist(), strict=True))

    def keyword_sentences(self, question: str, ids: Sequence[int]) -> dict[int, float]:
        """BM25 scores (higher is better) of the given sentences that match the question."""
        terms = keyword_terms(question)
        if not terms or not ids:
            return {}
        with self._lock:
            phrases = self._phrases("sentences", terms)
            if phrases is None:
                marks = ",".join("?" * len(ids))
                rows = self._db.execute(
                    "SELECT rowid, -bm25(sentences_fts) FROM sentences_fts"
                    f" WHERE sentences_fts MATCH ? AND rowid IN ({marks})",
                    [fts_query(question), *ids],
                ).fetchall()
                return {int(r[0]): float(r[1]) for r in rows}
            field = self._field("sentences")
        return field.some(phrases, ids) if phrases else {}

    # --- keyword postings (callers hold the lock) ---

    def _phrases(self, field: str, terms: list[str]) -> list[Postings] | None:
        """Each term's postings, in the question's order, as FTS5 would match the quoted term.

        None when this store has no postings, or when a term is several tokens to FTS5 (a
        phrase, rare with `keyword_terms`): FTS5 then scores the question itself.
        """
        if not self._has_postings:
            return None
        tokens = self._tokens(terms)
        if any(len(t) > 1 for t in tokens):
            return None
        # A term that FTS5 reads as no token at all matches nothing and adds nothing.
        single = [t[0] for t in tokens if t]
        marks = ",".join("?" * len(single))
        found = {
            term: Postings.from_bytes(rows, counts)
            for term, rows, counts in self._db.execute(
                "SELECT term, rows, counts FROM keyword_postings"
                f" WHERE field = ? AND term IN ({marks})",
                [field, *single],
            )
        }
        return [found.get(t, NOWHERE) for t in single]

    def _tokens(self, terms: list[str]) -> list[tuple[str, ...]]:
        """FTS5's tokens for each term, from a temporary table with the index's tokenizer."""
        if not self._tokenizer_ready:
            self._db.execute(
                f"CREATE VIRTUAL TABLE temp.citebot_terms USING fts5(body, tokenize = '{TOKENIZE}')"
            )
            self._db.execute(
                "CREATE VIRTUAL TABLE temp.citebot_term_tokens"
                " USING fts5vocab(temp, citebot_terms, instance)"
            )
            self._tokenizer_ready = True
        self._db.executemany(
            "INSERT INTO temp.citebot_terms (rowid, body) VALUES (?, ?)", enumerate(terms)
        )
        out: list[list[str]] = [[] for _ in terms]
        for doc, term in self._db.execute(
            "SELECT doc, term FROM temp.citebot_term_tokens ORDER BY doc, offset"
        ):
            out[doc].append(term)
        self._db.execute("DELETE FROM temp.citebot_terms")
        return [tuple(t) for t in out]

    def _field(self, field: str) -> Field:
        stats = self._fields.get(field)
        if stats is None:
            (blob,) = self._db.execute(
                "SELECT lengths FROM keyword_lengths WHERE field = ?", (field,)
            ).fetchone()
            stats = self._fields[field] = Field(np.frombuffer(blob, dtype="<i4"))
        return stats
