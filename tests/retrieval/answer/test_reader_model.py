"""The shipped reader: the file the model card names, and what it has learnt."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from retrieval.answer.combine import FEATURES
from retrieval.answer.reader import MODEL_FILE, READER_DIR, OnnxReader, load_reader, reader_document

REPO = Path(__file__).resolve().parents[3]
# How far the shipped int8 graph may stray from the float32 model it was exported from, in
# probability, on held-out training pairs (docs/reader.md gives the measured figures: mean
# 0.020, 95th percentile 0.087, max 0.221). int8 kernels round differently on CPUs with and
# without VNNI, and a pair near p = 0.5, where a small change of logit moves the probability
# most, sets the max: so the bounds are on the mean and the 95th percentile, with a looser max.
MEAN_TOLERANCE = 0.03
P95_TOLERANCE = 0.12
MAX_TOLERANCE = 0.3


@pytest.fixture(scope="module")
def reader() -> OnnxReader:
    return load_reader()


def test_the_shipped_file_matches_the_model_card() -> None:
    card = (REPO / "docs" / "reader.md").read_text(encoding="utf-8")
    recorded = re.search(r"sha256 `([0-9a-f]{64})`", card)
    assert recorded is not None, "docs/reader.md records the file's SHA-256"
    digest = hashlib.sha256((READER_DIR / MODEL_FILE).read_bytes()).hexdigest()
    assert digest == recorded.group(1)


def test_the_reader_ships_with_its_combiner(reader: OnnxReader) -> None:
    combiner = reader.combiner
    assert combiner is not None
    assert combiner.names == FEATURES
    assert 0.0 < combiner.threshold < 1.0
    # The card gives the threshold it ships with.
    card = (REPO / "docs" / "reader.md").read_text(encoding="utf-8")
    assert f"threshold {combiner.threshold:.2f}" in card
    # Trusting the reader more, all else equal, never lowers the probability of answering.
    assert combiner.weights[FEATURES.index("reader_logit")] > 0


@pytest.mark.model
@pytest.mark.xfail(
    strict=True,
    reason="the shipped reader (stage 2, docs/reader.md) ranks the sentence that restates "
    "the question first (0.87 against the answer's 0.81 with the stage-2 reader); a better one "
    "turns this into a failure to remove",
)
def test_the_answer_sentence_ranks_above_its_distractors(reader: OnnxReader) -> None:
    title = "Harbour bridge to close for repairs"
    sentences = [
        "The city's harbour bridge will be closed to traffic for repairs, officials said.",
        "The bridge will close for three days in March while workers replace its cables.",
        "The bridge, opened in 1932, carries about 160,000 vehicles a day.",
        "Drivers have been asked to use the tunnel instead.",
    ]
    documents = [
        reader_document(title, sentences[i - 1] if i else "", s) for i, s in enumerate(sentences)
    ]
    scores = reader.score("How long will the harbour bridge be closed?", documents)
    assert int(np.argmax(scores)) == 1
    assert scores[1] > 0.5
    # The same article, asked for a fact it does not hold: nothing reads as the answer.
    unanswerable = reader.score("How much will the repairs cost?", documents)
    assert float(unanswerable.max()) < float(scores[1])


@pytest.mark.model
def test_int8_agrees_with_the_float32_model(reader: OnnxReader) -> None:
    path = REPO / "tests" / "data" / "reader_agreement.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(records) >= 100
    int8 = np.concatenate([reader.score(r["question"], [r["document"]]) for r in records])
    fp32 = np.asarray([r["fp32"] for r in records])
    gap = np.abs(int8 - fp32)
    assert gap.mean() <= MEAN_TOLERANCE
    assert np.percentile(gap, 95) <= P95_TOLERANCE
    assert gap.max() <= MAX_TOLERANCE
