"""What a reindex reuses from the served version, and what its report says of it (damaged
vectors, which are never reused, are in test_checksums.py; passage vectors made another way in
test_pooling.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval import Engine
from retrieval.build.reindex import build_index
from retrieval.build.served import ASKED, UNOPENABLE, reuse_note
from retrieval.encode.fake import FakeEncoder
from retrieval.index.checksums import verify_served
from retrieval.index.version import (
    KEYWORD_POSTINGS,
    PASSAGE_ANN,
    PASSAGE_VECTORS,
    SENTENCE_VECTORS,
    current_version,
)
from tests.conftest import CountingEncoder, change_a_middle_byte, write_corpus


def test_nothing_to_say_when_nothing_was_written_anew() -> None:
    assert reuse_note(None, "embedded", "embedded") is None
    assert reuse_note(None, None, "pooled") is None  # the first build


def test_a_rewrite_reusing_every_vector_says_why() -> None:
    assert reuse_note(ASKED, "embedded", "embedded") == (
        "Every file was written anew, reusing the vectors, as a rewrite was asked for."
    )
    why = f"{UNOPENABLE} The FAISS index is damaged."
    assert reuse_note(why, "pooled", "pooled") == (
        "Every file was written anew, reusing the vectors, as the served version could not be "
        "opened. The FAISS index is damaged."
    )


def test_passage_vectors_made_another_way_are_not_called_reused() -> None:
    assert reuse_note(None, "pooled", "embedded") == (
        "Every passage vector was made anew (embedded whole): they are now embedded "
        "(CITEBOT_PASSAGE_VECTORS), the served version's were pooled."
    )
    assert reuse_note(ASKED, "embedded", "pooled") == (
        "Every file was written anew, reusing the sentence vectors, as a rewrite was asked for. "
        "Every passage vector was made anew (pooled from the sentence vectors): they are now "
        "pooled (CITEBOT_PASSAGE_VECTORS), the served version's were embedded."
    )


@pytest.mark.parametrize("name", [PASSAGE_ANN, KEYWORD_POSTINGS])
def test_a_rewrite_repairs_the_files_every_build_writes_reusing_every_vector(
    tmp_path: Path, name: str
) -> None:
    articles = write_corpus(
        tmp_path / "articles",
        {
            f"town{n:02}.txt": f"Town {n}\nThe mayor of town {n} opened bridge {n}."
            for n in range(20)
        },
    )
    index = tmp_path / "index"
    build_index(articles, index, FakeEncoder(), ivf_threshold=16)
    damaged = current_version(index)
    change_a_middle_byte(name)(damaged)
    found = verify_served(index)
    assert [f.name for f in found.damaged] == [name] and found.reusable
    before = {v: np.load(damaged / v) for v in (PASSAGE_VECTORS, SENTENCE_VECTORS)}

    counting = CountingEncoder(FakeEncoder())
    report = build_index(articles, index, counting, ivf_threshold=16, rewrite=True)
    assert (
        report.rewritten
        == "Every file was written anew, reusing the vectors, as a rewrite was asked for."
    )
    assert report.full_rebuild is None and report.embedded_passages == 0 and counting.texts == []
    repaired = current_version(index)
    assert repaired != damaged and verify_served(index).ok
    for vectors, rows in before.items():
        assert np.array_equal(np.load(repaired / vectors), rows)
    engine = Engine(index, articles, FakeEncoder())
    assert engine.load(), engine.unavailable_reason
    answer = engine.ask("Who opened bridge 7 in town 7?")
    assert answer.citation is not None and answer.citation.snippet == (
        "The mayor of town 7 opened bridge 7."
    )
    engine.close()
