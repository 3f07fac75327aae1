"""The FAISS backend of dense search (dense.py): the only module that imports faiss.

Inner product equals cosine on normalised vectors, so every search here is by inner product.
Exact search runs FAISS's brute-force kernel over the version's memory-mapped vector file in
place, so opening an index copies nothing and builds nothing. The approximate index is an
inverted file (IVF): it scans only the `nprobe` lists nearest the query, at the cost of a little
recall. docs/performance.md has the timings that set `IVF_THRESHOLD`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from retrieval.types import Vectors

KIND = "ivf"
# Lists probed per question: recall@10 against exact search stays above 0.95 from 50k to 1M
# vectors (tests/retrieval/test_dense.py and the benchmarks measure it).
DEFAULT_NPROBE = 32


def ivf_lists(n: int) -> int:
    """About 4*sqrt(n) lists: a few hundred vectors each at 1M."""
    return max(1, int(4 * math.sqrt(n)))


@contextmanager
def _one_thread() -> Iterator[None]:
    # One question is one vector: threads barely shorten its search, and FAISS's OpenMP threads
    # spin against the encoder's and each other's on a small machine. The setting is per
    # calling thread.
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


class FaissIndex:
    """Nearest rows of a vector matrix; ids are row numbers of the vectors it was built from.
    Implements `dense.FaissIndex`."""

    def __init__(
        self, *, vectors: Vectors | None = None, ivf: faiss.IndexIVF | None = None, nprobe: int = 0
    ) -> None:
        if (vectors is None) == (ivf is None):
            raise ValueError("give exactly one of vectors (exact search) or ivf")
        self._vectors = vectors
        self._ivf = ivf
        if ivf is not None:
            ivf.nprobe = nprobe or DEFAULT_NPROBE

    @property
    def size(self) -> int:
        if self._ivf is not None:
            return int(self._ivf.ntotal)
        assert self._vectors is not None
        return int(self._vectors.shape[0])

    @property
    def kind(self) -> str:
        return "flat" if self._ivf is None else KIND

    @classmethod
    def exact(cls, vectors: Vectors) -> FaissIndex:
        """Exact search over `vectors` as they are (a memory map stays one; nothing is copied)."""
        if vectors.ndim != 2:
            raise ValueError(f"vectors of shape {vectors.shape} are not a matrix of rows")
        return cls(vectors=np.ascontiguousarray(vectors, dtype=np.float32))

    @classmethod
    def build(cls, vectors: Vectors) -> FaissIndex:
        """A freshly trained IVF index of `vectors`."""
        n = len(vectors)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = vectors.shape[1]
        nlist = ivf_lists(n)
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        # k-means on 40 points per list (FAISS asks for 39) in 10 rounds: more rounds did not
        # raise recall, and each costs build time.
        ivf.cp.niter = 10
        rng = np.random.default_rng(0)
        sample = vectors[np.sort(rng.choice(n, size=min(n, nlist * 40), replace=False))]
        ivf.train(sample)
        ivf.add(vectors)
        return cls(ivf=ivf)

    def search(self, query: Vectors, k: int) -> tuple[npt.NDArray[np.int64], Vectors]:
        """Ids and cosines of the k nearest rows, best first (fewer when the index is small)."""
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        row = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        with _one_thread():
            if self._ivf is not None:
                scores, ids = self._ivf.search(row, k)
            else:
                assert self._vectors is not None
                scores, ids = faiss.knn(row, self._vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
        keep = ids[0] >= 0
        return ids[0][keep].astype(np.int64), scores[0][keep].astype(np.float32)

    def save(self, path: Path) -> None:
        if self._ivf is None:
            raise ValueError("an exact index is its vector file; there is nothing else to save")
        faiss.write_index(self._ivf, str(path))

    @classmethod
    def load(cls, path: Path) -> FaissIndex:
        """An IVF index saved by `save`, memory-mapped: start-up reads only its header.
        ValueError when the file is unreadable or holds another kind of index.

        MMAP_IFC maps the lists as they lie in the file and searches as fast as a copy in
        memory; plain MMAP searches far slower (docs/performance.md).
        """
        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
        except RuntimeError as exc:  # FAISS reports unreadable files as RuntimeError
            raise ValueError(str(exc)) from exc
        # Ask the kernel to start reading the lists into its cache now, without waiting: the
        # first questions then take no disk reads.
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        finally:
            os.close(fd)
        if not isinstance(index, faiss.IndexIVF):
            raise ValueError(f"{path} holds a {type(index).__name__}, not an IVF index")
        return cls(ivf=index)
