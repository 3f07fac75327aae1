"""Sentences and passages, as character spans into an article's text.

Every span is computed from the text itself, never copied from a splitter's output, so
`text[start:end]` is always a real, verbatim piece of the article: citations depend on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import cache

import pysbd

from retrieval.types import Passage

Span = tuple[int, int]

# Longer "sentences" (run-on lists, tables flattened to one line) are cut near this length:
# a citation should stay readable and an embedding sees only the first few hundred tokens anyway.
MAX_SENTENCE_CHARS = 600
# A cut never leaves a piece shorter than this, so a stray early comma does not make a stub.
_MIN_PIECE_CHARS = 200

# News paragraphs are one per line and a sentence never spans a line break, so lines are split
# first. These are the characters `str.splitlines` treats as line boundaries; all are whitespace.
_LINE = re.compile(r"[^\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")
# A paragraph with no sentence-ending mark followed by a space cannot hold two sentences, so it
# skips pysbd, which costs far more than this search. Closing quotes and brackets may sit between.
_MAYBE_BOUNDARY = re.compile(r"[.!?…。！？][\"'”’»)\]]*\s")


# A candidate sentence end: a token with no stop inside, a stop, perhaps a closing quote, space,
# then a capital, perhaps after an opening quote. `_clear_boundaries` vets the token.
_CLEAR_END = re.compile(r"(?<!\S)([^\s.!?]+)[.!?][\"”’']?\s+(?=[\"“‘'(]?[A-Z])")
_OPENERS = "\"“‘'(["
_PLAIN_ENDINGS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789%)")
# Single quotes double as apostrophes ("Lee's"); only those at a word's edge can open or close.
_OPENING_SINGLE = re.compile(r"(?<!\w)['‘]")
_CLOSING_SINGLE = re.compile(r"['’](?!\w)")


@cache
def _segmenter() -> pysbd.Segmenter:
    # Built on first use rather than at import (no import-time side effects), then shared: its
    # `processor` makes a fresh object per call, so sharing it across threads is safe.
    return pysbd.Segmenter(language="en", clean=False)


@cache
def _abbreviations() -> frozenset[str]:
    # pysbd's own list, so a cut made without it never disagrees with it on "gen." or "sept.".
    rules = _segmenter().language_module.Abbreviation
    return frozenset(
        word.strip().lower()
        for word in (
            *rules.ABBREVIATIONS,
            *rules.PREPOSITIVE_ABBREVIATIONS,
            *rules.NUMBER_ABBREVIATIONS,
        )
    )


# News attributes a quoted question or exclamation after it: "'Is it good?' Lee posted." is one
# sentence, though a splitter sees a boundary after the question mark.
_QUOTED_QUESTION_END = re.compile(r"[?!][\"'”’»]$")
_ATTRIBUTION = re.compile(
    r"(?:(?:[A-Z][\w.'’-]*\s+){0,4}|(?:he|she|they|it|we|i|and|then)\s+)?"
    r"(?:said|says|asked|asks|posted|posts|wrote|writes|told|tells|tweeted|added|adds|replied"
    r"|shouted|exclaimed|wondered|declared|insisted|noted|recalled|joked|quipped)\b",
    re.IGNORECASE,
)


def _join_attributions(text: str, spans: list[Span]) -> list[Span]:
    joined: list[Span] = []
    for span in spans:
        if (
            joined
            and _QUOTED_QUESTION_END.search(text[joined[-1][0] : joined[-1][1]])
            and _ATTRIBUTION.match(text, span[0])
        ):
            joined[-1] = (joined[-1][0], span[1])
        else:
            joined.append(span)
    return joined


def split_sentences(text: str) -> list[Span]:
    """Split `text` into sentences: ascending, non-overlapping `(start, end)` spans.

    Each `text[start:end]` is non-empty and has no surrounding whitespace, and every
    non-whitespace character of `text` lies in exactly one span.
    """
    spans: list[Span] = []
    for line in _LINE.finditer(text):
        start, end = _strip(text, line.start(), line.end())
        if start < end:
            for piece in _join_attributions(text, list(_split_paragraph(text, start, end))):
                spans.extend(_cut_long(text, *piece))
    return spans


def make_passages(
    article_id: str,
    text: str,
    sentences: Sequence[Span] | None = None,
    *,
    max_sentences: int = 4,
    overlap: int = 1,
    max_chars: int = 1000,
) -> list[Passage]:
    """Group sentences into windows of up to `max_sentences`, consecutive windows sharing
    `overlap` sentences.

    A window also closes before it would span more than `max_chars` characters; a single
    sentence longer than that is a passage on its own. Where `max_chars` leaves no room for the
    full overlap, the next window shares fewer sentences, so every window brings a new one.
    `sentences` defaults to `split_sentences(text)`.
    """
    if max_sentences < 1:
        raise ValueError(f"max_sentences of {max_sentences} is below 1; use 1 or more")
    if not 0 <= overlap < max_sentences:
        raise ValueError(
            f"overlap of {overlap} must be at least 0 and below max_sentences, {max_sentences}"
        )
    spans = split_sentences(text) if sentences is None else list(sentences)
    passages: list[Passage] = []
    first = 0
    while first < len(spans):
        last = first + 1  # exclusive; a window always holds at least one sentence
        while (
            last < len(spans)
            and last - first < max_sentences
            and spans[last][1] - spans[first][0] <= max_chars
        ):
            last += 1
        window = tuple(spans[first:last])
        passages.append(
            Passage(
                article_id=article_id,
                ordinal=len(passages),
                start=window[0][0],
                end=window[-1][1],
                sentences=window,
            )
        )
        if last == len(spans):
            break
        first = max(last - overlap, first + 1)
        while first < last and spans[last][1] - spans[first][0] > max_chars:
            first += 1
    return passages


def _split_paragraph(text: str, start: int, end: int) -> Iterator[Span]:
    """Sentences of one stripped, non-empty line, `text[start:end]`."""
    paragraph = text[start:end]
    previous = 0
    for cut in [*_clear_boundaries(paragraph), len(paragraph)]:
        piece_start, piece_end = _strip(text, start + previous, start + cut)
        if piece_start < piece_end:
            yield from _segment(text, piece_start, piece_end)
        previous = cut


def _clear_boundaries(paragraph: str) -> Iterator[int]:
    """Offsets just past sentence ends that need no sentence splitter to see.

    pysbd's cost grows faster than the length of what it is given, and most sentence ends are
    plain: a word that is no abbreviation or initial, a full stop, a space, a capital letter,
    with every quote and bracket before it closed. Cutting there first leaves pysbd only the
    short pieces that hold a hard case, and changes no result: pysbd splits there too.
    """
    abbreviations = _abbreviations()
    previous = 0
    for match in _CLEAR_END.finditer(paragraph):
        word = match[1].lstrip(_OPENERS)
        # Initials ("J."), acronyms ("U.S." has a stop inside anyway), list numbers ("5.") and
        # abbreviations ("Gen.") are pysbd's to judge.
        if len(word) < 2 or word[-1] not in _PLAIN_ENDINGS or word.lower() in abbreviations:
            continue
        cut = len(match[0].rstrip()) + match.start()  # past the stop and any closing quote
        if _balanced(paragraph[previous:cut]):
            yield cut
            previous = cut


def _balanced(piece: str) -> bool:
    return (
        piece.count('"') % 2 == 0
        and piece.count("“") == piece.count("”")
        and piece.count("(") == piece.count(")")
        and piece.count("[") == piece.count("]")
        and len(_OPENING_SINGLE.findall(piece)) == len(_CLOSING_SINGLE.findall(piece))
    )


def _segment(text: str, start: int, end: int) -> Iterator[Span]:
    """Sentences of `text[start:end]` (stripped, non-empty) as pysbd sees them."""
    piece = text[start:end]
    if not _MAYBE_BOUNDARY.search(piece):
        yield start, end
        return
    # `Segmenter.segment` re-finds each sentence in the text to report it and silently drops the
    # ones it cannot find (and stores the text on the shared segmenter); the processor gives the
    # sentences straight. Offsets come from our own search below, never from pysbd.
    try:
        found: object = _segmenter().processor(piece).process()
    except Exception:  # a third-party parser on arbitrary text: any failure means "no split"
        found = []
    cuts: list[int] = []
    cursor = 0
    for sentence in found if isinstance(found, list) else []:
        needle = str(sentence).strip()
        if not needle:
            continue
        at = piece.find(needle, cursor)
        # pysbd may rewrite text; if a sentence is not next in line, stop splitting here and
        # keep the rest as one sentence rather than risk a wrong offset or a lost fragment.
        if at < 0 or piece[cursor:at].strip():
            break
        cursor = at + len(needle)
        cuts.append(cursor)
    previous = 0
    for cut in [*cuts, len(piece)]:
        sentence_start, sentence_end = _strip(text, start + previous, start + cut)
        if sentence_start < sentence_end:
            yield sentence_start, sentence_end
        previous = cut


def _cut_long(text: str, start: int, end: int) -> Iterator[Span]:
    """Cut an over-long sentence at a `; `, else `, `, else a space near the limit."""
    while end - start > MAX_SENTENCE_CHARS:
        window = text[start : start + MAX_SENTENCE_CHARS]
        cut = -1
        for mark in ("; ", ", ", " "):
            at = window.rfind(mark, _MIN_PIECE_CHARS)
            if at >= 0:
                cut = at + len(mark.rstrip())
                break
        if cut <= 0:
            break  # no boundary to cut at: leave it whole, offsets matter more than length
        piece = _strip(text, start, start + cut)
        if piece[0] < piece[1]:
            yield piece
        start = _strip(text, start + cut, end)[0]
    yield start, end


def _strip(text: str, start: int, end: int) -> Span:
    """Shrink `[start, end)` past surrounding whitespace (as `str.strip` defines it)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
