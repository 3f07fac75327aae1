"""The reference backend: sentence-transformers on torch."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.errors import CitebotError
from retrieval.types import Vectors


class SentenceTransformerEncoder:
    """sentence-transformers on torch: the reference path."""

    def __init__(self, path: Path, name: str, *, batch_size: int = 64) -> None:
        # Importing torch costs seconds; pay it only when this encoder is really built.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        self._model: Any = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self._name = name
        self._batch_size = batch_size
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise CitebotError(f"The model at {path} does not state its embedding dimension.")
        self._dimension = int(dim)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        out = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        vectors: Vectors = np.asarray(out, dtype=np.float32)
        return vectors

    def encode_query(self, text: str) -> Vectors:
        row: Vectors = self.encode_documents([text])[0]
        return row
