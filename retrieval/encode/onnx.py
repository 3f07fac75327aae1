"""The encoder on ONNX Runtime and the Rust tokenizer: no torch on the query path.

The ONNX files are made from the model's own weights by `retrieval.encode.export`, once per
machine, in a child process, and kept in a cache folder keyed by the model files' identity:

    CACHE_DIR/onnx/NAME-KEY/model.onnx         float32, pooled and normalised in the graph
    CACHE_DIR/onnx/NAME-KEY/model-int8.onnx    int8 weights
    CACHE_DIR/onnx/.lock                       held while one process exports

The cache lives outside any index folder so that one export serves every index and process on
the machine; a changed model file, onnxruntime version or export recipe gives a new KEY.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from retrieval.encode.export import FLOAT_FILE, INPUTS, INT8_FILE
from retrieval.errors import CitebotError
from retrieval.types import Vectors

# Bump when `export` would write a different graph for the same weights.
RECIPE = 1
# Rows of one batch, and its padded size in tokens: a budget keeps a batch of long passages
# from outgrowing the caches.
MAX_BATCH = 64
TOKEN_BUDGET = 8192


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "citebot"


def cores() -> int:
    """CPUs this process may run on (a container's limit, not the host's count)."""
    return len(os.sched_getaffinity(0))


def cpu_session(model_file: Path, threads: int | None = None) -> Any:
    """An ONNX Runtime session on the CPU, tuned for one query at a time; raises what
    onnxruntime raises."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or cores()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Threads spin between the ops of a run, which halves the hand-offs' cost, but stop when it
    # ends: left spinning, they take the cores from the search and answer code that follow
    # (docs/performance.md).
    options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    options.add_session_config_entry("session.force_spinning_stop", "1")
    return ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])


class OnnxEncoder:
    """A sentence-transformers model (mean pooling, normalised) run by ONNX Runtime."""

    def __init__(
        self,
        model_file: Path,
        tokenizer_file: Path,
        *,
        name: str,
        max_tokens: int,
        threads: int | None = None,
    ) -> None:
        try:
            self._session: Any = cpu_session(model_file, threads)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise CitebotError(
                f"ONNX Runtime cannot load {model_file} ({exc}); delete {model_file.parent} "
                "and it is made again on next start."
            ) from exc
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        # tokenizer.json pads every text to 128 and cuts there; we cut at the model's own limit
        # and pad each batch only to its longest text.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_tokens)
        self._name = name
        width = self._session.get_outputs()[0].shape[1]
        if not isinstance(width, int):
            raise CitebotError(f"{model_file} does not state its embedding dimension.")
        self._dimension = width

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode_documents(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        if not texts:
            return out
        ids = [e.ids for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=True)]
        # Similar lengths batch together, so a batch pads little.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        batches: list[list[int]] = []
        begin = 0
        while begin < len(order):
            end = begin + 1
            # Sorted ascending, so the last row of a batch is its longest.
            while (
                end < len(order)
                and end - begin < MAX_BATCH
                and (end - begin + 1) * len(ids[order[end]]) <= TOKEN_BUDGET
            ):
                end += 1
            batches.append(order[begin:end])
            begin = end
        for rows in batches:
            out[rows] = self._run([ids[i] for i in rows])
        return out

    def encode_query(self, text: str) -> Vectors:
        row: Vectors = self._run([self._tokenizer.encode(text).ids])[0]
        return row

    def _run(self, batch: list[list[int]]) -> Vectors:
        width = max(len(row) for row in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for i, row in enumerate(batch):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        feeds = dict(zip(INPUTS, (input_ids, mask, np.zeros_like(input_ids)), strict=True))
        vectors: Vectors = self._session.run(None, feeds)[0]
        return vectors


def load_onnx_encoder(
    model_dir: Path,
    name: str,
    *,
    int8: bool,
    cache_dir: Path | None = None,
    threads: int | None = None,
) -> OnnxEncoder:
    """The ONNX encoder for a sentence-transformers folder, exporting it first if need be;
    `threads` per call (default: every core this process may use)."""
    _check_supported(model_dir)
    folder = exported(model_dir, name, cache_dir or default_cache_dir())
    return OnnxEncoder(
        folder / (INT8_FILE if int8 else FLOAT_FILE),
        model_dir / "tokenizer.json",
        name=name + "+int8" if int8 else name,
        max_tokens=_max_tokens(model_dir),
        threads=threads,
    )


def exported(model_dir: Path, name: str, cache_dir: Path) -> Path:
    """The cache folder holding the model's ONNX files, made (once, under a lock) if missing."""
    root = cache_dir / "onnx"
    folder = root / f"{name}-{_identity(model_dir)}"
    if (folder / FLOAT_FILE).is_file():
        return folder
    try:
        root.mkdir(parents=True, exist_ok=True)
        with open(root / ".lock", "a+") as lock:
            # Another process exporting the same model: wait for it rather than export twice.
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (folder / FLOAT_FILE).is_file():
                _run_export(model_dir, folder)
    except OSError as exc:
        raise CitebotError(
            f"Cannot write the ONNX cache in {root} ({exc}); make it writable, or set "
            "CITEBOT_ENCODER=torch."
        ) from exc
    return folder


def _run_export(model_dir: Path, folder: Path) -> None:
    # A child process: torch's import time and memory stay out of the serving process.
    result = subprocess.run(
        [sys.executable, "-m", "retrieval.encode.export", str(model_dir), str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise CitebotError(
            f"Exporting {model_dir} to ONNX failed ({detail}); set CITEBOT_ENCODER=torch to "
            "use the model without ONNX."
        )


def _identity(model_dir: Path) -> str:
    """A short key that changes when any model file, onnxruntime or the recipe changes.

    File sizes and modification times stand in for a hash of the weights, which would cost a
    read of ~90 MB at every start.
    """
    digest = hashlib.sha256(f"{RECIPE} {ort.__version__}".encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(model_dir)} {stat.st_size} {stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _check_supported(model_dir: Path) -> None:
    if not (model_dir / "tokenizer.json").is_file():
        raise CitebotError(
            f"{model_dir} has no tokenizer.json, which the ONNX encoder needs; set "
            "CITEBOT_ENCODER=torch for this model."
        )
    pooling = _json(model_dir / "1_Pooling" / "config.json")
    if pooling and not pooling.get("pooling_mode_mean_tokens", False):
        raise CitebotError(
            f"{model_dir} pools by {sorted(k for k, v in pooling.items() if v is True)}; the "
            "ONNX encoder does mean pooling only. Set CITEBOT_ENCODER=torch for this model."
        )


def _max_tokens(model_dir: Path) -> int:
    config = _json(model_dir / "sentence_bert_config.json")
    return int(config.get("max_seq_length", 256))


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CitebotError(f"Cannot read {path} ({exc}).") from exc
    return data if isinstance(data, dict) else {}
