"""Answering with a reader: it picks the sentence and decides abstention (scripted readers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from retrieval import AnswerSettings, Engine
from retrieval.answer.combine import FEATURES, Combiner
from retrieval.answer.reader import SEPARATOR
from tests.conftest import CountingEncoder


class ScriptedReader:
    """Gives each document the probability of the first rule whose words its sentence holds."""

    def __init__(
        self, rules: dict[str, float], default: float = 0.01, combiner: Combiner | None = None
    ) -> None:
        self.rules = rules
        self.default = default
        self.combiner = combiner
        self.seen: list[tuple[str, list[str]]] = []

    def score(self, question: str, documents: Sequence[str]) -> np.ndarray:
        self.seen.append((question, list(documents)))
        out = []
        for document in documents:
            sentence = document.split(SEPARATOR)[0]
            out.append(next((p for w, p in self.rules.items() if w in sentence), self.default))
        return np.asarray(out, dtype=np.float32)


def _engine(
    tmp_path: Path,
    corpus: Path,
    encoder: CountingEncoder,
    reader: ScriptedReader,
    **settings: float,
) -> Engine:
    engine = Engine(
        tmp_path / "index", corpus, encoder, reader=reader, settings=AnswerSettings(**settings)
    )
    engine.reindex()
    return engine


def test_the_reader_picks_the_sentence_it_finds_answers(
    tmp_path: Path, corpus: Path, fake_encoder: CountingEncoder
) -> None:
    reader = ScriptedReader({"expects to hire": 0.2, "new factory in Arizona": 0.9})
    engine = _engine(tmp_path, corpus, fake_encoder, reader)
    answer = engine.ask("How many workers will the chipmaker hire?")
    assert answer.citation is not None
    assert answer.citation.snippet == "The chipmaker will build a new factory in Arizona."
    assert answer.citation.score == pytest.approx(0.9)
    article = next(a for a in engine.sources() if a.article_id == "chips-1")
    assert article.title == "Chipmaker expands"
    # It read the question with each candidate, its title and the sentence before it.
    question, documents = reader.seen[-1]
    assert question == "How many workers will the chipmaker hire?"
    hire = next(d for d in documents if d.startswith("The chipmaker expects"))
    assert hire == (
        "The chipmaker expects to hire 3,000 workers by 2027."
        f"{SEPARATOR}Chipmaker expands. The chipmaker will build a new factory in Arizona."
    )
    engine.close()


def test_the_reader_abstains_below_the_threshold(
    tmp_path: Path, corpus: Path, fake_encoder: CountingEncoder
) -> None:
    reader = ScriptedReader({"expects to hire": 0.45})
    engine = _engine(tmp_path, corpus, fake_encoder, reader, threshold=0.5)
    answer = engine.ask("How many workers will the chipmaker hire?")
    assert answer.abstained
    assert answer.further and answer.further[0].article_id == "chips-1"
    engine.close()


def test_the_threshold_is_the_readers_probability(
    tmp_path: Path, corpus: Path, fake_encoder: CountingEncoder
) -> None:
    reader = ScriptedReader({"expects to hire": 0.45})
    engine = _engine(tmp_path, corpus, fake_encoder, reader, threshold=0.4)
    answer = engine.ask("How many workers will the chipmaker hire?")
    assert answer.citation is not None
    assert answer.citation.snippet == "The chipmaker expects to hire 3,000 workers by 2027."
    engine.close()


def test_the_reader_reads_only_the_shortlist(
    tmp_path: Path, corpus: Path, fake_encoder: CountingEncoder
) -> None:
    reader = ScriptedReader({})
    engine = _engine(tmp_path, corpus, fake_encoder, reader, read=2)
    engine.ask("How many workers will the chipmaker hire?")
    assert len(reader.seen[-1][1]) == 2
    engine.close()


@pytest.mark.parametrize("mode", ["dense", "bm25"])
def test_the_plain_modes_do_not_use_the_reader(
    tmp_path: Path, corpus: Path, fake_encoder: CountingEncoder, mode: str
) -> None:
    reader = ScriptedReader({})
    engine = _engine(tmp_path, corpus, fake_encoder, reader)
    engine.ask("How many workers will the chipmaker hire?", mode=mode)  # type: ignore[arg-type]
    assert reader.seen == []
    engine.close()


def test_a_citation_leaning_on_its_sentence_before_stays_verbatim(
    tmp_path: Path, corpus: Path, fake_encoder: CountingEncoder
) -> None:
    reader = ScriptedReader({"Xiaomi": 0.95})
    engine = _engine(tmp_path, corpus, fake_encoder, reader)
    answer = engine.ask("Which phone did Lee use to take selfies with Xi?")
    assert answer.citation is not None
    c = answer.citation
    assert (corpus / "lee.txt").read_text(encoding="utf-8")[c.start : c.end] == c.snippet
    assert c.snippet.endswith("He also took selfies with Xi using a Xiaomi phone.")
    engine.close()


def _only(feature: str, weight: float, bias: float = 0.0, threshold: float = 0.5) -> Combiner:
    """A combiner that weighs one feature alone."""
    weights = tuple(weight if name == feature else 0.0 for name in FEATURES)
    return Combiner(FEATURES, weights, bias, threshold)


def test_the_combiner_can_overrule_the_reader(
    tmp_path: Path, corpus: Path, fake_encoder: CountingEncoder
) -> None:
    question = "How many workers will the chipmaker hire?"
    # The reader's favourite is not the sentence the hand-weighted score puts first...
    plain = ScriptedReader({"new factory in Arizona": 0.9})
    engine = _engine(tmp_path / "plain", corpus, fake_encoder, plain, threshold=0.0)
    by_reader = engine.ask(question).citation
    engine.close()
    assert by_reader is not None and "new factory" in by_reader.snippet
    # ... and a combiner that trusts only that score cites the other one.
    trusting = ScriptedReader({"new factory in Arizona": 0.9}, combiner=_only("heuristic_first", 4))
    engine = _engine(tmp_path / "combined", corpus, fake_encoder, trusting, threshold=0.0)
    answer = engine.ask(question)
    engine.close()
    assert answer.citation is not None
    assert answer.citation.snippet == "The chipmaker expects to hire 3,000 workers by 2027."
    # Its score is the combiner's probability: sigmoid(4).
    assert answer.citation.score == pytest.approx(1 / (1 + np.exp(-4)), abs=1e-4)


def test_the_combiners_threshold_decides_abstention(
    tmp_path: Path, corpus: Path, fake_encoder: CountingEncoder
) -> None:
    question = "How many workers will the chipmaker hire?"
    # The reader is sure, but the combiner weighs its log-odds down to a probability of
    # sigmoid(0.5 * logit(0.9) - 2) = 0.289.
    combiner = _only("reader_logit", 0.5, bias=-2.0, threshold=0.3)
    reader = ScriptedReader({"expects to hire": 0.9}, combiner=combiner)
    engine = _engine(tmp_path / "shipped", corpus, fake_encoder, reader)
    assert engine.ask(question).abstained
    engine.close()
    # A threshold set in the settings overrides the combiner's own.
    engine = _engine(tmp_path / "set", corpus, fake_encoder, reader, threshold=0.2)
    answer = engine.ask(question)
    engine.close()
    assert answer.citation is not None
    assert answer.citation.score == pytest.approx(0.2888, abs=1e-3)


def _stopping(
    folder: Path, corpus: Path, encoder: CountingEncoder, first: float, combiner: Combiner
) -> tuple[list[int], str | None]:
    """How many sentences each read held, and the snippet cited, when the reader gives the
    first-scored sentence ("expects to hire") `first` and a later one 0.95."""
    reader = ScriptedReader(
        {"expects to hire": first, "new factory in Arizona": 0.95}, combiner=combiner
    )
    engine = _engine(folder, corpus, encoder, reader, threshold=0.0)
    answer = engine.ask("How many workers will the chipmaker hire?")
    engine.close()
    snippet = None if answer.citation is None else answer.citation.snippet
    return [len(documents) for _, documents in reader.seen], snippet


HIRE = "The chipmaker expects to hire 3,000 workers by 2027."
FACTORY = "The chipmaker will build a new factory in Arizona."


def test_a_sure_first_sentence_leaves_the_rest_unread(
    tmp_path: Path, corpus: Path, fake_encoder: CountingEncoder
) -> None:
    combiner = replace(_only("reader_logit", 1.0), sure=0.8)  # its probability is the reader's
    # The hand-weighted score puts "expects to hire" first: at 0.9 (sure) it is cited, and the
    # other sentences are never read...
    assert _stopping(tmp_path / "sure", corpus, fake_encoder, 0.9, combiner) == ([1], HIRE)
    # ... at 0.7 the rest is read as well, and a better sentence there wins.
    assert _stopping(tmp_path / "unsure", corpus, fake_encoder, 0.7, combiner) == (
        [1, 2],
        FACTORY,
    )


def test_the_combiner_not_the_reader_alone_decides_to_stop(
    tmp_path: Path, corpus: Path, fake_encoder: CountingEncoder
) -> None:
    # The reader gives the first sentence 0.9, but the combiner weighs that down to
    # sigmoid(logit(0.9) - 2) = 0.55, under its sure of 0.8: the rest is read.
    doubting = replace(_only("reader_logit", 1.0, bias=-2.0, threshold=0.0), sure=0.8)
    assert _stopping(tmp_path / "doubting", corpus, fake_encoder, 0.9, doubting) == (
        [1, 2],
        FACTORY,
    )
    # A reader of 0.6 that the combiner trusts more (sigmoid(logit(0.6) + 2) = 0.92) stops it.
    trusting = replace(_only("reader_logit", 1.0, bias=2.0, threshold=0.0), sure=0.8)
    assert _stopping(tmp_path / "trusting", corpus, fake_encoder, 0.6, trusting) == ([1], HIRE)


def test_a_first_sentence_the_signals_are_sure_of_is_cited_unread(
    tmp_path: Path, corpus: Path, fake_encoder: CountingEncoder
) -> None:
    # The signals' combiner gives the hand-weighted first sentence sigmoid(4) = 0.982.
    signals = replace(_only("heuristic_first", 4.0), sure=0.95)
    combiner = replace(_only("reader_logit", 1.0), sure=0.8, signals=signals)
    reader = ScriptedReader({"new factory in Arizona": 0.95}, combiner=combiner)
    engine = _engine(tmp_path / "unread", corpus, fake_encoder, reader, threshold=0.0)
    answer = engine.ask("How many workers will the chipmaker hire?")
    engine.close()
    assert reader.seen == []  # nothing read
    assert answer.citation is not None and answer.citation.snippet == HIRE
    assert answer.citation.score == pytest.approx(1 / (1 + np.exp(-4)), abs=1e-4)
    # Under the signals' own sure, the reader reads as before, and its favourite wins.
    doubting = replace(combiner, signals=replace(signals, sure=0.99))
    assert _stopping(tmp_path / "read", corpus, fake_encoder, 0.1, doubting) == ([1, 2], FACTORY)


def test_a_sentence_cited_unread_still_abstains_below_the_threshold(
    tmp_path: Path, corpus: Path, fake_encoder: CountingEncoder
) -> None:
    signals = replace(_only("heuristic_first", 4.0), sure=0.95)
    combiner = replace(_only("reader_logit", 1.0), sure=0.8, signals=signals)
    reader = ScriptedReader({}, combiner=combiner)
    engine = _engine(tmp_path, corpus, fake_encoder, reader, threshold=0.99)
    assert engine.ask("How many workers will the chipmaker hire?").abstained
    engine.close()
    assert reader.seen == []
