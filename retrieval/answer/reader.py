"""The reader: a cross-encoder that scores whether a sentence answers a question.

Search finds the passages about the question; the reader reads each candidate sentence with the
question (and the title and sentence before it, which the sentence may lean on) and gives the
probability that it answers. That probability picks the sentence and decides abstention.

The model is trained by this project from public question-answering data (`make reader`; model
card: docs/reader.md) and ships in `reader_model/` as an int8 ONNX graph that ONNX Runtime runs
with the Rust tokenizer, so the query path stays free of torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tokenizers import Tokenizer

from retrieval.answer.combine import COMBINER_FILE, Combiner, load_combiner
from retrieval.encode.onnx import cpu_session
from retrieval.errors import CitebotError

READER_DIR = Path(__file__).resolve().parent / "reader_model"
MODEL_FILE = "reader-int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
# The length the reader reads, and was last trained at: news titles and sentences fill 96 tokens
# about half the time, and reading time grows with length, so it reads 64. The candidate comes
# first, so a cut loses context only.
MAX_TOKENS = 64
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# The sentence comes first so that truncation cuts the context, never the candidate.
SEPARATOR = " [SEP] "


def reader_document(title: str, previous: str, sentence: str) -> str:
    """What the reader reads beside the question: the sentence, then its title and predecessor."""
    context = f"{title}. {previous}".strip() if previous else title.strip()
    return f"{sentence}{SEPARATOR}{context}" if context else sentence


class Reader(Protocol):
    """Scores (question, document) pairs: the probability that the document answers.

    `combiner`, fitted with the reader's own scores, weighs them with the search's signals; a
    reader without one decides on its probability alone.
    """

    combiner: Combiner | None

    def score(self, question: str, documents: Sequence[str]) -> np.ndarray: ...


class OnnxReader:
    """The trained cross-encoder on ONNX Runtime."""

    def __init__(
        self,
        model_file: Path,
        tokenizer_file: Path,
        *,
        combiner: Combiner | None = None,
        threads: int | None = None,
    ):
        self.combiner = combiner
        try:
            self._session: Any = cpu_session(model_file, threads)
            self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        except Exception as exc:  # onnxruntime and tokenizers raise their own untyped errors
            raise CitebotError(
                f"Cannot load the reader from {model_file.parent} ({exc}); reinstall citebot, "
                "or set CITEBOT_READER=off to answer without it."
            ) from exc
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS, strategy="longest_first")

    def score(self, question: str, documents: Sequence[str]) -> np.ndarray:
        if not documents:
            return np.zeros(0, dtype=np.float32)
        encoded = self._tokenizer.encode_batch([(question, d) for d in documents])
        width = max(len(e.ids) for e in encoded)
        feeds = {name: np.zeros((len(encoded), width), dtype=np.int64) for name in INPUTS}
        for row, e in enumerate(encoded):
            feeds["input_ids"][row, : len(e.ids)] = e.ids
            feeds["attention_mask"][row, : len(e.ids)] = 1
            feeds["token_type_ids"][row, : len(e.ids)] = e.type_ids
        logits = np.asarray(self._session.run(None, feeds)[0], dtype=np.float32).reshape(-1)
        probabilities: np.ndarray = 1.0 / (1.0 + np.exp(-logits))
        return probabilities


def load_reader(
    folder: Path = READER_DIR,
    *,
    combined: bool = True,
    threads: int | None = None,
) -> OnnxReader:
    """The shipped reader (or one in `folder`) with its combiner; without `combined`
    (calibration, which fits the combiner), the reader alone."""
    model, tokenizer = folder / MODEL_FILE, folder / TOKENIZER_FILE
    needed = [model, tokenizer] + ([folder / COMBINER_FILE] if combined else [])
    if not all(path.is_file() for path in needed):
        raise CitebotError(
            f"The reader is missing from {folder} (expected "
            f"{', '.join(path.name for path in needed)}); rebuild it with `make reader`, or set "
            "CITEBOT_READER=off."
        )
    combiner = load_combiner(folder / COMBINER_FILE) if combined else None
    return OnnxReader(model, tokenizer, combiner=combiner, threads=threads)
