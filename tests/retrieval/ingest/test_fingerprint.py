"""An unchanged articles folder is recognised by its fingerprint, without reading a file."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import retrieval.build.reindex as build
from retrieval.build.reindex import build_index
from retrieval.ingest.fingerprint import fingerprint
from tests.conftest import CountingEncoder, write_corpus


def age(folder: Path, seconds: float = 60.0) -> None:
    """Give every file a modification time `seconds` in the past, as settled files have."""
    then = time.time() - seconds
    for path in folder.rglob("*"):
        if path.is_file():
            os.utime(path, (then, then))


def test_the_fingerprint_follows_names_sizes_and_times(tmp_path: Path) -> None:
    folder = write_corpus(tmp_path / "articles")
    age(folder)
    now = time.time()
    first = fingerprint(folder, 1000, now=now)
    assert first is not None and first == fingerprint(folder, 1000, now=now)
    assert fingerprint(folder, 2000, now=now) != first  # the size limit decides what is read
    (folder / "lee.txt").rename(folder / "lee2.txt")
    assert fingerprint(folder, 1000, now=now) != first
    (folder / "lee2.txt").rename(folder / "lee.txt")
    assert fingerprint(folder, 1000, now=now) == first
    then = time.time() - 30
    os.utime(folder / "rain.md", (then, then))
    assert fingerprint(folder, 1000, now=now) != first


def test_a_file_changed_just_now_gets_no_fingerprint(tmp_path: Path) -> None:
    folder = write_corpus(tmp_path / "articles")
    age(folder)
    (folder / "new.txt").write_text("Fresh\nJust written.", encoding="utf-8")
    assert fingerprint(folder, 1000, now=time.time()) is None


def test_an_unchanged_folder_is_not_read_again(
    tmp_path: Path, fake_encoder: CountingEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_corpus(tmp_path / "articles")
    (folder / "empty.txt").write_text("", encoding="utf-8")
    age(folder)
    first = build_index(folder, tmp_path / "index", fake_encoder)
    assert first.skipped

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("an unchanged folder was read")

    monkeypatch.setattr(build, "load_articles", no_reading)
    again = build_index(folder, tmp_path / "index", fake_encoder)
    assert again.stats == first.stats
    assert (again.added, again.changed, again.removed) == ((), (), ())
    assert again.unchanged == first.stats.articles
    assert again.skipped == first.skipped
    assert again.embedded_passages == 0


def test_a_changed_file_is_read_and_reindexed(
    tmp_path: Path, fake_encoder: CountingEncoder
) -> None:
    folder = write_corpus(tmp_path / "articles")
    age(folder)
    build_index(folder, tmp_path / "index", fake_encoder)
    (folder / "lee.txt").write_text("Lee visits Japan\nLee met Takaichi in Tokyo.", "utf-8")
    age(folder, 30)  # settled, with a time unlike the one indexed
    report = build_index(folder, tmp_path / "index", fake_encoder)
    assert report.changed == ("lee.txt",)
