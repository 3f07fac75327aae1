"""Word-pair overlap, computed the short way, equals its plain definition."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from retrieval.answer.overlap import bigram_share, bigrams

WORDS = ["Lee", "visiting", "visit", "Japan", "JAPAN'S", "in", "the", "Zürich", "café", "2027", ","]


def test_the_share_of_the_questions_word_pairs_in_a_sentence() -> None:
    asked = bigrams("When is Lee visiting Japan?")
    assert asked == {("lee", "visit"), ("visit", "japan")}
    assert bigram_share(asked, "Lee is visiting Japan next week.") == 1.0
    assert bigram_share(asked, "Lee will visit Tokyo.") == 0.5
    assert bigram_share(asked, "Japan visiting Lee.") == 0.0
    assert bigram_share(set(), "Lee is visiting Japan.") == 0.0


@given(
    question=st.lists(st.sampled_from(WORDS), max_size=6).map(" ".join),
    text=st.lists(st.sampled_from(WORDS) | st.text(max_size=4), max_size=12).map(" ".join),
)
def test_skipping_sentences_without_the_words_changes_no_share(question: str, text: str) -> None:
    asked = bigrams(question)
    plain = len(asked & bigrams(text)) / len(asked) if asked else 0.0
    assert bigram_share(asked, text) == plain
