"""The keyword index laid out beside FTS5's tables: written once per version, read per question.

Passages: for each term, its postings (the rows holding it and what it adds to their scores,
see bm25.py), and each row's length. The postings lie in a flat file beside the database
(`citebot.postings`), each term's rows then impacts, located by `keyword_postings`; a question
reads its terms' with one `preadv` each, straight into arrays (SQLite blobs, whose pages are
chained 4 KB at a time, were several times slower). Sentences: only how many rows hold each
term, and the field's totals. A question scores a few dozen candidate sentences, so their term
counts are read from the candidates' own text, cut into tokens by FTS5 with the index's
tokenizer, cheaper than reading whole sentence postings. docs/performance.md has the timings.

Everything here runs on a store's connection while the store's lock is held.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from retrieval.errors import IndexUnavailable
from retrieval.index.bm25 import (
    IMPACT,
    NOWHERE,
    ROW,
    Counts,
    Field,
    Postings,
    read_postings,
    sentence_scores,
)

TOKENIZE = "porter unicode61 remove_diacritics 2"
# The weight of a hit in each column of passages_fts: a title hit counts 2.
PASSAGE_WEIGHTS = {"title": 2, "body": 1}

SCHEMA = """
CREATE TABLE keyword_postings (
    field TEXT NOT NULL,
    term TEXT NOT NULL,
    start INTEGER NOT NULL,  -- byte offset in the postings file
    count INTEGER NOT NULL,  -- rows holding the term: 4 bytes each, then 8 per impact
    PRIMARY KEY (field, term)
);
CREATE TABLE keyword_lengths (field TEXT PRIMARY KEY, lengths BLOB NOT NULL);
CREATE TABLE keyword_terms (
    field TEXT NOT NULL,
    term TEXT NOT NULL,
    rows INTEGER NOT NULL,
    PRIMARY KEY (field, term)
);
CREATE TABLE keyword_totals (
    field TEXT PRIMARY KEY,
    rows INTEGER NOT NULL,
    tokens INTEGER NOT NULL
);
"""

# Question words whose FTS5 tokens a reader remembers; past this, it forgets them all at once.
_TOKEN_MEMORY = 10_000
# The postings file's size is kept as the "tokens" of this keyword_totals row.
_POSTINGS_TOTAL = "postings file"


def postings_path(database: Path) -> Path:
    """The postings file of the store at `database`."""
    return database.with_suffix(".postings")


def write_keyword_index(db: sqlite3.Connection, postings: Path) -> None:
    """Lay out the keyword index from FTS5's own (after every row is in); the postings go to
    the file `postings`, written and synced before this returns."""
    _write_passage_postings(db, postings)
    _write_sentence_terms(db)


def _write_passage_postings(db: sqlite3.Connection, path: Path) -> None:
    # Two passes: a term's impacts need every row's length, known only once FTS5's index has
    # been read to the end, so the counts wait in a temporary table meanwhile.
    (rows,) = db.execute("SELECT count(*) FROM passages_fts").fetchone()
    db.execute(
        "CREATE VIRTUAL TABLE temp.passage_instances USING fts5vocab(main, passages_fts, instance)"
    )
    db.execute("CREATE TEMP TABLE passage_counts (term TEXT, rows BLOB, counts BLOB)")
    instances = db.execute("SELECT term, doc, col FROM temp.passage_instances")
    counted, lengths = read_postings(instances, PASSAGE_WEIGHTS, int(rows))
    db.executemany(
        "INSERT INTO temp.passage_counts VALUES (?, ?, ?)",
        ((term, *found.to_bytes()) for term, found in counted),
    )
    field = Field(lengths)
    with open(path, "wb") as out:

        def located() -> Iterator[tuple[str, int, int]]:
            for term, rows, counts in db.execute(
                "SELECT term, rows, counts FROM temp.passage_counts"
            ):
                start = out.tell()
                for block in field.postings(Counts.from_bytes(rows, counts)).to_bytes():
                    out.write(block)
                yield term, start, len(rows) // ROW.itemsize

        db.executemany("INSERT INTO keyword_postings VALUES ('passages', ?, ?, ?)", located())
        size = out.tell()
        out.flush()
        os.fsync(out.fileno())
    db.execute("INSERT INTO keyword_totals VALUES (?, 0, ?)", (_POSTINGS_TOTAL, size))
    db.execute(
        "INSERT INTO keyword_lengths VALUES ('passages', ?)", (lengths.astype("<i4").tobytes(),)
    )
    db.execute("DROP TABLE temp.passage_counts")
    db.execute("DROP TABLE temp.passage_instances")


def _write_sentence_terms(db: sqlite3.Connection) -> None:
    # fts5vocab's 'row' table: each term with the rows holding it and its instances, counted by
    # FTS5 itself; all instances together are the field's tokens.
    db.execute("CREATE VIRTUAL TABLE temp.sentence_terms USING fts5vocab(main, sentences_fts, row)")
    db.execute("INSERT INTO keyword_terms SELECT 'sentences', term, doc FROM temp.sentence_terms")
    (rows,) = db.execute("SELECT count(*) FROM sentences_fts").fetchone()
    (tokens,) = db.execute("SELECT coalesce(sum(cnt), 0) FROM temp.sentence_terms").fetchone()
    db.execute("INSERT INTO keyword_totals VALUES ('sentences', ?, ?)", (rows, tokens))
    db.execute("DROP TABLE temp.sentence_terms")


class KeywordReader:
    """Keyword scores from the laid-out index; None where FTS5 must score instead (a term FTS5
    reads as several tokens, which only a phrase query matches)."""

    def __init__(self, db: sqlite3.Connection, postings: Path) -> None:
        self._db = db
        self._postings_path = postings
        self._postings: int | None = None  # its file descriptor, once opened
        self._field: Field | None = None
        self._sentence_totals: tuple[int, int] | None = None
        self._known_tokens: dict[str, tuple[str, ...]] = {}
        self._scratch_ready = False

    def open_postings(self) -> None:
        """Open the postings file, checking it has the size recorded when it was written;
        IndexUnavailable when it is missing or another size."""
        if self._postings is not None:
            return
        found = self._db.execute(
            "SELECT tokens FROM keyword_totals WHERE field = ?", (_POSTINGS_TOTAL,)
        ).fetchone()
        try:
            handle = os.open(self._postings_path, os.O_RDONLY)
        except OSError as exc:
            raise IndexUnavailable(
                f"The keyword postings {self._postings_path} cannot be read "
                f"({exc.strerror or exc}); rebuild the index with a reindex."
            ) from exc
        size = os.fstat(handle).st_size
        if found is None or size != found[0]:
            os.close(handle)
            written = f"the {found[0]:,} written" if found else "a size recorded"
            raise IndexUnavailable(
                f"The keyword postings {self._postings_path} hold {size:,} bytes, not "
                f"{written}; rebuild the index with a reindex."
            )
        self._postings = handle

    def close(self) -> None:
        if self._postings is not None:
            os.close(self._postings)
            self._postings = None

    def passages(self, terms: list[str], limit: int) -> list[tuple[int, float]] | None:
        """The `limit` best passages for the question's terms, best first."""
        single = self._single_tokens(terms)
        if single is None:
            return None
        if not single:
            return []
        marks = ",".join("?" * len(single))
        found = {
            term: self._read(start, count)
            for term, start, count in self._db.execute(
                "SELECT term, start, count FROM keyword_postings"
                f" WHERE field = 'passages' AND term IN ({marks})",
                single,
            )
        }
        ids, scores = self._passage_field().top([found.get(t, NOWHERE) for t in single], limit)
        return list(zip(ids.tolist(), scores.tolist(), strict=True))

    def _read(self, start: int, count: int) -> Postings:
        self.open_postings()
        assert self._postings is not None
        rows = np.empty(count, dtype=ROW)
        impacts = np.empty(count, dtype=IMPACT)
        wanted = rows.nbytes + impacts.nbytes
        if os.preadv(self._postings, [rows.data, impacts.data], start) != wanted:
            raise IndexUnavailable(
                f"The keyword postings {self._postings_path} were cut short while being "
                "read; rebuild the index with a reindex."
            )
        return Postings(rows, impacts)

    def sentences(self, terms: list[str], texts: Mapping[int, str]) -> dict[int, float] | None:
        """BM25 of the given sentences (id to text) that hold any of the terms."""
        single = self._single_tokens(terms)
        if single is None:
            return None
        if not single or not texts:
            return {}
        marks = ",".join("?" * len(single))
        holding = dict(
            self._db.execute(
                "SELECT term, rows FROM keyword_terms"
                f" WHERE field = 'sentences' AND term IN ({marks})",
                single,
            ).fetchall()
        )
        rows, tokens = self._totals()
        counts: dict[str, dict[int, int]] = {}
        with self._scratch(texts.items()):
            for term, doc, count in self._db.execute(
                "SELECT term, doc, count(*) FROM temp.citebot_tokens"
                f" WHERE term IN ({marks}) GROUP BY term, doc",
                single,
            ):
                counts.setdefault(term, {})[doc] = count
        matched = sorted({doc for found in counts.values() for doc in found})
        return sentence_scores(
            [(holding.get(t, 0), counts.get(t, {})) for t in single],
            self._sentence_lengths(matched),
            rows,
            tokens,
        )

    def _sentence_lengths(self, ids: list[int]) -> dict[int, int]:
        """Sentences' lengths in tokens, as FTS5 recorded them when they were indexed (the
        lengths its bm25() reads), not counted again from the candidates' tokens."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        found = {
            int(row): _varint(size)
            for row, size in self._db.execute(
                f"SELECT id, sz FROM sentences_fts_docsize WHERE id IN ({marks})", ids
            )
        }
        if len(found) != len(ids):
            # Damage inside the SQLite file, which its checksum finds; a plain reindex with
            # no article changed would keep the version as it is.
            raise IndexUnavailable(
                "The keyword index has no length for some sentences; rebuild the index in full "
                "(`citebot index --full`, or /reindex full:True)."
            )
        return found

    def _single_tokens(self, terms: list[str]) -> list[str] | None:
        """The question's terms as FTS5 tokens, or None when one is several (a phrase)."""
        tokens = self._tokens(terms)
        if any(len(t) > 1 for t in tokens):
            return None
        # A term that FTS5 reads as no token at all matches nothing and adds nothing.
        return [t[0] for t in tokens if t]

    def _tokens(self, terms: list[str]) -> list[tuple[str, ...]]:
        """FTS5's tokens for each term, from a temporary table with the index's tokenizer.

        Remembered per term (a fixed tokenizer gives a word the same tokens every time), which
        saves a round trip through the temporary table.
        """
        new = [t for t in dict.fromkeys(terms) if t not in self._known_tokens]
        if new:
            if len(self._known_tokens) + len(new) > _TOKEN_MEMORY:
                self._known_tokens.clear()
            self._known_tokens.update(zip(new, self._tokenize(new), strict=True))
        return [self._known_tokens[t] for t in terms]

    def _tokenize(self, terms: list[str]) -> list[tuple[str, ...]]:
        out: list[list[str]] = [[] for _ in terms]
        with self._scratch(enumerate(terms)):
            for doc, term in self._db.execute(
                "SELECT doc, term FROM temp.citebot_tokens ORDER BY doc, offset"
            ):
                out[doc].append(term)
        return [tuple(t) for t in out]

    @contextmanager
    def _scratch(self, texts: Iterable[tuple[int, str]]) -> Iterator[None]:
        """Texts (row, text) cut into tokens in a temporary FTS5 table with the index's
        tokenizer, readable as `temp.citebot_tokens` (term, doc, offset) until the block ends.

        The table keeps no text (contentless) and the texts go in as one transaction: row by
        row, FTS5 would flush its index at each insert.
        """
        if not self._scratch_ready:
            self._db.execute(
                "CREATE VIRTUAL TABLE temp.citebot_scratch USING"
                f" fts5(body, content = '', tokenize = '{TOKENIZE}')"
            )
            self._db.execute(
                "CREATE VIRTUAL TABLE temp.citebot_tokens"
                " USING fts5vocab(temp, citebot_scratch, instance)"
            )
            self._scratch_ready = True
        self._db.execute("BEGIN")
        try:
            self._db.executemany(
                "INSERT INTO temp.citebot_scratch (rowid, body) VALUES (?, ?)", texts
            )
            yield
        finally:
            self._db.execute(
                "INSERT INTO temp.citebot_scratch (citebot_scratch) VALUES ('delete-all')"
            )
            self._db.execute("COMMIT")

    def _passage_field(self) -> Field:
        if self._field is None:
            (blob,) = self._db.execute(
                "SELECT lengths FROM keyword_lengths WHERE field = 'passages'"
            ).fetchone()
            self._field = Field(np.frombuffer(blob, dtype="<i4"))
        return self._field

    def _totals(self) -> tuple[int, int]:
        if self._sentence_totals is None:
            rows, tokens = self._db.execute(
                "SELECT rows, tokens FROM keyword_totals WHERE field = 'sentences'"
            ).fetchone()
            self._sentence_totals = (int(rows), int(tokens))
        return self._sentence_totals


def _varint(blob: bytes) -> int:
    """The first number of an FTS5 size record: SQLite's varint, seven bits a byte, high first."""
    value = 0
    for byte in blob[:8]:
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value
    return (value << 8) | blob[8]
