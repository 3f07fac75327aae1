"""What a reindex report says it reused from the served version (the end-to-end cases are in
test_checksums.py, test_reliability.py and test_pooling.py)."""

from __future__ import annotations

from retrieval.served import ASKED, UNOPENABLE, reuse_note


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
