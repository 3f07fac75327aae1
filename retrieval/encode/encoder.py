"""What the index needs from an embedding model: one narrow, typed front for every backend.

Every encoder returns L2-normalised float32 rows, so an inner product is the cosine. Backends,
one file each, built by `load.load_encoder`:

- `fake`: a deterministic hashed bag of words for tests; no model.
- `torch`: sentence-transformers, the reference; importing it costs seconds.
- `onnx`: the same model on ONNX Runtime, the same embeddings within rounding (cosine > 0.9999),
  with no torch import once the export (`export`) is cached; faster per question.
- `onnx-int8` (the default): int8 weights; embeddings move a little (cosine 0.98-0.99 to
  float32), so its indexes are recorded under their own name and the others refuse them.
  docs/performance.md has the speeds and its answer quality beside torch's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from retrieval.types import Vectors


class Encoder(Protocol):
    """What the index needs from an embedding model."""

    @property
    def name(self) -> str:
        """The model's identity, recorded in the index manifest."""
        ...

    @property
    def dimension(self) -> int: ...

    def encode_documents(self, texts: Sequence[str]) -> Vectors:
        """Embed passages or sentences: shape (len(texts), dimension)."""
        ...

    def encode_query(self, text: str) -> Vectors:
        """Embed one question: shape (dimension,)."""
        ...
