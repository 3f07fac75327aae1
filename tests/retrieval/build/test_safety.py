"""What a reindex must not lose: the index when the folder is empty or gone, an index whose
CURRENT was removed, vectors of text that did not change, and files fixed since they were
skipped (issue 19, items 3 to 6)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from retrieval import Engine, ShrinkRefused
from retrieval.index.version import CURRENT, VERSIONS
from tests.badfiles import deny_reading
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


def test_a_lost_current_serves_the_newest_complete_version_and_reuses_it(
    fake_engine: Engine, corpus: Path, fake_encoder: CountingEncoder
) -> None:
    index = fake_engine.index_dir
    [name] = versions(index)
    fake_engine.close()
    (index / CURRENT).unlink()
    restarted = Engine(index, corpus, fake_encoder)
    assert restarted.load(), restarted.unavailable_reason
    assert len(restarted.sources()) == 3
    fake_encoder.texts.clear()
    report = restarted.reindex()  # nothing changed: the intact version is kept and named again
    assert (report.embedded_passages, report.stats.version, fake_encoder.texts) == (0, name, [])
    assert (index / CURRENT).read_text().strip() == name
    (index / CURRENT).unlink()
    (corpus / "port.txt").write_text("Port strike ends\\nDock workers ended their strike.")
    report = restarted.reindex()  # one new article: only it is embedded
    assert report.added == ("port.txt",) and report.full_rebuild is None
    assert all("Dock workers" in text or "Port strike" in text for text in fake_encoder.texts)
    assert versions(index) == [report.stats.version]
    restarted.close()


def test_a_renamed_folder_embeds_nothing_again(
    tmp_path: Path, fake_encoder: CountingEncoder
) -> None:
    articles = write_corpus(tmp_path / "articles" / "2024")
    engine = Engine(tmp_path / "index", tmp_path / "articles", fake_encoder)
    engine.reindex()
    articles.rename(tmp_path / "articles" / "archive-2024")
    fake_encoder.texts.clear()
    report = engine.reindex()
    assert (len(report.added), len(report.removed)) == (2, 2)  # the JSON record keeps its id
    assert (report.embedded_passages, fake_encoder.texts) == (0, [])
    answer = engine.ask("How many people did emergency services rescue from flooded cars?")
    assert answer.citation is not None and answer.citation.source.path == "archive-2024/rain.md"
    engine.close()


def test_a_line_inserted_atop_json_lines_embeds_only_the_new_record(
    tmp_path: Path, fake_encoder: CountingEncoder
) -> None:
    records = [{"title": f"Town {n}", "text": f"Town {n} opened bridge {n}."} for n in range(30)]
    path = tmp_path / "articles" / "towns.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    engine = Engine(tmp_path / "index", path.parent, fake_encoder)
    engine.reindex()
    new = {"title": "Port", "text": "Dock workers ended their strike."}
    path.write_text("".join(json.dumps(r) + "\n" for r in [new, *records]))  # ids shift by one
    fake_encoder.texts.clear()
    report = engine.reindex()
    assert report.embedded_passages == 1
    assert fake_encoder.texts == [
        "Dock workers ended their strike.",
        "Port\nDock workers ended their strike.",
    ]
    engine.close()


def test_a_skipped_file_fixed_by_chmod_is_read_again(
    tmp_path: Path, fake_encoder: CountingEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    articles = write_corpus(tmp_path / "articles")
    locked = articles / "locked.txt"
    locked.write_text("Port strike ends\nDock workers ended their strike.")
    locked.chmod(0)
    long_ago = time.time() - 60  # old enough for the folder's fingerprint to vouch for it
    for path in articles.iterdir():
        os.utime(path, (long_ago, long_ago))
    engine = Engine(tmp_path / "index", articles, fake_encoder)
    with monkeypatch.context() as patch:
        deny_reading(patch, "locked.txt")  # root reads any mode: refuse it as for anyone else
        first = engine.reindex()
    assert [s.path for s in first.skipped] == ["locked.txt"]
    locked.chmod(0o644)  # size and time unchanged: only the mode
    again = engine.reindex()
    assert (again.added, again.skipped) == (("locked.txt",), ())
    engine.close()
