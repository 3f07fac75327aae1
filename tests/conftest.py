"""Shared fixtures: an isolated environment, the fake encoder, tiny corpora, the real model."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from retrieval import Engine
from retrieval.encode.encoder import Encoder
from retrieval.encode.fake import FakeEncoder
from retrieval.encode.load import load_encoder
from retrieval.types import Vectors

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
# The small evaluation data the tests use, copied from the project's dev sets: a clone has no
# ../shared beside it.
EVAL_DATA = REPO / "tests" / "data" / "eval"


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's .env or Discord token, or writes outside tmp_path."""
    for key in list(os.environ):
        if key.startswith("CITEBOT_") or key == "DISCORD_TOKEN":
            monkeypatch.delenv(key)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


class CountingEncoder:
    """Wraps an encoder and records every text it embeds."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.texts: list[str] = []

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def encode_documents(self, texts: Sequence[str]) -> Vectors:
        self.texts.extend(texts)
        return self.inner.encode_documents(texts)

    def encode_query(self, text: str) -> Vectors:
        return self.inner.encode_query(text)


@pytest.fixture
def fake_encoder() -> CountingEncoder:
    return CountingEncoder(FakeEncoder())


@pytest.fixture(scope="session")
def real_encoder() -> Encoder:
    """The bundled all-MiniLM-L6-v2, loaded once per test session."""
    return load_encoder("all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def seed_engine(
    real_encoder: Encoder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """An engine over seeds/ with the real model, indexed once per test module."""
    engine = Engine(tmp_path_factory.mktemp("index"), SEEDS, real_encoder)
    engine.reindex()
    yield engine
    engine.close()


CORPUS = {
    "lee.txt": (
        "Lee visits China\n"
        "South Korea's President Lee Jae Myung met Xi Jinping in Beijing on Monday.\n"
        "Lee is reportedly planning to visit Japan later this month to meet Prime Minister "
        "Sanae Takaichi.\nHe also took selfies with Xi using a Xiaomi phone."
    ),
    "rain.md": (
        "---\ntitle: Floods in Valencia\nurl: https://example.org/valencia\n"
        "published: 2024-10-30\n---\n"
        "Heavy rain caused floods across Valencia on Tuesday.\n"
        "Emergency services rescued 200 people from flooded cars, officials said."
    ),
    "chips.jsonl": (
        '{"id": "chips-1", "title": "Chipmaker expands", "url": null, "published": "2025-03-01",'
        ' "text": "The chipmaker will build a new factory in Arizona. The chipmaker expects to'
        " hire 3,000 workers by 2027. Mr. Chen, the chief executive, announced the plan in"
        ' Phoenix."}\n'
    ),
}


def write_corpus(folder: Path, files: dict[str, str] = CORPUS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "articles")


@pytest.fixture
def fake_engine(corpus: Path, tmp_path: Path, fake_encoder: CountingEncoder) -> Iterator[Engine]:
    engine = Engine(tmp_path / "index", corpus, fake_encoder)
    engine.reindex()
    yield engine
    engine.close()


def change_a_middle_byte(name: str) -> Callable[[Path], None]:
    """Change a byte in the middle of a version's file (the postings' impacts, the FAISS file's
    lists), keeping the file's size."""

    def change(version: Path) -> None:
        with open(version / name, "r+b") as handle:
            handle.seek(handle.seek(0, 2) // 2)
            byte = handle.read(1)
            handle.seek(-1, 1)
            handle.write(bytes([byte[0] ^ 0xFF]))

    return change
