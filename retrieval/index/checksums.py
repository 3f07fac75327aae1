"""Digests of a version's files: recorded in its manifest when it is built, checked in full
before a reindex reuses its vectors and by `citebot verify`.

A digest is "sha256:HEX" of the file's exact bytes. Reading every byte is a reindex's cost, not
a start's: the start-up check reads a sample of rows instead (`VectorFile.bad_sampled_row`).
docs/performance.md has what a full check costs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from retrieval.index.dense import EXACT
from retrieval.index.version import (
    DATABASE,
    KEYWORD_POSTINGS,
    MANIFEST,
    PASSAGE_ANN,
    PASSAGE_VECTORS,
    SENTENCE_VECTORS,
    Manifest,
    current_version,
)

ALGORITHM = "sha256"
# What a reindex reads from the served version: the vectors it copies, and the SQLite file whose
# rows say which text each vector row holds. The dense index and the keyword postings are made
# anew by every build, so damage there does not stop the vectors from being reused.
REUSED = frozenset({PASSAGE_VECTORS, SENTENCE_VECTORS, DATABASE})


class HashingWriter:
    """A binary file that hashes every byte written through it.

    `np.save` writes to a file-like object that is not a real file in 16 MiB pieces, so the
    digest is taken of exactly the bytes written, with no second copy of the array in memory.
    """

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._hash = hashlib.new(ALGORITHM)

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        return self._handle.write(data)

    def digest(self) -> str:
        return f"{ALGORITHM}:{self._hash.hexdigest()}"


def file_digest(path: Path, algorithm: str = ALGORITHM) -> str:
    """The digest of the file at `path`, read in chunks; OSError when it cannot be read."""
    with open(path, "rb") as handle:
        return f"{algorithm}:{hashlib.file_digest(handle, algorithm).hexdigest()}"


def checked_files(manifest: Manifest) -> tuple[str, ...]:
    """The files of a version that have a digest: its vectors, its SQLite file and keyword
    postings, and its approximate dense index if it has one."""
    files = (PASSAGE_VECTORS, SENTENCE_VECTORS, DATABASE, KEYWORD_POSTINGS)
    return (*files, PASSAGE_ANN) if manifest.dense != EXACT else files


@dataclass(frozen=True, slots=True)
class FileCheck:
    name: str
    problem: str | None  # None when the file matches its digest

    def describe(self) -> str:
        return f"{self.name}: {self.problem or 'ok'}"


@dataclass(frozen=True, slots=True)
class Verification:
    """What a full check of a version's files found."""

    version: str
    files: tuple[FileCheck, ...]

    @property
    def damaged(self) -> tuple[FileCheck, ...]:
        return tuple(f for f in self.files if f.problem is not None)

    @property
    def ok(self) -> bool:
        return not self.damaged

    @property
    def reusable(self) -> bool:
        """Whether every damaged file is one a build writes anew (not in REUSED): a rewrite
        reusing the vectors then repairs the version."""
        return all(f.name not in REUSED for f in self.damaged)


def verify_version(
    folder: Path, manifest: Manifest, only: Collection[str] | None = None
) -> Verification:
    """Read every checked file of the version in `folder` (or those named in `only`) and
    compare it with `manifest`."""
    names = [n for n in checked_files(manifest) if only is None or n in only]
    return Verification(folder.name, tuple(_check(folder / n, manifest.checksums) for n in names))


def verify_served(index_dir: Path) -> Verification:
    """A full check of the version `index_dir` serves; IndexUnavailable when there is none."""
    folder = current_version(index_dir)
    return verify_version(folder, Manifest.read(folder / MANIFEST))


def _check(path: Path, recorded: Mapping[str, str]) -> FileCheck:
    expected = recorded.get(path.name)
    if expected is None:
        return FileCheck(path.name, "has no checksum in the manifest")
    algorithm = expected.partition(":")[0]
    try:
        found = file_digest(path, algorithm)
    except OSError as exc:
        return FileCheck(path.name, f"cannot be read ({exc.strerror or exc})")
    except ValueError:  # hashlib knows no such algorithm
        return FileCheck(path.name, f"has a checksum of unknown kind {algorithm!r}")
    if found != expected:
        return FileCheck(path.name, "does not match the checksum recorded when it was built")
    return FileCheck(path.name, None)
