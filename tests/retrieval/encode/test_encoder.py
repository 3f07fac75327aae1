"""Encoder backends: choosing one, the ONNX export cache, and agreement with torch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from retrieval import Engine, ModelMismatch
from retrieval.encode.encoder import Encoder
from retrieval.encode.fake import FakeEncoder
from retrieval.encode.load import (
    BACKENDS,
    DEFAULT_BACKEND,
    DEFAULT_MODEL,
    bundled_model_path,
    load_encoder,
)
from retrieval.encode.onnx import FLOAT_FILE, INT8_FILE, load_onnx_encoder
from retrieval.errors import CitebotError
from retrieval.index.version import IndexVersion, current_version
from tests.conftest import EVAL_DATA, REPO, SEEDS

# Texts of every shape the index embeds: a title line, a long passage cut at 256 tokens,
# a short sentence, a question, punctuation and accents.
TEXTS = [
    "South Korea's president visits China\nLee Jae Myung met Xi Jinping in Beijing on Monday.",
    " ".join(["The committee reviewed the budget line by line before the vote."] * 40),
    "Rain.",
    "When is Lee visiting Japan?",
    "Café owners in Zürich said the new rules — announced on 3 March — were 'unworkable'.",
]


# --- choosing a backend (no model needed) ---


def test_unknown_backend_names_the_valid_ones() -> None:
    with pytest.raises(CitebotError) as caught:
        load_encoder(DEFAULT_MODEL, backend="tensorrt")  # type: ignore[arg-type]
    for name in BACKENDS:
        assert name in str(caught.value)


def test_fake_model_ignores_the_backend() -> None:
    assert isinstance(load_encoder("fake", backend="onnx-int8"), FakeEncoder)


def test_fake_rows_are_unit_vectors_even_for_texts_without_words() -> None:
    """What the check at open relies on (index/version.py): every row has length 1, as from a real
    model; texts with no word to hash all get the vector of the empty feature."""
    rows = FakeEncoder().encode_documents([*TEXTS, "* * *", "—"])
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-6)
    assert np.array_equal(rows[-1], rows[-2])
    assert not any(np.array_equal(rows[-1], row) for row in rows[: len(TEXTS)])


def test_onnx_refuses_a_model_it_cannot_run(tmp_path: Path) -> None:
    with pytest.raises(CitebotError, match=r"tokenizer\.json.*CITEBOT_ENCODER=torch"):
        load_onnx_encoder(tmp_path, "bare", int8=False, cache_dir=tmp_path)
    (tmp_path / "tokenizer.json").write_text("{}", encoding="utf-8")
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}),
        encoding="utf-8",
    )
    with pytest.raises(CitebotError, match="mean pooling only"):
        load_onnx_encoder(tmp_path, "cls", int8=False, cache_dir=tmp_path)


# --- the real model: one export per test session, into a temporary cache ---


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def encoders(onnx_cache: Path) -> dict[str, Encoder]:
    return {
        backend: load_encoder(DEFAULT_MODEL, backend=backend, cache_dir=onnx_cache)
        for backend in BACKENDS
    }


@pytest.mark.model
def test_the_export_is_cached_once_beside_nothing_else(
    encoders: dict[str, Encoder], onnx_cache: Path
) -> None:
    def exports() -> list[Path]:
        return [p for p in (onnx_cache / "onnx").iterdir() if not p.name.startswith(".")]

    (folder,) = exports()
    assert folder.name.startswith(DEFAULT_MODEL + "-")
    # Written whole or not at all: no temporary files are left beside the two models.
    assert sorted(p.name for p in folder.iterdir()) == sorted([FLOAT_FILE, INT8_FILE])
    made = (folder / FLOAT_FILE).stat().st_mtime_ns
    again = load_encoder(DEFAULT_MODEL, backend="onnx", cache_dir=onnx_cache)
    assert exports() == [folder]
    assert (folder / FLOAT_FILE).stat().st_mtime_ns == made
    assert again.name == DEFAULT_MODEL


@pytest.mark.model
def test_onnx_float32_embeds_as_torch_does(encoders: dict[str, Encoder]) -> None:
    torch_rows = encoders["torch"].encode_documents(TEXTS)
    onnx_rows = encoders["onnx"].encode_documents(TEXTS)
    assert onnx_rows.shape == (len(TEXTS), 384) and onnx_rows.dtype == np.float32
    assert np.min(np.sum(torch_rows * onnx_rows, axis=1)) > 0.9999
    query = encoders["onnx"].encode_query(TEXTS[3])
    assert float(query @ encoders["torch"].encode_query(TEXTS[3])) > 0.9999


@pytest.mark.model
def test_onnx_int8_stays_close_to_float32(encoders: dict[str, Encoder]) -> None:
    float_rows = encoders["onnx"].encode_documents(TEXTS)
    int8_rows = encoders["onnx-int8"].encode_documents(TEXTS)
    assert np.min(np.sum(float_rows * int8_rows, axis=1)) >= 0.98
    assert np.allclose(np.linalg.norm(int8_rows, axis=1), 1.0, atol=1e-5)


@pytest.mark.model
def test_batching_does_not_change_float32_embeddings(encoders: dict[str, Encoder]) -> None:
    together = encoders["onnx"].encode_documents(TEXTS)
    alone = np.stack([encoders["onnx"].encode_query(t) for t in TEXTS])
    assert np.min(np.sum(together * alone, axis=1)) > 0.9999


@pytest.mark.model
def test_identities_keep_int8_and_float32_indexes_apart(
    encoders: dict[str, Encoder], tmp_path: Path
) -> None:
    assert encoders["torch"].name == encoders["onnx"].name == DEFAULT_MODEL
    assert encoders["onnx-int8"].name == DEFAULT_MODEL + "+int8"
    Engine(tmp_path / "index", SEEDS, encoders["onnx"]).reindex()
    int8 = Engine(tmp_path / "index", SEEDS, encoders["onnx-int8"])
    assert not int8.load()
    assert "reindex" in (int8.unavailable_reason or "")
    with pytest.raises(ModelMismatch):
        IndexVersion.open(
            current_version(tmp_path / "index"), model=int8.encoder.name, dimension=384
        )


@pytest.fixture(scope="module")
def seed_answers(
    encoders: dict[str, Encoder], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, list[tuple[str, str | None]]]]:
    questions = [
        json.loads(line)["question"]
        for line in (EVAL_DATA / "seed" / "questions.jsonl").read_text("utf-8").splitlines()
        if line.strip()
    ]
    articles = tmp_path_factory.mktemp("seed-articles")
    shutil.copy(EVAL_DATA / "seed" / "articles.jsonl", articles / "seed.jsonl")
    out: dict[str, list[tuple[str, str | None]]] = {}
    for backend, encoder in encoders.items():
        engine = Engine(tmp_path_factory.mktemp(backend), articles, encoder)
        engine.reindex()
        answers = [engine.ask(q) for q in questions]
        out[backend] = [
            (q, a.citation.snippet if a.citation else None)
            for q, a in zip(questions, answers, strict=True)
        ]
        engine.close()
    yield out


@pytest.mark.model
@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_backends_give_torchs_answers_on_the_seed_set(
    seed_answers: dict[str, list[tuple[str, str | None]]], backend: str
) -> None:
    assert seed_answers[backend] == seed_answers["torch"]
    # Not a vacuous match of abstentions: most seed questions are answered.
    answered = sum(snippet is not None for _, snippet in seed_answers["torch"])
    assert answered >= len(seed_answers["torch"]) // 2


@pytest.mark.model
def test_the_query_path_never_imports_torch(encoders: dict[str, Encoder], onnx_cache: Path) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from retrieval.encode.load import load_encoder\n"
        f"e = load_encoder('{DEFAULT_MODEL}', backend='{DEFAULT_BACKEND}', "
        f"cache_dir=Path({str(onnx_cache)!r}))\n"
        "e.encode_query('When is Lee visiting Japan?')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'transformers', 'sentence_transformers')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_bundled_model_has_what_onnx_needs() -> None:
    folder = bundled_model_path()
    assert (folder / "tokenizer.json").is_file()
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text("utf-8"))
    assert pooling["pooling_mode_mean_tokens"] is True
