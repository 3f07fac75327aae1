"""The quality benchmark's comparison without the reader: the signals' combiner answers with
nothing read, its probability coming from the search's signals alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.reader_quality import SignalsOnly
from retrieval import AnswerSettings, Engine
from retrieval.answer.combine import FEATURES, Combiner
from tests.conftest import CountingEncoder


def _signals(tmp_path: Path, threshold: float) -> Path:
    # Trusts the sentence the hand-weighted score puts first; the reader's features weigh 1 so
    # that a reader's opinion would show, were one read.
    weights = tuple(
        4.0 if n == "heuristic_first" else 1.0 if n.startswith("reader_") else 0.0 for n in FEATURES
    )
    path = tmp_path / "signals.json"
    path.write_text(Combiner(FEATURES, weights, -2.0, threshold).to_json(), encoding="utf-8")
    return path


def test_the_signals_combiner_reads_nothing_and_cites_what_the_signals_favour(
    tmp_path: Path, corpus: Path, fake_encoder: CountingEncoder
) -> None:
    signals = SignalsOnly(_signals(tmp_path, 0.5))
    assert signals.score("q", ["a", "b"]).tolist() == [0.5, 0.5]  # log-odds 0: no opinion
    without = Engine(tmp_path / "plain", corpus, fake_encoder)
    without.reindex()
    hand = without.ask("How many workers will the chipmaker hire?").citation
    engine = Engine(tmp_path / "index", corpus, fake_encoder, reader=signals)
    engine.reindex()
    answer = engine.ask("How many workers will the chipmaker hire?")
    assert hand is not None and answer.citation is not None
    assert answer.citation.snippet == hand.snippet
    assert answer.citation.score == pytest.approx(1 / (1 + np.exp(-2.0)), abs=1e-4)
    engine.close()
    without.close()


def test_the_signals_combiner_abstains_below_its_threshold(
    tmp_path: Path, corpus: Path, fake_encoder: CountingEncoder
) -> None:
    signals = SignalsOnly(_signals(tmp_path, 0.95))
    engine = Engine(
        tmp_path / "index", corpus, fake_encoder, reader=signals, settings=AnswerSettings()
    )
    engine.reindex()
    assert engine.ask("How many workers will the chipmaker hire?").abstained
    engine.close()
