"""Passage ranking: the keyword search run beside the embedding gives what it gives alone, and
each kept passage carries its true cosine."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from retrieval import Engine
from retrieval.answer import search
from retrieval.answer.search import rank_passages
from retrieval.encode.encoder import Encoder
from retrieval.types import Vectors

QUESTIONS = [
    "When is Lee visiting Japan?",
    "How many workers will the chipmaker hire?",
    "Who was rescued from the floods?",
    "snow",
]


def test_overlapped_keyword_search_ranks_as_the_plain_one(
    fake_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_engine._reading() as version:
        plain = [rank_passages(version, q, fake_engine.encoder, "hybrid", 20) for q in QUESTIONS]
        monkeypatch.setattr(search, "OVERLAP_FROM", 0)
        overlapped = [
            rank_passages(version, q, fake_engine.encoder, "hybrid", 20) for q in QUESTIONS
        ]
    assert any(ranked for _, ranked in plain)
    for (query_a, ranked_a), (query_b, ranked_b) in zip(plain, overlapped, strict=True):
        assert ranked_a == ranked_b
        assert query_a is not None and query_b is not None
        assert (query_a == query_b).all()


def test_each_kept_passage_has_its_true_cosine_and_only_those_are_read(
    fake_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_engine._reading() as version:
        vectors = version.passage_vectors
        read: list[int] = []
        original = type(vectors).__getitem__

        def recording(self: object, ids: npt.ArrayLike) -> Vectors:
            read.extend(np.asarray(ids).reshape(-1).tolist())
            return original(vectors, ids)

        monkeypatch.setattr(type(vectors), "__getitem__", recording)
        question = QUESTIONS[2]
        query, ranked = rank_passages(version, question, fake_engine.encoder, "hybrid", 1)
        monkeypatch.undo()
        _, deeper = rank_passages(version, question, fake_engine.encoder, "hybrid", 3)
        _, keyword = rank_passages(version, question, None, "bm25", 1)
        assert query is not None and len(ranked) == 1 and len(deeper) == 3
        # The keyword search's best passage, found by it alone, is cut: its vector is not read.
        assert keyword[0].passage_id != ranked[0].passage_id
        assert read == [] and ranked[0].cosine is not None
        for r in deeper:
            assert r.cosine == pytest.approx(float(vectors[[r.passage_id]][0] @ query), abs=1e-6)


class FailingEncoder:
    """Fails to embed a question once the keyword search has started."""

    def __init__(self, inner: Encoder, started: threading.Event) -> None:
        self.inner = inner
        self.started = started
        self.name = inner.name
        self.dimension = inner.dimension

    def encode_documents(self, texts: Sequence[str]) -> Vectors:
        return self.inner.encode_documents(texts)

    def encode_query(self, text: str) -> Vectors:
        assert self.started.wait(5)
        raise RuntimeError("the encoder failed")


def test_a_failed_embedding_waits_for_the_keyword_search(
    fake_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The keyword search must be over before the error leaves rank_passages: the caller's
    # lease on the version ends there, and a reindex may then close its store.
    monkeypatch.setattr(search, "OVERLAP_FROM", 0)
    started, finished = threading.Event(), threading.Event()
    with fake_engine._reading() as version:
        store = version.store
        original = store.keyword_passages

        def slow_keyword_passages(question: str, limit: int) -> list[tuple[int, float]]:
            started.set()
            found = original(question, limit)
            threading.Event().wait(0.2)
            finished.set()
            return found

        monkeypatch.setattr(store, "keyword_passages", slow_keyword_passages)
        encoder = FailingEncoder(fake_engine.encoder, started)
        with pytest.raises(RuntimeError, match="the encoder failed"):
            rank_passages(version, QUESTIONS[0], encoder, "hybrid", 20)
        assert finished.is_set()
