"""A reindex killed (SIGKILL) at any point, then restarted: the index served is always a complete
version, the previous one until the new one is swapped in, with every one of its articles; the
next reindex completes and clears what the killed one left.

Each build runs as `citebot index` in a process of its own (crashpoint.py) killed
at a named point; the processes run side by side, once per module, to keep the suite quick. One
more test kills the unmodified `python -m bot.cli index` as soon as its new version appears.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from retrieval import Engine
from retrieval.encode.fake import FakeEncoder
from retrieval.index.version import CURRENT, VERSIONS
from tests.conftest import CORPUS, REPO, write_corpus
from tests.retrieval.build import crashpoint
from tests.retrieval.build.crashpoint import POINTS

# Version 1 of the articles; version 2 adds one, changes one and removes one.
V1 = {
    **CORPUS,
    **{
        f"town{n:02}.txt": f"Town {n} bridge\nThe mayor of town {n} opened bridge {n} on Monday."
        for n in range(30)
    },
}
ADDED = {"port.txt": "Port strike ends\nDock workers in Rotterdam ended their strike on Friday."}
CHANGED = {"town03.txt": "Town 3 tunnel\nThe mayor of town 3 closed tunnel 3 on Tuesday."}
REMOVED = "lee.txt"
V2 = {**{k: v for k, v in V1.items() if k != REMOVED}, **ADDED, **CHANGED}
IDS_V1 = {("chips-1" if name == "chips.jsonl" else name) for name in V1}
IDS_V2 = {("chips-1" if name == "chips.jsonl" else name) for name in V2}

# After a kill at each point, the version served: the previous one until CURRENT is replaced.
SERVED_AFTER = {point: IDS_V2 if point in ("swapped", "cleaning") else IDS_V1 for point in POINTS}
# Kills before the first index ever completes.
FIRST_BUILD_POINTS = ("embedding", "built", "moved", "current-tmp")
# Of those, the kills after the version moved into versions/, complete, before CURRENT named it.
FIRST_BUILD_COMPLETE = ("moved", "current-tmp")

ENV = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}


@dataclass(frozen=True)
class Crash:
    articles: Path
    index: Path
    exitcode: int | None
    output: str


def cli_args(articles: Path, index: Path) -> list[str]:
    options = ["--env-file", os.devnull, "--model", "fake"]  # no .env read
    return [*options, "--articles", str(articles), "--index", str(index), "index"]


def write_v2(articles: Path) -> None:
    (articles / REMOVED).unlink()
    write_corpus(articles, {**ADDED, **CHANGED})


@pytest.fixture(scope="module")
def crashes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, bool], Crash]:
    """Every kill, run side by side: (point, first build?) -> what it left."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.retrieval.build.crashpoint"])
    runs = {}
    for point in POINTS:
        for first in (False, True):
            if first and point not in FIRST_BUILD_POINTS:
                continue
            root = tmp_path_factory.mktemp(f"{point}-{'first' if first else 'v1'}")
            articles, index = write_corpus(root / "articles", V1), root / "index"
            if not first:
                engine = Engine(index, articles, FakeEncoder())
                engine.reindex()
                engine.close()
                write_v2(articles)
            log = root / "output.txt"
            process = context.Process(
                target=crashpoint.run, args=(point, cli_args(articles, index), str(log))
            )
            process.start()
            runs[point, first] = (articles, index, process, log)
    found = {}
    for key, (articles, index, process, log) in runs.items():
        process.join(timeout=120)
        found[key] = Crash(articles, index, process.exitcode, log.read_text())
    return found


def served_ids(engine: Engine) -> set[str]:
    return {s.article_id for s in engine.sources()}


def leftovers(index: Path) -> dict[str, object]:
    return {
        "building": sorted(p.name for p in index.glob("building-*")),
        "versions": len(list((index / VERSIONS).iterdir())),
        "current.tmp": (index / (CURRENT + ".tmp")).exists(),
    }


