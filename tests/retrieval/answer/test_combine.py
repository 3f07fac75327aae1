"""The combiner's file: what it weighs must be what answering computes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from retrieval.answer.combine import FEATURES, READ, Combiner, load_combiner
from retrieval.errors import CitebotError


def test_a_combiner_survives_its_file(tmp_path: Path) -> None:
    combiner = Combiner(FEATURES, tuple(float(i) for i in range(len(FEATURES))), -1.5, 0.4)
    path = tmp_path / "combiner.json"
    path.write_text(combiner.to_json(), encoding="utf-8")
    assert load_combiner(path) == combiner


def test_probabilities_are_the_logistic_of_the_weighted_sum() -> None:
    weights = (2.0, -1.0) + (0.0,) * (len(FEATURES) - 2)
    combiner = Combiner(FEATURES, weights, 0.5, 0.5)
    rows = np.zeros((2, len(FEATURES)))
    rows[0, :2] = (1.0, 1.0)  # 2 - 1 + 0.5 = 1.5
    rows[1, :2] = (0.0, 3.0)  # -3 + 0.5 = -2.5
    assert combiner.probabilities(rows) == pytest.approx(1 / (1 + np.exp([-1.5, 2.5])))
    with pytest.raises(ValueError, match="3 feature columns"):
        combiner.probabilities(np.zeros((1, 3)))


def test_a_combiner_for_other_features_is_refused(tmp_path: Path) -> None:
    other = Combiner(FEATURES[:-1], (0.0,) * (len(FEATURES) - 1), 0.0, 0.5)
    path = tmp_path / "combiner.json"
    path.write_text(other.to_json(), encoding="utf-8")
    with pytest.raises(CitebotError, match="make reader"):
        load_combiner(path)


@pytest.mark.parametrize("text", ["", "{", '{"features": {}, "bias": "x", "threshold": 0.5}'])
def test_a_damaged_combiner_is_a_clear_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "combiner.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CitebotError, match="CITEBOT_READER=off"):
        load_combiner(path)


def test_a_combiner_without_sure_reads_as_one_that_never_stops_early(tmp_path: Path) -> None:
    path = tmp_path / "combiner.json"
    record = json.loads(Combiner(FEATURES, (0.0,) * len(FEATURES), 0.0, 0.5, 0.7).to_json())
    assert load_combiner(_write(path, record)).sure == 0.7
    del record["sure"]  # a combiner.json from before early stopping
    assert load_combiner(_write(path, record)).sure is None


def _signals(**weights: float) -> Combiner:
    """A combiner of the signals alone, sure at 0.8, with these weights (0 for the rest)."""
    values = tuple(weights.get(name, 0.0) for name in FEATURES)
    return Combiner(FEATURES, values, -1.0, 0.3, sure=0.8)


def test_a_combiner_with_its_signals_survives_its_file(tmp_path: Path) -> None:
    combiner = Combiner(FEATURES, (1.0,) * len(FEATURES), 0.5, 0.3, 0.55, _signals(cosine=2.0))
    path = tmp_path / "combiner.json"
    path.write_text(combiner.to_json(), encoding="utf-8")
    loaded = load_combiner(path)
    assert loaded == combiner
    assert loaded.signals is not None and loaded.signals.threshold == 0.3  # the combiner's own
    record = json.loads(combiner.to_json())
    del record["signals"]  # a combiner.json from before the signals could cite unread
    assert load_combiner(_write(path, record)).signals is None


@pytest.mark.parametrize("feature", READ)
def test_signals_that_weigh_the_reader_are_refused(tmp_path: Path, feature: str) -> None:
    combiner = Combiner(FEATURES, (0.0,) * len(FEATURES), 0.0, 0.3, None, _signals(**{feature: 1}))
    path = tmp_path / "combiner.json"
    path.write_text(combiner.to_json(), encoding="utf-8")
    with pytest.raises(CitebotError, match="reader's features"):
        load_combiner(path)


def test_signals_for_other_features_are_refused(tmp_path: Path) -> None:
    record = json.loads(
        Combiner(FEATURES, (0.0,) * len(FEATURES), 0.0, 0.3, None, _signals()).to_json()
    )
    del record["signals"]["features"]["cosine"]
    with pytest.raises(CitebotError, match="make reader"):
        load_combiner(_write(tmp_path / "combiner.json", record))


def _write(path: Path, record: dict[str, object]) -> Path:
    path.write_text(json.dumps(record), encoding="utf-8")
    return path
