from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.ingest.chunking import MAX_SENTENCE_CHARS, make_passages, split_sentences
from retrieval.types import Passage


def sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "The U.S. economy grew 3.5 percent in the quarter. Mr. Smith said so.",
            ["The U.S. economy grew 3.5 percent in the quarter.", "Mr. Smith said so."],
        ),
        (
            "Dr. Jones arrived at 9 a.m. on Monday. She left at noon.",
            ["Dr. Jones arrived at 9 a.m. on Monday.", "She left at noon."],
        ),
        (
            "WASHINGTON (AP) — The Senate voted on Jan. 5 to pass the bill. It goes to the House.",
            ["WASHINGTON (AP) — The Senate voted on Jan. 5 to pass the bill.",
             "It goes to the House."],
        ),
        (
            '"We will win," he said. "There is no doubt."',
            ['"We will win," he said.', '"There is no doubt."'],
        ),
        (
            'He said, "It is over." Then he left.',
            ['He said, "It is over."', "Then he left."],
        ),
        (
            "He said: “It is over.” Then he left.",
            ["He said: “It is over.”", "Then he left."],
        ),
        (
            "“I am tired. I am going home,” she said. Nobody answered.",
            ["“I am tired. I am going home,” she said.", "Nobody answered."],
        ),
        (
            "Lee called it 'a crucial opportunity' for ties. 'We want a new phase.' He left.",
            ["Lee called it 'a crucial opportunity' for ties.", "'We want a new phase.'",
             "He left."],
        ),
        (
            "J. K. Rowling wrote the books. They sold well.",
            ["J. K. Rowling wrote the books.", "They sold well."],
        ),
        (
            "Wait... what happened? Nobody knows!",
            ["Wait... what happened?", "Nobody knows!"],
        ),
        (
            "Gen. Smith met Sen. Jones in St. Louis. Prices fell 2.5%. It happened in 2019. Then?",
            ["Gen. Smith met Sen. Jones in St. Louis.", "Prices fell 2.5%.", "It happened in 2019.",
             "Then?"],
        ),
        (
            "  First paragraph, no stop\n\n\nSecond one. With two.\r\nThird\n\n",
            ["First paragraph, no stop", "Second one.", "With two.", "Third"],
        ),
        ("", []),
        (" \n\t ", []),
    ],
)  # fmt: skip
def test_split_sentences_news_cases(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_split_sentences_offsets() -> None:
    text = "\n  One here.  Two there.\n"
    assert split_sentences(text) == [(3, 12), (14, 24)]


def test_long_sentence_is_cut_at_a_semicolon_near_the_limit() -> None:
    clause = "the committee reviewed item number forty two and found it fine"  # 62 chars
    text = "; ".join([clause] * 15) + "."
    spans = split_sentences(text)
    assert len(spans) == 2
    first, second = (text[s:e] for s, e in spans)
    assert first == "; ".join([clause] * 9) + ";"
    assert second == "; ".join([clause] * 6) + "."
    assert all(e - s <= MAX_SENTENCE_CHARS for s, e in spans)


def test_long_sentence_without_any_break_stays_whole() -> None:
    text = "x" * (MAX_SENTENCE_CHARS * 2)
    assert split_sentences(text) == [(0, len(text))]


# Arbitrary text, and text built from the pieces that steer a sentence splitter.
PIECES = st.sampled_from(
    [" ", "\n", "\r\n", "\n\n", "\t", "\u2028", ".", ". ", "! ", "? ", ";", ", ", '"', "'",
     "“", "”", "‘", "’", "(", ")", "…", "...", " — ", "Mr. ", "U.S. ", " a.m. ", "J. ", "3.5",
     "He said", "the end", "Then", "It", "x" * 250]
)  # fmt: skip
TEXTS = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(PIECES, st.text(max_size=4)), max_size=60).map("".join),
)


