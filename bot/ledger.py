"""The ledger: the questions the bot answered, the votes on its answers, and the report on both.

One SQLite file beside the index (`ledger.sqlite3` in the index folder), outside its versions, so
a reindex or a repair never touches it. It keeps, for `retention_days`: each question's text, when
and in which channel it was asked, the article its answer cited (none: it abstained), and the
votes. Users appear only as salted hashes (HMAC-SHA256 with a random key made when the file is
created and kept in it): enough to keep one vote per user per answer, not to name anyone.

One connection serves every call, one at a time (a lock), so worker threads may call at once;
call them with asyncio.to_thread from the bot. Other processes (`citebot report`) read beside
it: the file is in WAL mode.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from retrieval import Answer, Turn

FILENAME = "ledger.sqlite3"
DEFAULT_RETENTION_DAYS = 30
Vote = Literal["up", "down"]
# What a vote did: a first vote, a changed one, the same again, or none (the answer is gone).
Voted = Literal["recorded", "changed", "kept", "gone"]
_VOTE_VALUE: dict[Vote, int] = {"up": 1, "down": -1}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY,
    asked_at REAL NOT NULL,
    channel_id INTEGER,
    channel_name TEXT,
    -- the thread a conversation runs in: its answers are the next question's history
    conversation_id INTEGER,
    asker TEXT NOT NULL,
    question TEXT NOT NULL,
    article_id TEXT
);
CREATE INDEX IF NOT EXISTS answers_by_conversation ON answers (conversation_id, id);
CREATE INDEX IF NOT EXISTS answers_by_time ON answers (asked_at);
CREATE TABLE IF NOT EXISTS votes (
    answer_id INTEGER NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
    voter TEXT NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    voted_at REAL NOT NULL,
    PRIMARY KEY (answer_id, voter)
);
"""


@dataclass(frozen=True, slots=True)
class Where:
    """Where a question was asked: the channel (or thread) and, in a thread, the conversation."""

    channel_id: int | None = None
    channel_name: str | None = None
    conversation_id: int | None = None


@dataclass(frozen=True, slots=True)
class ArticleVotes:
    article_id: str | None  # None: votes on abstentions
    up: int
    down: int


@dataclass(frozen=True, slots=True)
class Unanswered:
    question: str
    asked_at: float  # Unix time
    channel_id: int | None
    channel_name: str | None


@dataclass(frozen=True, slots=True)
class Report:
    """What the ledger holds now: the last `retention_days` at most."""

    retention_days: int
    asked: int
    answered: int
    abstained: int
    votes: tuple[ArticleVotes, ...]  # most votes first
    unanswered: tuple[Unanswered, ...]  # latest first
    cited: tuple[tuple[str, int], ...]  # (article id, times cited), most cited first