def on_disk_at(point: str, index: Path) -> bool:
    """Whether the index folder shows the kill happened where it was meant to."""
    building = list(index.glob("building-*"))
    versions = len(list((index / VERSIONS).iterdir()))
    if point in ("reading", "embedding"):
        return not building and versions == 1
    if point in ("vectors", "manifest", "built"):
        [folder] = building
        has_manifest = (folder / "manifest.json").exists()
        return has_manifest if point == "built" else not has_manifest
    if point in ("moved", "current-tmp"):
        pointer = (index / (CURRENT + ".tmp")).exists()
        return versions == 2 and pointer == (point == "current-tmp")
    return versions == 2  # swapped, cleaning


@pytest.mark.parametrize("point", list(POINTS))
def test_a_killed_reindex_leaves_the_previous_complete_index_serving(
    crashes: dict[tuple[str, bool], Crash], point: str
) -> None:
    crash = crashes[point, False]
    assert crash.exitcode == -signal.SIGKILL, crash.output
    assert on_disk_at(point, crash.index), leftovers(crash.index)

    restarted = Engine(crash.index, crash.articles, FakeEncoder())
    assert restarted.load(), restarted.unavailable_reason
    expected = SERVED_AFTER[point]
    assert served_ids(restarted) == expected  # every article of that version, none lost
    if expected == IDS_V1:  # the removed article is still answered from the previous version
        answer = restarted.ask("When is Lee visiting Japan?")
        assert answer.citation is not None and answer.citation.source.article_id == REMOVED

    report = restarted.reindex()
    assert served_ids(restarted) == IDS_V2
    assert report.stats.articles == len(IDS_V2)
    assert leftovers(crash.index) == {"building": [], "versions": 1, "current.tmp": False}
    answer = restarted.ask("When did dock workers in Rotterdam end their strike?")
    assert answer.citation is not None and answer.citation.source.article_id == "port.txt"
    restarted.close()


@pytest.mark.parametrize("point", FIRST_BUILD_POINTS)
def test_a_first_reindex_killed_leaves_no_index_then_a_reindex_builds_one(
    crashes: dict[tuple[str, bool], Crash], point: str
) -> None:
    crash = crashes[point, True]
    assert crash.exitcode == -signal.SIGKILL, crash.output
    restarted = Engine(crash.index, crash.articles, FakeEncoder())
    if point in FIRST_BUILD_COMPLETE:
        # Complete in versions/, not yet named by CURRENT: served as the newest complete one.
        assert restarted.load(), restarted.unavailable_reason
        assert served_ids(restarted) == IDS_V1
    else:
        assert not restarted.load()
        assert "No index has been built" in (restarted.unavailable_reason or "")
    restarted.reindex()
    assert served_ids(restarted) == IDS_V1
    assert leftovers(crash.index) == {"building": [], "versions": 1, "current.tmp": False}
    restarted.close()


def test_the_real_cli_killed_while_writing_leaves_a_complete_index(tmp_path: Path) -> None:
    """The unmodified `citebot index`, killed the moment its new version's folder appears
    (polled in a tight loop): whatever it had done by then, a complete version is served."""
    many = {f"story{n:04}.txt": f"Story {n}\nCouncil {n} approved budget {n}." for n in range(600)}
    articles = write_corpus(tmp_path / "articles", V1)
    index = tmp_path / "index"
    engine = Engine(index, articles, FakeEncoder())
    engine.reindex()
    engine.close()
    write_corpus(articles, many)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *cli_args(articles, index)],
        cwd=REPO,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not any(index.glob("building-*")) and process.poll() is None:
        assert time.monotonic() < deadline, "the build never started writing"
    process.kill()  # SIGKILL, unless it has already exited
    process.communicate(timeout=60)
    assert process.returncode in (-signal.SIGKILL, 0)  # 0: it finished before the kill landed

    restarted = Engine(index, articles, FakeEncoder())
    assert restarted.load(), restarted.unavailable_reason
    assert served_ids(restarted) in (IDS_V1, IDS_V1 | set(many))
    manifest = json.loads(
        (index / VERSIONS / (index / CURRENT).read_text().strip() / "manifest.json").read_text()
    )
    assert manifest["articles"] == len(served_ids(restarted))
    restarted.reindex()
    assert served_ids(restarted) == IDS_V1 | set(many)
    assert leftovers(index) == {"building": [], "versions": 1, "current.tmp": False}
    restarted.close()
