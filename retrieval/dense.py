"""Dense search over normalised embeddings with FAISS.

Inner product equals cosine on normalised vectors, so every search here is by inner product.
Below `IVF_THRESHOLD` vectors the search is exact: FAISS's brute-force kernel reads the version's
memory-mapped vector file in place, so opening an index copies nothing and builds nothing. An
exact scan reads every vector (1.5 KB each at 384 dimensions), about 5 ms per 50,000 on these
machines; past that an inverted-file index answers in about a millisecond at the cost of a little
recall: it scans only the `nprobe` lists nearest the query.
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

from retrieval.encoder import Vectors

IVF_THRESHOLD = 50_000
# Lists probed per question: recall@10 against exact search stays above 0.95 from 50k to 1M
# vectors (tests/retrieval/test_dense.py and the benchmarks measure it).
DEFAULT_NPROBE = 32


def ivf_lists(n: int) -> int:
    """About 4*sqrt(n) lists: a few hundred vectors each at 1M."""
    return max(1, int(4 * math.sqrt(n)))


@contextmanager
def _one_thread() -> Iterator[None]:
    # One question is one vector: threads barely shorten its search, and FAISS's OpenMP threads
    # spin against the encoder's and each other's on a small machine (a search of 10k vectors
    # took 24 ms on 2 busy cores instead of 1 ms). The setting is per calling thread.
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


class DenseIndex:
    """Nearest rows of a vector matrix; ids are row numbers of the vectors it was built from."""

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
        return "flat" if self._ivf is None else "ivf"

    @classmethod
    def exact(cls, vectors: Vectors) -> DenseIndex:
        """Exact search over `vectors` as they are (a memory map stays one; nothing is copied)."""
        if vectors.ndim != 2:
            raise ValueError(f"vectors of shape {vectors.shape} are not a matrix of rows")
        return cls(vectors=np.ascontiguousarray(vectors, dtype=np.float32))

    @classmethod
    def build(cls, vectors: Vectors, *, ivf_threshold: int = IVF_THRESHOLD) -> DenseIndex:
        """Exact search below `ivf_threshold` rows, else a freshly trained IVF index."""
        n = len(vectors)
        if n < ivf_threshold:
            return cls.exact(vectors)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = vectors.shape[1]
        nlist = ivf_lists(n)
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        # k-means on 40 points per list (FAISS asks for 39) in 10 rounds: a 1M build trains
        # in about a minute on 2 cores, and more rounds did not raise recall.
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
    def load(cls, path: Path) -> DenseIndex:
        """An IVF index saved by `save`, memory-mapped: start-up reads only its header.

        MMAP_IFC maps the lists as they lie in the file and searches as fast as a copy in
        memory; plain MMAP made each search ten times slower (3.4 ms against 0.33 at 100k).
        """
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
        # Ask the kernel to start reading the lists into its cache now, without waiting: the
        # first questions then take no disk reads (at 1M a cold search took 13 ms, not 2).
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        finally:
            os.close(fd)
        if not isinstance(index, faiss.IndexIVF):
            raise ValueError(f"{path} holds a {type(index).__name__}, not an IVF index")
        return cls(ivf=index)
