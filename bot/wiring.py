"""Building the engine from the settings: the one place the bot wires the library together."""

from __future__ import annotations

from bot.settings import Settings
from retrieval import AnswerSettings, Engine, load_encoder
from retrieval.answer.reader import Reader, load_reader


def build_engine(settings: Settings, *, further: int | None = None) -> Engine:
    """The engine the settings describe, with its encoder loaded (seconds: call it off the event
    loop). `further` overrides how many further sources an answer lists."""
    answer_settings = (
        AnswerSettings(threshold=settings.threshold)
        if further is None
        else AnswerSettings(threshold=settings.threshold, further=further)
    )
    return Engine(
        settings.index_dir,
        settings.articles_dir,
        load_encoder(settings.model, backend=settings.encoder),
        settings=answer_settings,
        reader=reader_of(settings),
        max_bytes=settings.max_file_bytes,
        passage_vectors=settings.passage_vectors,
    )


def reader_of(settings: Settings) -> Reader | None:
    """The shipped reader, unless CITEBOT_READER=off."""
    return load_reader() if settings.reader else None
