"""The probe's configurations of the reader's early stops (benchmarks.reader_latency)."""

from __future__ import annotations

import pytest

from benchmarks.probe import with_stops
from retrieval.answer.combine import FEATURES, Combiner

ZEROS = (0.0,) * len(FEATURES)


def test_each_configuration_takes_away_its_stops() -> None:
    signals = Combiner(FEATURES, ZEROS, 1.0, 0.15, sure=0.8)
    shipped = Combiner(FEATURES, ZEROS, 0.0, 0.15, sure=0.55, signals=signals)
    assert with_stops(shipped, "shipped") == shipped
    first = with_stops(shipped, "first")
    assert (first.sure, first.signals) == (0.55, None)
    every = with_stops(shipped, "all")
    assert (every.sure, every.signals) == (None, None)
    assert every.weights == shipped.weights and every.threshold == shipped.threshold
    with pytest.raises(ValueError, match="shipped, first or all"):
        with_stops(shipped, "none")
