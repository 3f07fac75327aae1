"""What a reindex must not lose: the index when the folder is empty or gone, an index whose
CURRENT was removed, vectors of text that did not change, and files fixed since they were
skipped (issue 19, items 3 to 6)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retrieval import Engine, ShrinkRefused
from retrieval.index.version import VERSIONS
from tests.conftest import CountingEncoder, write_corpus


def versions(index: Path) -> list[str]:
    return sorted(p.name for p in (index / VERSIONS).iterdir())


def test_an_emptied_folder_is_refused_and_the_index_kept(
    fake_engine: Engine, corpus: Path, fake_encoder: CountingEncoder
) -> None:
    kept = versions(fake_engine.index_dir)
    for path in corpus.iterdir():
        path.unlink()  # an unmounted share looks like this
    with pytest.raises(ShrinkRefused, match=r"holds 0 articles where the served index has 3"):
        fake_engine.reindex()
    assert versions(fake_engine.index_dir) == kept
    assert len(fake_engine.sources()) == 3
    write_corpus(corpus)  # the share is back: nothing to embed
    fake_encoder.texts.clear()
    assert fake_engine.reindex().embedded_passages == 0 and fake_encoder.texts == []


def test_dropping_more_than_the_share_needs_confirming(fake_engine: Engine, corpus: Path) -> None:
    (corpus / "lee.txt").unlink()
    (corpus / "rain.md").unlink()
    with pytest.raises(ShrinkRefused, match=r"drop 67% of them, over the limit of 50%"):
        fake_engine.reindex()
    assert fake_engine.reindex(max_shrink=0.7).stats.articles == 1


def test_an_emptied_folder_is_indexed_when_confirmed(fake_engine: Engine, corpus: Path) -> None:
    shutil.rmtree(corpus)
    corpus.mkdir()
    assert fake_engine.reindex(max_shrink=None).stats.articles == 0


def test_dropping_up_to_the_share_needs_no_confirming(fake_engine: Engine, corpus: Path) -> None:
    (corpus / "lee.txt").unlink()
    assert fake_engine.reindex().removed == ("lee.txt",)
