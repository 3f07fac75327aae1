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

from retrieval.types import Vectors

# Rows read by the check at open: evenly spaced, the first and the last among them. 64 rows are
# 64 small preads, whatever the file's size: cheap enough for every start.
SAMPLE_ROWS = 64
# Every encoder writes unit rows (encoder.py); float32 rounding moves a norm by ~1e-7.
NORM_TOLERANCE = 1e-2


def sample_rows(rows: int, count: int = SAMPLE_ROWS) -> npt.NDArray[np.int64]:
    """Up to `count` evenly spaced row numbers of `rows`, always the first and the last."""
    if rows <= count:
        return np.arange(max(rows, 0), dtype=np.int64)
    # Integer steps of at least one row: distinct, increasing, from 0 to rows - 1 exactly.
    picked: npt.NDArray[np.int64] = np.arange(count, dtype=np.int64) * (rows - 1) // (count - 1)
    return picked


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

    def bad_sampled_row(self) -> str | None:
        """Read `sample_rows` and say what is wrong with the first that is not a unit vector
        ("row 12 holds NaN or infinity"), or None when all are. Damage between the sampled
        rows is left to the checksums (checksums.py)."""
        ids = sample_rows(self.rows)
        block = self[ids]
        finite = np.asarray(np.isfinite(block).all(axis=1))
        # In float64: a garbage float32 of 1e30 squares past float32's range.
        norms = np.linalg.norm(np.where(finite[:, None], block, 0).astype(np.float64), axis=1)
        good = finite & (np.abs(norms - 1.0) <= NORM_TOLERANCE)
        bad = np.flatnonzero(~good)
        if not len(bad):
            return None
        first = int(bad[0])
        if not finite[first]:
            return f"row {int(ids[first])} holds NaN or infinity"
        return f"row {int(ids[first])} has length {float(norms[first]):.4g}, not 1"

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
