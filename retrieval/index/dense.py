"""Dense search: the passages whose vectors are nearest a question's.

One small interface (`DenseIndex`: search and save; `load` and `build` here) and one file per
backend; FAISS (faiss.py) is the only one today, so another ANN library is one new file and
one entry in `_BACKENDS`. Below `IVF_THRESHOLD` passages the search is exact over the version's
vector file and nothing is saved; from there an approximate index is built, saved beside the
vectors, and its kind recorded in the manifest (`Manifest.dense`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from retrieval.index import faiss
from retrieval.types import Vectors

IVF_THRESHOLD = 50_000
# What the manifest records for an index that is its vector file, searched exactly.
EXACT = "flat"

Ids = npt.NDArray[np.int64]


class DenseIndex(Protocol):
    """Nearest rows of a vector matrix; ids are row numbers of the vectors it was built from."""

    @property
    def size(self) -> int: ...

    @property
    def kind(self) -> str:
        """`EXACT`, or the approximate kind recorded in the manifest and passed to `load`."""
        ...

    def search(self, query: Vectors, k: int) -> tuple[Ids, Vectors]:
        """Ids and cosines of the k nearest rows, best first (fewer when the index is small)."""
        ...

    def save(self, path: Path) -> None:
        """Write an approximate index to `path` (an exact one has nothing to save)."""
        ...


class _Backend(Protocol):
    def exact(self, vectors: Vectors) -> DenseIndex: ...
    def build(self, vectors: Vectors) -> DenseIndex: ...
    def load(self, path: Path) -> DenseIndex: ...


# The approximate kind a manifest records -> what builds and loads it.
_BACKENDS: dict[str, _Backend] = {faiss.KIND: faiss.FaissIndex}
_DEFAULT = faiss.KIND


def exact(vectors: Vectors) -> DenseIndex:
    """Exact search over `vectors` as they are (a memory map stays one; nothing is copied)."""
    return _BACKENDS[_DEFAULT].exact(vectors)


def build(vectors: Vectors, *, ivf_threshold: int = IVF_THRESHOLD) -> DenseIndex:
    """Exact search below `ivf_threshold` rows, else a freshly built approximate index."""
    if len(vectors) < ivf_threshold:
        return exact(vectors)
    return _BACKENDS[_DEFAULT].build(vectors)


def load(path: Path, kind: str) -> DenseIndex:
    """The approximate index of `kind` saved at `path`; ValueError when it cannot be read or
    `kind` is unknown."""
    backend = _BACKENDS.get(kind)
    if backend is None:
        raise ValueError(
            f"the dense index kind {kind!r} is unknown; this citebot reads {', '.join(_BACKENDS)}"
        )
    return backend.load(path)


def kind_for(rows: int, ivf_threshold: int = IVF_THRESHOLD) -> str:
    """What the manifest records for an index of `rows` passages."""
    return EXACT if rows < ivf_threshold else _DEFAULT
