"""The engine with the real bundled all-MiniLM-L6-v2 on the seed article."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval import Engine
from retrieval.encode.encoder import Encoder
from tests.conftest import SEEDS

pytestmark = pytest.mark.model

LEE = (
    "Lee is reportedly planning to visit Japan later this month to meet Prime Minister "
    "Sanae Takaichi."
)


def test_lee_question_cites_the_seed_sentence(seed_engine: Engine) -> None:
    answer = seed_engine.ask("When is Lee visiting Japan?")
    assert answer.citation is not None
    c = answer.citation
    assert c.snippet == LEE
    text = (SEEDS / c.source.path).read_text(encoding="utf-8")
    assert text[c.start : c.end] == LEE
    assert c.source.title.startswith("South Korea's President Lee Jae Myung")


@pytest.mark.parametrize(
    "question",
    [
        "Who won the 2022 FIFA World Cup?",
        "What is the boiling point of water at sea level?",
    ],
)
def test_questions_the_seed_cannot_answer_abstain(seed_engine: Engine, question: str) -> None:
    answer = seed_engine.ask(question)
    assert answer.abstained
    assert [s.article_id for s in answer.further] == ["lee-jae-myung-china-visit.txt"]


def test_real_encoder_returns_normalised_vectors(real_encoder: Encoder) -> None:
    import numpy as np

    vectors = real_encoder.encode_documents(["one sentence", "another sentence entirely"])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # int8 dynamic quantization scales activations per batch, so the same text embedded alone
    # and in a batch differs slightly; the fp32 backends agree to 1e-5.
    assert real_encoder.encode_query("one sentence") @ vectors[0] > 0.98


def test_index_survives_reopen(seed_engine: Engine, real_encoder: Encoder) -> None:
    again = Engine(seed_engine.index_dir, SEEDS, real_encoder)
    assert again.load()
    assert again.stats() == seed_engine.stats()
    again.close()


def test_seed_path_is_relative(seed_engine: Engine) -> None:
    assert [Path(s.path).name for s in seed_engine.sources()] == ["lee-jae-myung-china-visit.txt"]
