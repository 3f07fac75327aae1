"""Embedding a build on Ray (`citebot index --ray`): the version equals a local build's, on one
small local Ray instance for the whole module (2 CPUs), shut down at the end."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import ray

from bot.cli import main
from retrieval import CitebotError, Engine
from retrieval.build import ray_embedding
from retrieval.build.ray_embedding import ray_embedder
from retrieval.encode.encoder import Encoder
from retrieval.encode.fake import FakeEncoder
from retrieval.encode.load import Backend
from retrieval.index.version import IndexVersion, current_version
from retrieval.types import Vectors
from tests.conftest import REPO, SEEDS, write_corpus

CHIPS = "How many workers will the chipmaker hire?"
INT8_TOLERANCE = 0.98  # least cosine between two int8 embeddings of one text


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _open(index: Path, encoder: Encoder) -> IndexVersion:
    return IndexVersion.open(
        current_version(index), model=encoder.name, dimension=encoder.dimension
    )


def _rows(version: IndexVersion) -> list[object]:
    store = version.store
    return [
        (article, store.passages_of_article(article.id), store.sentences_of_article(article.id))
        for article in store.articles()
    ]


def _vectors(version: IndexVersion) -> tuple[np.ndarray, np.ndarray]:
    p, s = version.passage_vectors, version.sentence_vectors
    return np.asarray(p[np.arange(p.shape[0])]), np.asarray(s[np.arange(s.shape[0])])


def _build_both(
    corpus: Path, tmp_path: Path, encoder: Encoder, model: str, backend: Backend = "onnx-int8"
) -> tuple[IndexVersion, IndexVersion]:
    local = Engine(tmp_path / "local", corpus, encoder)
    local.reindex()
    local.close()
    on_ray = Engine(tmp_path / "ray", corpus, encoder)
    # Small batches, so that both workers of the pool get some.
    with ray_embedder(
        model,
        backend,
        dimension=encoder.dimension,
        workers=2,
        batch_size=8,
    ) as embed:
        on_ray.reindex(embedder=embed)
    on_ray.close()
    return _open(tmp_path / "local", encoder), _open(tmp_path / "ray", encoder)


@pytest.mark.model
def test_a_ray_build_equals_a_local_one_with_the_onnx_encoder(
    local_ray: None, real_encoder: Encoder, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path / "articles")
    (corpus / "lee-china.txt").write_text(
        (SEEDS / "lee-jae-myung-china-visit.txt").read_text(encoding="utf-8"), encoding="utf-8"
    )
    local, on_ray = _build_both(corpus, tmp_path, real_encoder, "all-MiniLM-L6-v2")
    assert _rows(on_ray) == _rows(local)
    for mine, theirs in zip(_vectors(on_ray), _vectors(local), strict=True):
        assert mine.shape == theirs.shape and mine.shape[0] > 8  # more than one batch
        # int8 activations are quantised per batch, so other batches move a vector: as far as
        # int8 moves it from float32 (cosine 0.98-0.99, retrieval/encode/encoder.py).
        cosines = (mine * theirs).sum(axis=1)
        assert cosines.min() > INT8_TOLERANCE, cosines.min()
    local.close()
    on_ray.close()
    engine = Engine(tmp_path / "ray", corpus, real_encoder)
    assert engine.load()
    answer = engine.ask(CHIPS)
    assert answer.citation is not None
    assert answer.citation.snippet == "The chipmaker expects to hire 3,000 workers by 2027."
    engine.close()


def test_a_ray_build_with_the_fake_encoder_is_exactly_the_local_one(
    local_ray: None, corpus: Path, tmp_path: Path
) -> None:
    local, on_ray = _build_both(corpus, tmp_path, FakeEncoder(), "fake")
    assert _rows(on_ray) == _rows(local)
    for mine, theirs in zip(_vectors(on_ray), _vectors(local), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    local.close()
    on_ray.close()


def test_index_ray_builds_and_a_reindex_embeds_only_what_changed(
    local_ray: None, corpus: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    flags = ["--model", "fake", "--articles", str(corpus), "--index", str(index)]
    assert main([*flags, "index", "--ray", "--ray-workers", "2"]) == 0
    (corpus / "quake.txt").write_text(
        "Earthquake\nA magnitude 6.8 earthquake struck northern Chile on Sunday.",
        encoding="utf-8",
    )
    engine = Engine(index, corpus, FakeEncoder())
    assert engine.load() and len(engine.sources()) == 3
    sent: list[int] = []
    steps: list[int] = []
    with ray_embedder("fake", "onnx-int8", dimension=engine.encoder.dimension) as embed:

        def counted(texts: list[str], step: Callable[[int], None]) -> Vectors:
            sent.append(len(texts))
            return embed(texts, lambda n: (steps.append(n), step(n))[-1])

        report = engine.reindex(embedder=counted)
    assert report.added == ("quake.txt",) and report.embedded_passages == 1
    assert sum(sent) == sum(steps) == 2  # its one sentence and one passage, nothing else
    [hit, *_] = engine.search("Where did the earthquake strike?")
    assert hit.article_id == "quake.txt"
    engine.close()


def test_ray_workers_need_ray(capsys: pytest.CaptureFixture[str], corpus: Path) -> None:
    assert main(["--model", "fake", "--articles", str(corpus), "index", "--ray-workers", "2"]) == 1
    assert "--ray-workers needs --ray" in capsys.readouterr().err


def test_without_ray_installed_the_message_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what a failed import looks like
    with (
        pytest.raises(CitebotError, match=r"pip install 'citebot\[ray\]'"),
        ray_embedding.ray_embedder("fake", "onnx-int8", dimension=8),
    ):
        pass


def test_indexing_and_answering_never_import_ray(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from bot import cli\n"
        "from retrieval import Engine\n"
        "from retrieval.encode.fake import FakeEncoder\n"
        "from retrieval.build import ray_embedding\n"
        "from tests.conftest import write_corpus\n"
        f"tmp = Path({str(tmp_path)!r})\n"
        "engine = Engine(tmp / 'index', write_corpus(tmp / 'articles'), FakeEncoder())\n"
        "engine.reindex()\n"
        "assert engine.ask('How many workers will the chipmaker hire?').citation\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