@settings(max_examples=200, deadline=None)
@given(TEXTS)
def test_split_sentences_spans_are_exact_and_lose_nothing(text: str) -> None:
    spans = split_sentences(text)
    previous_end = 0
    covered = [False] * len(text)
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        piece = text[start:end]
        assert piece == piece.strip()
        previous_end = end
        covered[start:end] = [True] * (end - start)
    lost = [ch for ch, seen in zip(text, covered, strict=True) if not seen and not ch.isspace()]
    assert lost == []


def test_passages_window_and_overlap() -> None:
    text = "S0. S1. S2. S3. S4. S5. S6."
    spans = [(i * 4, i * 4 + 3) for i in range(7)]
    passages = make_passages("a", text, spans, max_sentences=3, overlap=1)
    assert [p.sentences for p in passages] == [
        tuple(spans[0:3]),
        tuple(spans[2:5]),
        tuple(spans[4:7]),
    ]
    assert passages[1] == Passage("a", 1, 8, 19, tuple(spans[2:5]))


def test_short_article_is_one_passage() -> None:
    text = "One. Two. Three."
    assert make_passages("a", text) == [Passage("a", 0, 0, 16, ((0, 4), (5, 9), (10, 16)))]
    assert make_passages("a", "") == []


def test_max_chars_closes_a_window_early() -> None:
    text = "Aaaa. Bbbb. " + "C" * 30 + ". Dddd."
    passages = make_passages("a", text, max_sentences=4, overlap=1, max_chars=20)
    assert [[text[s:e] for s, e in p.sentences] for p in passages] == [
        ["Aaaa.", "Bbbb."],
        ["C" * 30 + "."],  # longer than max_chars: alone, and no room to overlap
        ["Dddd."],
    ]


def test_invalid_window_settings() -> None:
    with pytest.raises(ValueError, match="max_sentences"):
        make_passages("a", "A.", max_sentences=0)
    with pytest.raises(ValueError, match="overlap"):
        make_passages("a", "A.", max_sentences=2, overlap=2)


@settings(max_examples=200, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 40), max_size=30),
    max_sentences=st.integers(1, 6),
    overlap_seed=st.integers(0, 5),
    max_chars=st.integers(1, 200),
)
def test_passages_cover_every_sentence_in_order(
    lengths: list[int], max_sentences: int, overlap_seed: int, max_chars: int
) -> None:
    overlap = overlap_seed % max_sentences
    spans: list[tuple[int, int]] = []
    position = 0
    for length in lengths:
        spans.append((position, position + length))
        position += length + 1
    text = " ".join("x" * length for length in lengths)
    passages = make_passages(
        "a", text, spans, max_sentences=max_sentences, overlap=overlap, max_chars=max_chars
    )
    assert [p.ordinal for p in passages] == list(range(len(passages)))
    seen: list[tuple[int, int]] = []
    for p in passages:
        assert p.article_id == "a"
        assert 1 <= len(p.sentences) <= max_sentences
        assert (p.start, p.end) == (p.sentences[0][0], p.sentences[-1][1])
        assert p.end - p.start <= max_chars or len(p.sentences) == 1
        first = spans.index(p.sentences[0])
        assert list(p.sentences) == spans[first : first + len(p.sentences)]
        seen.extend(p.sentences)
    assert sorted(set(seen)) == spans
    for before, after in itertools.pairwise(passages):
        shared = set(before.sentences) & set(after.sentences)
        assert len(shared) <= overlap
        assert after.sentences[-1] > before.sentences[-1]  # every window brings a new sentence
        if max_chars >= 40 * max_sentences:  # room for everything: exactly the overlap
            assert len(shared) == overlap


def test_a_quoted_question_and_its_attribution_stay_one_sentence() -> None:
    text = (
        "'The image quality is certainly good, right?' Lee posted on X along with the photos. "
        '"Why now?" she asked. "Because." He left. Is it? Yes.'
    )
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "'The image quality is certainly good, right?' Lee posted on X along with the photos.",
        '"Why now?" she asked.',
        '"Because."',
        "He left.",
        "Is it?",
        "Yes.",
    ]
