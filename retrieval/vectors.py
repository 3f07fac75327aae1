"""A version's `.npy` vector file, read a few rows at a time.

Questions read the vectors of a few dozen candidate sentences and passages. Through a memory
map each such read also maps the neighbouring pages into the process (the kernel reads around a
fault), so a server's resident memory grew by 1.1 KB per passage over 100 questions at 100k
passages, for vectors it never used; `pread` into a fresh array maps nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from retrieval.encoder import Vectors


class VectorFile:
    """Rows of a float32 matrix saved by `np.save`; index it with an array of row numbers."""

    def __init__(self, path: Path, rows: int, dimension: int, offset: int) -> None:
        self.path = path
        self.rows = rows
        self.dimension = dimension
        self._offset = offset
        self._fd = os.open(path, os.O_RDONLY)

    @classmethod
    def open(cls, path: Path) -> VectorFile:
        """Open and check the header; OSError or ValueError say what is wrong."""
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
            else:
                raise ValueError(f"it is in .npy format {version}, which citebot does not write")
            offset = handle.tell()
        if dtype != np.float32 or fortran or len(shape) != 2:
            raise ValueError(f"it holds {shape} {dtype}, not rows of float32")
        rows, dimension = int(shape[0]), int(shape[1])
        if os.path.getsize(path) != offset + rows * dimension * 4:
            raise ValueError("it is shorter or longer than its header says")
        return cls(path, rows, dimension, offset)

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows, self.dimension

    def __len__(self) -> int:
        return self.rows

    def __getitem__(self, ids: npt.ArrayLike) -> Vectors:
        """The rows `ids`, in that order."""
        wanted = np.asarray(ids, dtype=np.int64).reshape(-1)
        if not len(wanted):
            return np.zeros((0, self.dimension), dtype=np.float32)
        if wanted.min() < 0 or wanted.max() >= self.rows:
            raise IndexError(f"row ids must be in 0..{self.rows - 1}")
        unique, inverse = np.unique(wanted, return_inverse=True)
        found = np.empty((len(unique), self.dimension), dtype=np.float32)
        # One read per run of consecutive rows.
        starts = np.flatnonzero(np.diff(unique, prepend=-2) != 1)
        ends = np.append(starts[1:], len(unique))
        row_bytes = self.dimension * 4
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            self._read_into(found[start:end], self._offset + int(unique[start]) * row_bytes)
        out: Vectors = found[inverse.reshape(-1)]
        return out

    def _read_into(self, block: Vectors, offset: int) -> None:
        view = memoryview(block.data).cast("B")
        done = 0
        while done < len(view):
            got = os.preadv(self._fd, [view[done:]], offset + done)
            if got <= 0:
                raise OSError(f"{self.path} ended early; rebuild the index with a reindex")
            done += got

    def mapped(self) -> Vectors:
        """The whole matrix as a read-only memory map, for a scan of every row."""
        array: Vectors = np.load(self.path, mmap_mode="r", allow_pickle=False)
        return array

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
