"""Reliability of the library: a reindex over every kind of bad file keeps the good ones and
reports the rest; an index damaged on disk is refused at load with what to do, never crashing the
caller, and the next reindex repairs it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from retrieval import Engine, IndexUnavailable
from retrieval.build.reindex import build_index
from retrieval.encode.fake import FakeEncoder
from retrieval.index.postings import postings_path
from retrieval.index.version import (
    CURRENT,
    DATABASE,
    MANIFEST,
    PASSAGE_ANN,
    PASSAGE_VECTORS,
    SENTENCE_VECTORS,
    IndexVersion,
    current_version,
)
from tests.badfiles import (
    EXPECTED_SKIPS,
    GOOD,
    MAX_BYTES,
    OUTSIDE_SECRET,
    deny_reading,
    matches,
    write_bad_articles,
)
from tests.conftest import CountingEncoder, write_corpus

CHIPS = "How many workers will the chipmaker hire?"
CHIPS_SNIPPET = "The chipmaker expects to hire 3,000 workers by 2027."


def test_a_reindex_over_bad_files_keeps_the_good_and_reports_each_bad_one(
    tmp_path: Path, fake_encoder: CountingEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    articles = write_bad_articles(tmp_path / "articles", tmp_path / "outside")
    deny_reading(monkeypatch, "locked.txt")
    engine = Engine(tmp_path / "index", articles, fake_encoder, max_bytes=MAX_BYTES)
    report = engine.reindex()

    skipped = {s.path: s.reason for s in report.skipped}
    assert sorted(skipped) == sorted(EXPECTED_SKIPS)
    wrong = {p: r for p, r in skipped.items() if not matches(r, EXPECTED_SKIPS[p])}
    assert wrong == {}
    assert sorted(report.added) == sorted(GOOD)
    for article_id, question in GOOD.items():
        answer = engine.ask(question)
        assert answer.citation is not None, question
        assert answer.citation.source.article_id == article_id, question
    latin1 = engine.ask(GOOD["latin1.txt"]).citation
    assert latin1 is not None and latin1.snippet.startswith("Café owners in Lyon")

    version = IndexVersion.open(current_version(tmp_path / "index"), model="fake", dimension=256)
    try:
        [copy] = version.store.articles(["copy-a.txt"])
    finally:
        version.close()
    assert (copy.path, copy.other_paths) == ("copy-a.txt", ("copy-b.txt",))  # indexed once
    # Nothing behind a link out of the folder was read, embedded or indexed.
    assert not any("vault" in text.lower() for text in fake_encoder.texts)
    assert OUTSIDE_SECRET not in [s.title for s in engine.sources()]
    assert all(h.article_id in GOOD for h in engine.search("vault code night guard", k=20))
    engine.close()


# --- an index damaged on disk -----------------------------------------------------------------

Damage = Callable[[Path], None]  # given the served version's folder


def cut(name: str, keep: float = 0.5) -> Damage:
    def damage(version: Path) -> None:
        data = (version / name).read_bytes()
        (version / name).write_bytes(data[: int(len(data) * keep)])

    return damage


def scribble(name: str) -> Damage:
    """Overwrite the file's first bytes, where every format keeps its header."""

    def damage(version: Path) -> None:
        data = bytearray((version / name).read_bytes())
        data[:64] = b"\xde\xad\xbe\xef" * 16
        (version / name).write_bytes(bytes(data))

    return damage


def remove(name: str) -> Damage:
    return lambda version: (version / name).unlink()


def rewrite(name: str, content: bytes, *, in_index: bool = False) -> Damage:
    def damage(version: Path) -> None:
        folder = version.parent.parent if in_index else version
        (folder / name).write_bytes(content)

    return damage


def set_row(name: str, row: int, value: float | bytes) -> Damage:
    """Overwrite one row (negative: from the end) with a value, or with bytes of its length."""

    def damage(version: Path) -> None:
        rows = np.load(version / name, mmap_mode="r+")
        if isinstance(value, bytes):
            rows[row].view(np.uint8)[:] = np.frombuffer(value * rows.shape[1], dtype=np.uint8)
        else:
            rows[row] = value
        rows.flush()

    return damage


POSTINGS = postings_path(Path(DATABASE)).name

