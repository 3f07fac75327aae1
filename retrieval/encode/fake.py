"""A deterministic fake encoder: fast tests with real similarity and no model to load."""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence

import numpy as np

from retrieval.types import Vectors

FAKE_MODEL = "fake"


def _normalise(matrix: Vectors) -> Vectors:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: Vectors = (matrix / norms).astype(np.float32, copy=False)
    return out


_TOKEN = re.compile(r"\w+", re.UNICODE)


class FakeEncoder:
    """Deterministic hashed bag of words and bigrams: fast tests with real similarity.

    Texts sharing words get a positive cosine and unrelated texts about zero, so ranking and
    abstention behave like a real model's on tiny corpora, with no model to load.
    """

    name = FAKE_MODEL

    def __init__(self, dimension: int = 256) -> None:
        self._dimension = dimension

    @property
    def dimension(self) -> int:
        return self._dimension

    def _row(self, text: str) -> Vectors:
        row = np.zeros(self._dimension, dtype=np.float32)
        words = [w.lower() for w in _TOKEN.findall(text)]
        # A text with no word ("* * *") still gets a unit vector, as from a real model: that of
        # the empty feature, the same for every such text.
        features = words + [a + " " + b for a, b in itertools.pairwise(words)] or [""]
        for feature in features:
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self._dimension
            sign = 1.0 if digest[4] & 1 else -1.0
            row[bucket] += sign
        return row

    def encode_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        return _normalise(np.stack([self._row(t) for t in texts]))

    def encode_query(self, text: str) -> Vectors:
        row: Vectors = self.encode_documents([text])[0]
        return row
