"""The engine the settings describe: the reader only when CITEBOT_READER=on."""

from __future__ import annotations

from dataclasses import replace

from bot.settings import Settings
from bot.wiring import build_engine, reader_of
from retrieval.answer.reader import OnnxReader


def test_the_reader_is_loaded_only_when_it_is_on(settings: Settings) -> None:
    assert reader_of(settings) is None
    assert isinstance(reader_of(replace(settings, reader=True)), OnnxReader)


def test_the_engine_holds_the_reader_it_was_built_with(settings: Settings) -> None:
    on = replace(settings, reader=True, model="fake", threshold=0.7)
    engine = build_engine(on)
    assert isinstance(engine.reader, OnnxReader)
    assert engine.settings.threshold == 0.7
    assert build_engine(settings).reader is None
