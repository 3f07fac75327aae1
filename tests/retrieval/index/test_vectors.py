"""Reading a vector file by row, and the check at open that reads a sample of its rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from retrieval.index.vectors import SAMPLE_ROWS, VectorFile, sample_rows


@pytest.mark.parametrize("rows", [0, 1, 2, SAMPLE_ROWS, SAMPLE_ROWS + 1, 1000, 1_000_000])
def test_the_sample_is_evenly_spread_and_holds_the_first_and_last_rows(rows: int) -> None:
    picked = sample_rows(rows).tolist()
    assert len(picked) == min(rows, SAMPLE_ROWS)
    assert picked == sorted(set(picked))  # distinct, increasing
    if rows:
        assert (picked[0], picked[-1]) == (0, rows - 1)
    if rows > SAMPLE_ROWS:
        gaps = np.diff(picked)
        assert gaps.max() - gaps.min() <= 1


def unit_rows(rows: int, dimension: int = 16) -> np.ndarray:
    vectors = np.random.default_rng(0).standard_normal((rows, dimension), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


Write = Callable[[np.ndarray], VectorFile]


@pytest.fixture
def write(tmp_path: Path) -> Iterator[Write]:
    """Saves vectors as a version does and opens the file."""
    opened: list[VectorFile] = []

    def write(vectors: np.ndarray) -> VectorFile:
        np.save(tmp_path / "v.npy", vectors.astype(np.float32))
        opened.append(VectorFile.open(tmp_path / "v.npy"))
        return opened[-1]

    yield write
    for vectors in opened:
        vectors.close()


def test_unit_rows_pass(write: Write) -> None:
    assert write(unit_rows(1000)).bad_sampled_row() is None
    assert write(unit_rows(0)).bad_sampled_row() is None


@pytest.mark.parametrize(
    ("value", "row", "problem"),
    [
        (np.nan, 0, "row 0 holds NaN or infinity"),
        (np.inf, 999, "row 999 holds NaN or infinity"),
        (2.0, sample_rows(1000)[31], f"row {sample_rows(1000)[31]} has length 8, not 1"),
        (1e30, 999, "row 999 has length 4e+30, not 1"),  # squares past float32's range
        (0.0, 0, "row 0 has length 0, not 1"),
    ],
    ids=["NaN", "infinity", "twice too long", "garbage", "zero"],
)
def test_a_sampled_row_that_is_not_a_unit_vector_is_named(
    write: Write,
    value: float,
    row: int,
    problem: str,
) -> None:
    vectors = unit_rows(1000)
    vectors[row] = value
    assert write(vectors).bad_sampled_row() == problem


def test_a_row_between_the_samples_is_not_read(write: Write) -> None:
    """The limit of a cheap check: such damage is the checksums' to find (test_checksums.py)."""
    vectors = unit_rows(1000)
    between = int(sample_rows(1000)[1]) + 1
    vectors[between] = np.nan
    assert write(vectors).bad_sampled_row() is None