DAMAGE: dict[str, tuple[Damage, str]] = {
    "passages.npy cut in half": (cut(PASSAGE_VECTORS), "The vector file"),
    "passages.npy emptied": (cut(PASSAGE_VECTORS, 0), "The vector file"),
    "passages.npy overwritten": (scribble(PASSAGE_VECTORS), "The vector file"),
    "sentences.npy cut in half": (cut(SENTENCE_VECTORS), "The vector file"),
    "sentences.npy missing": (remove(SENTENCE_VECTORS), "The vector file"),
    # Right size and header, wrong values, in rows the check at open reads (first and last).
    "passages.npy: a row of NaN": (
        set_row(PASSAGE_VECTORS, 0, np.nan),
        "passages.npy is damaged: its row 0 holds NaN or infinity",
    ),
    "sentences.npy: garbage in the last row": (
        set_row(SENTENCE_VECTORS, -1, b"\xde\xad\xbe\xef"),
        "sentences.npy is damaged: its row",
    ),
    "sqlite cut in half": (cut(DATABASE), "The index database"),
    "sqlite emptied": (cut(DATABASE, 0), "The index database"),
    "sqlite overwritten": (scribble(DATABASE), "The index database"),
    "keyword postings cut in half": (cut(POSTINGS), "The keyword postings"),
    "keyword postings missing": (remove(POSTINGS), "The keyword postings"),
    "manifest missing": (remove(MANIFEST), "has no manifest"),
    "manifest not JSON": (rewrite(MANIFEST, b'{"format": 1, "mod'), "is unreadable"),
    "manifest not an object": (rewrite(MANIFEST, b"[]"), "is unreadable"),
    "CURRENT not text": (rewrite(CURRENT, b"\xff\xfe\x00", in_index=True), "Cannot read"),
    "CURRENT names no version": (
        rewrite(CURRENT, b"../../etc\n", in_index=True),
        "names a missing version",
    ),
}


def assert_refused_then_repaired(
    index: Path, articles: Path, expected: str, question: str = CHIPS, *, rewritten: bool = False
) -> None:
    """A fresh engine refuses the index with the reason and the fix, answers nothing, and its
    reindex repairs it; an engine started after that serves the repaired index. `rewritten`:
    the damage lies only in files every build writes anew, so the repair reuses every vector."""
    engine = Engine(index, articles, FakeEncoder())
    assert not engine.load()
    reason = engine.unavailable_reason or ""
    assert expected in reason and "reindex" in reason, reason
    with pytest.raises(IndexUnavailable, match="reindex"):
        engine.ask(question)
    report = engine.reindex()
    assert report.stats.articles == len(list(articles.iterdir()))
    if rewritten:
        assert report.full_rebuild is None and report.embedded_passages == 0
        assert report.rewritten is not None and expected in report.rewritten
        assert report.rewritten.startswith("Every file was written anew, reusing the vectors")
    else:
        assert report.full_rebuild is not None and expected in report.full_rebuild
        assert report.rewritten is None
    assert engine.ask(question).citation is not None
    engine.close()
    after = Engine(index, articles, FakeEncoder())
    assert after.load() and after.ask(question).citation is not None
    after.close()


@pytest.mark.parametrize("what", list(DAMAGE))
def test_a_damaged_index_is_refused_at_load_then_repaired_by_a_reindex(
    corpus: Path, tmp_path: Path, what: str
) -> None:
    damage, expected = DAMAGE[what]
    build_index(corpus, tmp_path / "index", FakeEncoder())
    damage(current_version(tmp_path / "index"))
    rewritten = what.startswith("keyword postings")
    assert_refused_then_repaired(tmp_path / "index", corpus, expected, rewritten=rewritten)


@pytest.fixture
def many_articles(tmp_path: Path) -> Path:
    """Forty one-passage articles: enough rows to train an IVF index on."""
    return write_corpus(
        tmp_path / "many",
        {
            f"town{n:02}.txt": f"Town {n} bridge\nThe mayor of town {n} opened bridge {n} today."
            for n in range(40)
        },
    )


