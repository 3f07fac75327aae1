"""`citebot index`, killed with SIGKILL at a named point of the build, as a power cut or the
out-of-memory killer would: no `finally`, no `atexit`, no buffered write runs after it.

    python -m tests.retrieval.build.crashpoint POINT CITEBOT-ARGUMENTS...

tests/retrieval/test_crash.py calls `run` in processes forked from a multiprocessing fork server
that has imported citebot once (a fresh interpreter per kill would spend a second importing).
Each point is a moment when the build has left something particular on disk (POINTS says
what); the build is unmodified up to that moment.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import retrieval.build.publishing as publishing
import retrieval.build.reindex as build
import retrieval.engine as engine
from bot.cli import main
from retrieval.index.version import CURRENT, MANIFEST, VERSIONS
from retrieval.types import Vectors

POINTS = {
    "reading": "the lock is held, stale builds removed, nothing new written",
    "embedding": "the first texts are embedded, in memory only",
    "vectors": "building-NAME/ holds the SQLite file and a half-written passages.npy",
    "manifest": "building-NAME/ is complete but for renaming manifest.json.tmp",
    "built": "building-NAME/ is complete, not yet moved into versions/",
    "moved": "versions/NAME is complete; CURRENT still names the previous version",
    "current-tmp": "CURRENT.tmp names the new version; CURRENT is not yet replaced",
    "swapped": "CURRENT names the new version; the previous one is not yet removed",
    "cleaning": "the previous version is half removed",
}


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm(point: str) -> None:
    """Make the build kill this process at `point`."""
    if point in ("reading", "embedding"):
        real_build = engine.build_index  # type: ignore[attr-defined]

        def build_index(*args: Any, progress: build.Progress, **kwargs: Any) -> Any:
            def report(stage: str, done: int, total: int) -> None:
                if stage == point and (point == "reading" or done > 0):
                    die()
                progress(stage, done, total)

            return real_build(*args, progress=report, **kwargs)

        engine.build_index = build_index  # type: ignore[attr-defined,assignment]
    elif point == "vectors":

        def save_npy(path: Path, array: Vectors) -> None:
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            data = buffer.getvalue()
            with open(path, "wb") as handle:
                handle.write(data[: len(data) // 2])
                handle.flush()
                os.fsync(handle.fileno())
            die()

        publishing._save_npy = save_npy
    elif point in ("manifest", "built", "current-tmp"):
        moving: Callable[[str], bool] = {
            "manifest": lambda name: name == MANIFEST + ".tmp",
            "built": lambda name: name.startswith("building-"),
            "current-tmp": lambda name: name == CURRENT + ".tmp",
        }[point]
        real_replace = os.replace

        def replace(src: Any, dst: Any, **kwargs: Any) -> None:
            if moving(Path(src).name):
                die()
            real_replace(src, dst, **kwargs)

        os.replace = replace
    elif point == "moved":
        publishing.point_current = lambda index_dir, name: die()  # type: ignore[attr-defined]
    elif point == "swapped":
        build.remove_old_versions = lambda *args, **kwargs: die()  # type: ignore[attr-defined]
    elif point == "cleaning":
        real_rmtree = shutil.rmtree

        def rmtree(path: Any, *args: Any, **kwargs: Any) -> None:
            folder = Path(path)
            if folder.parent.name == VERSIONS:
                (folder / MANIFEST).unlink()
                die()
            real_rmtree(path, *args, **kwargs)

        shutil.rmtree = rmtree  # type: ignore[assignment]  # the one publishing.py uses
    else:
        raise SystemExit(f"unknown point {point!r}; use one of {', '.join(POINTS)}")


def run(point: str, argv: list[str], log: str) -> None:
    """`citebot ARGV`, killed at `point`; its output goes to the file `log`."""
    with open(log, "w") as output:
        os.dup2(output.fileno(), 1)
        os.dup2(output.fileno(), 2)
    arm(point)
    sys.exit(main(argv))


if __name__ == "__main__":
    arm(sys.argv[1])
    sys.exit(main(sys.argv[2:]))
