"""A replica: an index folder another machine built, copied in a version at a time (the version
folder first, CURRENT last), picked up by `Engine.refresh` without a restart."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from retrieval import Engine, IndexUnavailable
from retrieval.encode.fake import FakeEncoder
from retrieval.index.version import CURRENT, MANIFEST, VERSIONS, current_version

QUAKE = "quake.txt"
QUAKE_TEXT = (
    "Earthquake in Chile\nA magnitude 6.8 earthquake struck northern Chile on Sunday.\n"
    "Officials said 40 houses were damaged near Antofagasta."
)
QUESTION = "How many houses were damaged near Antofagasta?"


def copy_version(source: Path, replica: Path) -> None:
    """As docs/scaling.md says: the immutable version folder first, then CURRENT, replaced
    atomically (rsync writes a temporary file and renames it, too)."""
    folder = current_version(source)
    shutil.copytree(folder, replica / VERSIONS / folder.name, dirs_exist_ok=True)
    tmp = replica / (CURRENT + ".copy")
    shutil.copyfile(source / CURRENT, tmp)
    os.replace(tmp, replica / CURRENT)


@pytest.fixture
def builder(corpus: Path, tmp_path: Path) -> Engine:
    engine = Engine(tmp_path / "built", corpus, FakeEncoder())
    engine.reindex()
    return engine


def test_a_replica_serves_a_new_version_once_current_names_it(
    builder: Engine, corpus: Path, tmp_path: Path
) -> None:
    replica_dir = tmp_path / "replica"
    replica_dir.mkdir()
    copy_version(builder.index_dir, replica_dir)
    replica = Engine(replica_dir, tmp_path / "no-articles-here", FakeEncoder())
    assert replica.load()
    first = replica.stats().version
    assert replica.refresh() is None  # CURRENT names the served version
    assert replica.ask(QUESTION).citation is None

    (corpus / QUAKE).write_text(QUAKE_TEXT, encoding="utf-8")
    built = builder.reindex().stats.version
    assert built != first
    new_folder = current_version(builder.index_dir)
    shutil.copytree(new_folder, replica_dir / VERSIONS / new_folder.name)
    assert replica.refresh() is None  # copied, but not yet named: still the old version
    assert replica.stats().version == first

    copy_version(builder.index_dir, replica_dir)
    assert replica.refresh() == built
    answer = replica.ask(QUESTION)
    assert answer.citation is not None
    assert answer.citation.snippet == "Officials said 40 houses were damaged near Antofagasta."
    replica.close()
    builder.close()


def test_a_version_that_cannot_be_opened_leaves_the_served_one(
    builder: Engine, corpus: Path, tmp_path: Path
) -> None:
    replica_dir = tmp_path / "replica"
    replica_dir.mkdir()
    copy_version(builder.index_dir, replica_dir)
    replica = Engine(replica_dir, corpus, FakeEncoder())
    assert replica.load()
    served = replica.stats().version

    (corpus / QUAKE).write_text(QUAKE_TEXT, encoding="utf-8")
    builder.reindex()
    copy_version(builder.index_dir, replica_dir)
    (current_version(replica_dir) / MANIFEST).write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexUnavailable):
        replica.refresh()
    assert replica.stats().version == served
    assert replica.ask("How many workers will the chipmaker hire?").citation is not None
    replica.close()
    builder.close()
