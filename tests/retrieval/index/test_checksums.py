"""Checksums of a version's files: recorded at build, checked in full before a reindex reuses
the served version's vectors and by `citebot verify` (`verify_served`); versions built before
them still load and are reused."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import retrieval.index.checksums as checksums
from retrieval import Engine, IndexUnavailable
from retrieval.build.reindex import build_index
from retrieval.encode.fake import FakeEncoder
from retrieval.index.checksums import verify_served, verify_version
from retrieval.index.version import (
    DATABASE,
    FORMAT,
    KEYWORD_POSTINGS,
    MANIFEST,
    PASSAGE_ANN,
    PASSAGE_VECTORS,
    SENTENCE_VECTORS,
    Manifest,
    current_version,
)
from tests.conftest import CountingEncoder, change_a_middle_byte, write_corpus

QUESTIONS = {
    "How many workers will the chipmaker hire?": (
        "The chipmaker expects to hire 3,000 workers by 2027."
    ),
    "How many people did emergency services rescue from flooded cars?": (
        "Emergency services rescued 200 people from flooded cars, officials said."
    ),
    "When is Lee visiting Japan?": (
        "Lee is reportedly planning to visit Japan later this month to meet Prime Minister "
        "Sanae Takaichi."
    ),
    "Where did the volcano erupt?": "The volcano erupted near Catania on Sunday.",
}
VOLCANO = "Volcano erupts\nThe volcano erupted near Catania on Sunday."


def sha256_of(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def assert_answers_right(engine: Engine, questions: dict[str, str] = QUESTIONS) -> None:
    for question, snippet in questions.items():
        answer = engine.ask(question)
        assert answer.citation is not None and answer.citation.snippet == snippet, question


@pytest.mark.parametrize("large", [False, True], ids=["flat", "with a FAISS file"])
def test_the_manifest_records_the_digest_of_each_file(tmp_path: Path, large: bool) -> None:
    articles = write_corpus(
        tmp_path / "articles",
        {
            f"town{n:02}.txt": f"Town {n}\nThe mayor of town {n} opened bridge {n}."
            for n in range(20)
        },
    )
    build_index(articles, tmp_path / "index", FakeEncoder(), ivf_threshold=16 if large else 50_000)
    version = current_version(tmp_path / "index")
    recorded = json.loads((version / MANIFEST).read_text())["checksums"]
    files = [PASSAGE_VECTORS, SENTENCE_VECTORS, DATABASE, KEYWORD_POSTINGS]
    files += [PASSAGE_ANN] if large else []
    assert recorded == {name: sha256_of(version / name) for name in files}
    assert Manifest.read(version / MANIFEST).checksums == recorded
    assert verify_served(tmp_path / "index").ok


def change_middle_row(version: Path, name: str) -> None:
    """Give the middle row of a vector file other bytes of the same length: its opposite, still
    a unit vector, so the check at open cannot see it and only the checksum can."""
    rows = np.load(version / name, mmap_mode="r+")
    middle = rows[len(rows) // 2]
    assert np.linalg.norm(middle) > 0.99
    middle *= -1
    rows.flush()
    del rows


def fresh_build(articles: Path, index: Path) -> tuple[list[str], Path]:
    """What a build from nothing embeds, and the version it writes."""
    counting = CountingEncoder(FakeEncoder())
    build_index(articles, index, counting)
    return counting.texts, current_version(index)


@pytest.mark.parametrize("name", [SENTENCE_VECTORS, PASSAGE_VECTORS])
def test_a_changed_row_is_found_by_verify_and_the_next_reindex_reuses_nothing(
    corpus: Path, tmp_path: Path, fake_encoder: CountingEncoder, name: str
) -> None:
    index = tmp_path / "index"
    engine = Engine(index, corpus, fake_encoder)
    engine.reindex()
    change_middle_row(current_version(index), name)
    engine.close()

    found = verify_served(index)
    assert not found.ok
    assert [(f.name, f.problem) for f in found.damaged] == [
        (name, "does not match the checksum recorded when it was built")
    ]

    engine = Engine(index, corpus, fake_encoder)
    assert engine.load(), engine.unavailable_reason  # the row is still a unit vector
    (corpus / "new.txt").write_text(VOLCANO)
    fake_encoder.texts.clear()
    stages: list[str] = []
    report = engine.reindex(progress=lambda stage, done, total: stages.append(stage))

    assert (report.added, report.changed, report.removed, report.unchanged) == (
        ("new.txt",),
        (),
        (),
        3,
    )
    assert report.full_rebuild is not None
    assert report.full_rebuild.startswith("Every article was embedded afresh: the served version")
    assert f"{name}: does not match the checksum" in report.full_rebuild
    assert "checking" in stages
    # Every passage and sentence embedded, none copied: the new version is a build from nothing.
    expected, fresh = fresh_build(corpus, tmp_path / "fresh")
    assert sorted(fake_encoder.texts) == sorted(expected)
    for vectors in (PASSAGE_VECTORS, SENTENCE_VECTORS):
        assert np.array_equal(
            np.load(current_version(index) / vectors), np.load(fresh / vectors)
        ), vectors
    assert_answers_right(engine)
    engine.close()
    assert verify_served(index).ok


def change_the_database(version: Path) -> None:
    """Change bytes of the SQLite file that nothing reads when it is opened or asked."""
    db = sqlite3.connect(version / DATABASE)
    db.execute("PRAGMA user_version = 7")
    db.close()


@pytest.mark.parametrize(
    ("change", "name", "reused"),
    [
        # The build reads which vector row holds which text from the served SQLite file...
        (change_the_database, DATABASE, False),
        # ...while the postings are written anew by every build: nothing of them carries over.
        (change_a_middle_byte(KEYWORD_POSTINGS), KEYWORD_POSTINGS, True),
    ],
    ids=["database", "postings"],
)
def test_changed_bytes_are_found_and_stop_reuse_only_in_a_file_the_build_reads(
    corpus: Path,
    tmp_path: Path,
    fake_encoder: CountingEncoder,
    change: Callable[[Path], None],
    name: str,
    reused: bool,
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, FakeEncoder())
    change(current_version(index))

    found = verify_served(index)
    assert [f.describe() for f in found.damaged] == [
        f"{name}: does not match the checksum recorded when it was built"
    ]
    (corpus / "new.txt").write_text(VOLCANO)
    report = build_index(corpus, index, fake_encoder)
    if reused:
        assert report.full_rebuild is None
        assert fake_encoder.texts and all("volcano" in t.lower() for t in fake_encoder.texts)
    else:
        assert report.full_rebuild is not None
        assert f"{name}: does not match the checksum" in report.full_rebuild
        assert sorted(fake_encoder.texts) == sorted(fresh_build(corpus, tmp_path / "fresh")[0])
    assert verify_served(index).ok
    engine = Engine(index, corpus, FakeEncoder())
    assert engine.load(), engine.unavailable_reason
    assert_answers_right(engine)
    engine.close()


def test_the_check_before_reuse_reads_only_the_files_a_build_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    articles = write_corpus(
        tmp_path / "articles",
        {
            f"town{n:02}.txt": f"Town {n}\nThe mayor of town {n} opened bridge {n}."
            for n in range(20)
        },
    )
    build_index(articles, tmp_path / "index", FakeEncoder(), ivf_threshold=16)
    read: list[str] = []
    real_digest = checksums.file_digest

    def recording(path: Path, algorithm: str = checksums.ALGORITHM) -> str:
        read.append(path.name)
        return real_digest(path, algorithm)

    monkeypatch.setattr(checksums, "file_digest", recording)
    (articles / "new.txt").write_text(VOLCANO)
    assert (
        build_index(articles, tmp_path / "index", FakeEncoder(), ivf_threshold=16).full_rebuild
        is None
    )
    assert sorted(read) == sorted([PASSAGE_VECTORS, SENTENCE_VECTORS, DATABASE])


def test_an_intact_version_is_checked_then_reused(
    corpus: Path, tmp_path: Path, fake_encoder: CountingEncoder
) -> None:
    """The control for the test above: the same change embeds only the new article."""
    engine = Engine(tmp_path / "index", corpus, fake_encoder)
    engine.reindex()
    (corpus / "new.txt").write_text(VOLCANO)
    fake_encoder.texts.clear()
    report = engine.reindex()
    assert report.full_rebuild is None
    assert fake_encoder.texts and all("volcano" in t.lower() for t in fake_encoder.texts)
    assert_answers_right(engine)
    engine.close()


def test_a_full_reindex_repairs_a_version_when_no_article_changed(
    corpus: Path, tmp_path: Path, fake_encoder: CountingEncoder
) -> None:
    index = tmp_path / "index"
    engine = Engine(index, corpus, fake_encoder)
    engine.reindex()
    everything = list(fake_encoder.texts)
    change_middle_row(current_version(index), SENTENCE_VECTORS)

    fake_encoder.texts.clear()
    assert engine.reindex().full_rebuild is None  # nothing changed: nothing is read or copied
    assert fake_encoder.texts == [] and not verify_served(index).ok

    report = engine.reindex(full=True)
    assert (
        report.full_rebuild == "Every article was embedded afresh, as a full rebuild was asked for."
    )
    assert (report.added, report.unchanged) == ((), 3)
    assert sorted(fake_encoder.texts) == sorted(everything)
    assert verify_served(index).ok
    assert_answers_right(engine, {q: s for q, s in QUESTIONS.items() if "volcano" not in q})
    engine.close()


def test_a_rewrite_over_damaged_vectors_embeds_every_article_afresh(
    corpus: Path, tmp_path: Path, fake_encoder: CountingEncoder
) -> None:
    index = tmp_path / "index"
    everything, _ = fresh_build(corpus, index)
    change_middle_row(current_version(index), SENTENCE_VECTORS)
    assert not verify_served(index).reusable

    report = build_index(corpus, index, fake_encoder, rewrite=True)
    assert report.rewritten is None
    assert report.full_rebuild is not None
    assert f"{SENTENCE_VECTORS}: does not match the checksum" in report.full_rebuild
    assert sorted(fake_encoder.texts) == sorted(everything)
    assert verify_served(index).ok


def test_a_manifest_without_checksums_is_refused_with_reindex(
    corpus: Path, tmp_path: Path, fake_encoder: CountingEncoder
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, FakeEncoder())
    version = current_version(index)
    data = json.loads((version / MANIFEST).read_text())
    del data["checksums"]
    (version / MANIFEST).write_text(json.dumps(data, indent=2))

    engine = Engine(index, corpus, fake_encoder)
    assert not engine.load()
    assert "rebuild it with a reindex" in (engine.unavailable_reason or "")
    (corpus / "new.txt").write_text(VOLCANO)
    report = engine.reindex()
    assert report.full_rebuild is not None
    assert_answers_right(engine)
    engine.close()
    assert verify_served(index).ok


def test_unreadable_or_unrecorded_files_are_named(corpus: Path, tmp_path: Path) -> None:
    build_index(corpus, tmp_path / "index", FakeEncoder())
    version = current_version(tmp_path / "index")
    manifest = Manifest.read(version / MANIFEST)
    (version / SENTENCE_VECTORS).unlink()
    recorded = {PASSAGE_VECTORS: "md99:0"}
    found = verify_version(version, dataclasses.replace(manifest, checksums=recorded))
    assert [f.describe() for f in found.files] == [
        "passages.npy: has a checksum of unknown kind 'md99'",
        "sentences.npy: has no checksum in the manifest",
        "citebot.sqlite: has no checksum in the manifest",
        "citebot.postings: has no checksum in the manifest",
    ]
    found = verify_version(version, manifest)
    assert [f.describe() for f in found.files] == [
        "passages.npy: ok",
        "sentences.npy: cannot be read (No such file or directory)",
        "citebot.sqlite: ok",
        "citebot.postings: ok",
    ]
    assert not found.ok


def test_an_unreadable_vector_file_means_nothing_is_reused(
    corpus: Path, tmp_path: Path, fake_encoder: CountingEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, FakeEncoder())
    real_digest = checksums.file_digest

    def failing_disk(path: Path, algorithm: str = checksums.ALGORITHM) -> str:
        if path.name == PASSAGE_VECTORS:
            raise OSError(5, "Input/output error")
        return real_digest(path, algorithm)

    monkeypatch.setattr(checksums, "file_digest", failing_disk)
    (corpus / "new.txt").write_text(VOLCANO)
    report = build_index(corpus, index, fake_encoder)
    assert report.full_rebuild is not None
    assert "passages.npy: cannot be read (Input/output error)" in report.full_rebuild
    assert sorted(fake_encoder.texts) == sorted(fresh_build(corpus, tmp_path / "fresh")[0])


def test_the_manifest_round_trips_and_its_checksums_are_checked(tmp_path: Path) -> None:
    manifest = Manifest(
        FORMAT,
        "fake",
        256,
        "2025-01-01T00:00:00+00:00",
        3,
        5,
        9,
        "flat",
        checksums={PASSAGE_VECTORS: "sha256:00"},
        passage_vectors="embedded",
    )
    (tmp_path / MANIFEST).write_text(manifest.to_json())
    assert Manifest.read(tmp_path / MANIFEST) == manifest
    (tmp_path / MANIFEST).write_text(json.dumps({**json.loads(manifest.to_json()), "checksums": 7}))
    with pytest.raises(IndexUnavailable, match=r"is unreadable .*checksums are 7"):
        Manifest.read(tmp_path / MANIFEST)