class Ledger:
    """The ledger file at `path`; `clock` gives Unix time (tests move it)."""

    def __init__(
        self,
        path: Path,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if retention_days < 1:
            raise ValueError(f"a retention of {retention_days} days keeps nothing; use 1 or more")
        self.path = path
        self.retention_days = retention_days
        self.clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=10.0, check_same_thread=False)
        try:
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA journal_mode = WAL")  # the report reads while the bot writes
            # In WAL mode a crash loses at most the last commits, never the file's consistency.
            self._db.execute("PRAGMA synchronous = NORMAL")
            with self._connect() as db:
                db.executescript(_SCHEMA)
                db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('salt', ?)",
                    (secrets.token_hex(32),),
                )
            self._salt = bytes.fromhex(self._meta("salt"))
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def beside(cls, index_dir: Path, *, retention_days: int = DEFAULT_RETENTION_DAYS) -> Ledger:
        """The ledger of the index in `index_dir`."""
        return cls(index_dir / FILENAME, retention_days=retention_days)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._db:  # one transaction: committed, or rolled back on an error
            yield self._db

    def _meta(self, key: str) -> str:
        with self._connect() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0])

    def pseudonym(self, user_id: int) -> str:
        """The salted hash that stands for a user in the file."""
        return hmac.new(self._salt, str(user_id).encode(), hashlib.sha256).hexdigest()

    def _prune(self, db: sqlite3.Connection) -> None:
        cutoff = self.clock() - self.retention_days * 86400
        db.execute("DELETE FROM answers WHERE asked_at < ?", (cutoff,))  # votes go with them

    def prune(self) -> None:
        """Forget what is older than the retention period."""
        with self._connect() as db:
            self._prune(db)

    def record(self, answer: Answer, user_id: int, where: Where) -> int:
        """Keep an answer the bot gave; returns its id, which its vote buttons carry."""
        cited = answer.citation
        with self._connect() as db:
            self._prune(db)
            cursor = db.execute(
                "INSERT INTO answers (asked_at, channel_id, channel_name, conversation_id, asker,"
                " question, article_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    self.clock(),
                    where.channel_id,
                    where.channel_name,
                    where.conversation_id,
                    self.pseudonym(user_id),
                    answer.question,
                    None if cited is None else cited.source.article_id,
                ),
            )
        return int(cursor.lastrowid or 0)

    def history(self, conversation_id: int, *, limit: int = 10) -> list[Turn]:
        """The questions answered in a conversation (a thread), oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT question, article_id FROM answers WHERE conversation_id = ?"
                " ORDER BY id DESC LIMIT ?",
                (conversation_id, limit),
            ).fetchall()
        return [Turn(question, article_id) for question, article_id in reversed(rows)]

    def vote(self, answer_id: int, user_id: int, vote: Vote) -> Voted:
        """Set `user_id`'s vote on an answer, replacing any earlier one."""
        voter = self.pseudonym(user_id)
        with self._connect() as db:
            self._prune(db)
            if db.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone() is None:
                return "gone"
            row = db.execute(
                "SELECT vote FROM votes WHERE answer_id = ? AND voter = ?", (answer_id, voter)
            ).fetchone()
            db.execute(
                "INSERT INTO votes (answer_id, voter, vote, voted_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (answer_id, voter) DO UPDATE SET vote = excluded.vote,"
                " voted_at = excluded.voted_at",
                (answer_id, voter, _VOTE_VALUE[vote], self.clock()),
            )
        if row is None:
            return "recorded"
        return "kept" if row[0] == _VOTE_VALUE[vote] else "changed"

    def answered_in(self, conversation_id: int) -> bool:
        """Whether the bot answered in this conversation (thread) within the retention."""
        with self._connect() as db:
            row = db.execute(
                "SELECT 1 FROM answers WHERE conversation_id = ? LIMIT 1", (conversation_id,)
            ).fetchone()
        return row is not None

    def report(self, *, latest: int = 10, top: int = 10) -> Report:
        with self._connect() as db:
            self._prune(db)
            asked, abstained = db.execute(
                "SELECT COUNT(*), COUNT(*) - COUNT(article_id) FROM answers"
            ).fetchone()
            votes = db.execute(
                "SELECT a.article_id, SUM(v.vote = 1), SUM(v.vote = -1) FROM votes v"
                " JOIN answers a ON a.id = v.answer_id GROUP BY a.article_id"
                " ORDER BY COUNT(*) DESC, a.article_id LIMIT ?",
                (top,),
            ).fetchall()
            unanswered = db.execute(
                "SELECT question, asked_at, channel_id, channel_name FROM answers"
                " WHERE article_id IS NULL ORDER BY asked_at DESC, id DESC LIMIT ?",
                (latest,),
            ).fetchall()
            cited = db.execute(
                "SELECT article_id, COUNT(*) FROM answers WHERE article_id IS NOT NULL"
                " GROUP BY article_id ORDER BY COUNT(*) DESC, article_id LIMIT ?",
                (top,),
            ).fetchall()
        return Report(
            retention_days=self.retention_days,
            asked=asked,
            answered=asked - abstained,
            abstained=abstained,
            votes=tuple(ArticleVotes(a, int(up), int(down)) for a, up, down in votes),
            unanswered=tuple(Unanswered(*row) for row in unanswered),
            cited=tuple((a, int(n)) for a, n in cited),
        )