@pytest.mark.parametrize(
    "damage",
    [cut(PASSAGE_ANN), cut(PASSAGE_ANN, 0), scribble(PASSAGE_ANN), remove(PASSAGE_ANN)],
    ids=["cut in half", "emptied", "overwritten", "missing"],
)
def test_a_damaged_dense_index_is_refused_then_repaired(
    many_articles: Path, tmp_path: Path, damage: Damage
) -> None:
    index = tmp_path / "index"
    build_index(many_articles, index, FakeEncoder(), ivf_threshold=16)
    version = current_version(index)
    assert (version / PASSAGE_ANN).is_file()  # a large index: its dense index file is loaded
    damage(version)
    assert_refused_then_repaired(
        index, many_articles, "The dense index", "Who opened bridge 7 in town 7?", rewritten=True
    )


class Renamed(CountingEncoder):
    @property
    def name(self) -> str:
        return "another-model"


@pytest.mark.parametrize(
    "built_with",
    [Renamed(FakeEncoder()), FakeEncoder(dimension=64)],
    ids=["another model", "another dimension"],
)
def test_an_index_of_another_model_is_refused_then_rebuilt(
    corpus: Path, tmp_path: Path, built_with: FakeEncoder
) -> None:
    build_index(corpus, tmp_path / "index", built_with)
    assert_refused_then_repaired(tmp_path / "index", corpus, "The index was built with model")


SEPARATED = "Storm season\nThe storm reached the coast on Monday.\n* * *\nBoats stayed in port."


def test_a_text_with_no_words_is_served_and_a_zero_row_is_damage(tmp_path: Path) -> None:
    """A "* * *" line gets a unit vector like any text, so a zero row, as a zeroed block of the
    file leaves, is refused at open for every model, the fake one included."""
    articles = write_corpus(tmp_path / "articles", {"storm.txt": SEPARATED})
    index = tmp_path / "index"
    build_index(articles, index, FakeEncoder())
    version = current_version(index)
    rows = np.load(version / SENTENCE_VECTORS)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-6)  # "* * *" (row 2) too
    engine = Engine(index, articles, FakeEncoder())
    assert engine.load(), engine.unavailable_reason
    answer = engine.ask("When did the storm reach the coast?")
    assert answer.citation is not None and answer.citation.snippet.startswith("The storm")
    engine.close()

    set_row(SENTENCE_VECTORS, 2, 0.0)(version)
    with pytest.raises(
        IndexUnavailable, match=r"sentences\.npy is damaged: its row 2 has length 0"
    ):
        IndexVersion.open(version, model="fake", dimension=256)


LONG_STORY = " ".join(f"Paragraph {n} of the long report on port traffic." for n in range(400))


def damage_deep(version: Path) -> None:
    """Point the overflow chain of the articles' long texts at a page past the end of the file:
    the checks at load pass, reading an article's text fails."""
    database = version / DATABASE
    with sqlite3.connect(database) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        [first_overflow] = db.execute(
            "SELECT min(pageno) FROM dbstat WHERE name = 'articles' AND pagetype = 'overflow'"
        ).fetchone()
    db.close()
    assert first_overflow is not None, "no article is long enough to overflow a page"
    with open(database, "r+b") as handle:
        handle.seek((first_overflow - 1) * page_size)
        handle.write(b"\x7f\xff\xff\xff")


def test_damage_met_only_when_read_is_unavailable_not_a_crash_then_repaired(
    tmp_path: Path,
) -> None:
    """A damaged page deep in the SQLite file passes the checks at load (a full check would read
    the whole file at every start); reading it gives 'unavailable', and a reindex rebuilds."""
    articles = write_corpus(
        tmp_path / "articles", {"chips.txt": f"Chipmaker expands\n{CHIPS_SNIPPET}\n{LONG_STORY}"}
    )
    index = tmp_path / "index"
    build_index(articles, index, FakeEncoder())
    damage_deep(current_version(index))

    engine = Engine(index, articles, FakeEncoder())
    assert engine.load()
    with pytest.raises(IndexUnavailable, match=r"damaged .*; rebuild it with a reindex"):
        engine.ask(CHIPS)
    report = engine.reindex()
    assert report.stats.articles == 1
    answer = engine.ask(CHIPS)
    assert answer.citation is not None and answer.citation.snippet == CHIPS_SNIPPET
    engine.close()
