"""Training pairs for the reader, built from public question-answering sets.

A pair is (question, candidate sentence with its context) and a label: 1 when the sentence holds
the answer, 0 when it does not. From each question:

- the positive: the sentence holding the answer span, found by `answer_start` (SQuAD format) or
  by the answer index (SelQA);
- hard negatives: the other sentences of its paragraph, those repeating most of the question's
  words first (they restate the question without answering it);
- a hole: the sentence after the answer, with the sentence before the answer as its context, as
  if the answer sentence had been cut out of the paragraph;
- a sentence of another paragraph of the same article.

SQuAD 2.0's impossible questions give negatives only, their "plausible answer" sentence first.
Sentences are cut by the same splitter the index uses, so training sees what serving sees.

The split into training and validation is by paragraph, so no paragraph is on both sides.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.answer.reader import reader_document
from retrieval.ingest.chunking import split_sentences

SQUAD_FILES = (
    "squad2_train_first10.json",
    "squadshifts_new_wiki.json",
    "squadshifts_reddit.json",
    "squadshifts_amazon_reviews.json",
)
SELQA_FILES = ("selqa_ass_dev.json", "selqa_ass_test.json")


@dataclass(frozen=True, slots=True)
class Question:
    """A question over one paragraph, cut into sentences; `answers` index into `sentences`."""

    qid: str
    question: str
    title: str
    sentences: tuple[str, ...]
    answers: frozenset[int]  # empty: the paragraph does not answer it
    plausible: frozenset[int]  # SQuAD 2.0: sentences that look like they answer, but do not
    group: str  # the paragraph: the unit of the train/validation split
    others: tuple[str, ...]  # sentences of other paragraphs of the same article
    # SQuAD: where each answer sentence's answer lies in it, (sentence, start, end), in
    # characters; none for SelQA, which marks the sentence only.
    spans: tuple[tuple[int, int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Pair:
    question: str
    document: str
    label: float
    qid: str = ""  # the question it came from: the pairs of one question are ranked together
    span: tuple[int, int] | None = None  # an answer's characters in `document`, when known


_WORD = re.compile(r"\w+")
# What a question asks with, not about: left out when counting the words a sentence repeats.
_STOP = frozenset(
    _WORD.findall(
        "a an the of in on at to for by with from and or but is are was were be been what which "
        "who whom whose when where why how did do does that this these those it its as into than"
    )
)


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def _overlap(question: str, sentence: str) -> float:
    asked = _words(question)
    return len(asked & _words(sentence)) / len(asked) if asked else 0.0


def _sentences(text: str) -> list[tuple[int, int]]:
    return [(s, e) for s, e in split_sentences(text) if text[s:e].strip()]


def read_squad(path: Path, rng: random.Random) -> Iterator[Question]:
    """Questions of a SQuAD-format file (v1.1 or 2.0)."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    for article in data:
        title = str(article.get("title", "")).replace("_", " ")
        paragraphs = []
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            spans = _sentences(context)
            paragraphs.append((context, spans, paragraph["qas"]))
        pool = [c[s:e] for c, spans, _ in paragraphs for s, e in spans]
        for number, (context, spans, qas) in enumerate(paragraphs):
            texts = tuple(context[s:e] for s, e in spans)
            own = set(texts)
            others = [t for t in pool if t not in own]
            others = rng.sample(others, min(8, len(others)))
            group = f"{path.name}:{title}:{number}"
            for qa in qas:
                answers = _holding(spans, qa.get("answers", []))
                plausible = _holding(spans, qa.get("plausible_answers", []))
                located: tuple[tuple[int, int, int], ...] = ()
                if qa.get("is_impossible"):
                    answers = frozenset()
                elif not answers:
                    continue  # the answer start falls outside every sentence
                else:
                    located = _located(spans, qa.get("answers", []))
                yield Question(
                    qid=str(qa["id"]),
                    question=str(qa["question"]).strip(),
                    title=title,
                    sentences=texts,
                    answers=answers,
                    plausible=plausible,
                    group=group,
                    others=tuple(others),
                    spans=located,
                )


def _holding(
    spans: Sequence[tuple[int, int]], answers: Sequence[dict[str, object]]
) -> frozenset[int]:
    found = set()
    for answer in answers:
        start = answer.get("answer_start")
        index = _sentence_of(spans, start) if isinstance(start, int) else None
        if index is not None:
            found.add(index)
    return frozenset(found)


def _sentence_of(spans: Sequence[tuple[int, int]], start: int) -> int | None:
    """The sentence holding character `start` of the paragraph."""
    return next((index for index, (s, e) in enumerate(spans) if s <= start < e), None)


def _located(
    spans: Sequence[tuple[int, int]], answers: Sequence[dict[str, object]]
) -> tuple[tuple[int, int, int], ...]:
    """(sentence, start, end) of the first answer found in each sentence, in the sentence's
    characters (cut at its end when the answer runs on)."""
    found: dict[int, tuple[int, int, int]] = {}
    for answer in answers:
        start, text = answer.get("answer_start"), answer.get("text")
        if not isinstance(start, int) or not isinstance(text, str) or not text:
            continue
        index = _sentence_of(spans, start)
        if index is not None and index not in found:
            s, e = spans[index]
            found[index] = (index, start - s, min(start + len(text), e) - s)
    return tuple(sorted(found.values()))


def read_selqa(path: Path, rng: random.Random) -> Iterator[Question]:
    """Questions of a SelQA answer-sentence-selection file."""
    records = json.loads(path.read_text(encoding="utf-8"))
    for number, record in enumerate(records):
        texts = tuple(str(c) for c in record["candidates"])
        answers = frozenset(int(i) for i in record["answers"] if 0 <= int(i) < len(texts))
        if not answers:
            continue
        yield Question(
            qid=f"selqa-{path.stem}-{number}",
            question=str(record["question"]).strip(),
            title=f"{record.get('article', '')}: {record.get('section', '')}".strip(": "),
            sentences=texts,
            answers=answers,
            plausible=frozenset(),
            group=f"{path.name}:{record.get('article')}:{record.get('section')}",
            others=(),
        )


def read_all(folder: Path, seed: int) -> list[Question]:
    rng = random.Random(seed)
    questions: list[Question] = []
    for name in SQUAD_FILES:
        questions.extend(read_squad(folder / name, rng))
    for name in SELQA_FILES:
        questions.extend(read_selqa(folder / name, rng))
    return questions


def is_validation(question: Question, share: float) -> bool:
    """A stable split by paragraph: the same paragraphs are held out on every run."""
    digest = hashlib.sha256(question.group.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def pairs_of(
    question: Question, rng: random.Random, hard: int = 2, other_share: float = 0.3
) -> list[Pair]:
    """The labelled pairs one question gives (see the module docstring)."""
    texts = question.sentences
    q, qid = question.question, question.qid

    def document(index: int, previous: int | None = None) -> str:
        before = index - 1 if previous is None else previous
        return reader_document(question.title, texts[before] if before >= 0 else "", texts[index])

    located = {i: (start, end) for i, start, end in question.spans}
    # The sentence opens its document, so an answer's place in it is its place in the document.
    out = [Pair(q, document(i), 1.0, qid, located.get(i)) for i in sorted(question.answers)]
    wrong = [i for i in range(len(texts)) if i not in question.answers]
    # The most question-like sentences first: the negatives the reader most needs to see.
    wrong.sort(key=lambda i: (i not in question.plausible, -_overlap(q, texts[i]), rng.random()))
    out.extend(Pair(q, document(i), 0.0, qid) for i in wrong[:hard])
    shifted = [
        a + 1
        for a in sorted(question.answers)[:1]
        if a + 1 < len(texts) and a + 1 not in question.answers
    ]
    if shifted:
        out.append(Pair(q, document(shifted[0], previous=shifted[0] - 2), 0.0, qid))
    elif wrong[hard:]:
        out.append(Pair(q, document(rng.choice(wrong[hard:])), 0.0, qid))
    if question.others and rng.random() < other_share:
        other = max(question.others, key=lambda t: (_overlap(q, t), rng.random()))
        out.append(Pair(q, reader_document(question.title, "", other), 0.0, qid))
    return out


def build(
    folder: Path, *, seed: int, validation_share: float, caps: dict[str, int] | None = None
) -> tuple[list[Pair], list[Pair], list[Question]]:
    """Training pairs, validation pairs, and the validation questions themselves."""
    rng = random.Random(seed)
    questions = read_all(folder, seed)
    if caps:
        questions = _capped(questions, caps, rng)
    train: list[Pair] = []
    validation: list[Pair] = []
    held_out: list[Question] = []
    for question in questions:
        if is_validation(question, validation_share):
            held_out.append(question)
            validation.extend(pairs_of(question, rng))
        else:
            train.extend(pairs_of(question, rng))
    rng.shuffle(train)
    return train, validation, held_out


def drawn(questions: list[Question], caps: dict[str, int], seed: int) -> set[str]:
    """The ids of the questions `build` draws with these caps and seed, held out or not."""
    return {q.qid for q in _capped(questions, caps, random.Random(seed))}


def _capped(questions: list[Question], caps: dict[str, int], rng: random.Random) -> list[Question]:
    """At most `caps[file]` questions from a file, drawn at random (whole file otherwise).

    SQuAD 2.0's unanswerable questions are always kept: they are the only ones of their kind.
    """
    by_file: dict[str, list[Question]] = {}
    for question in questions:
        by_file.setdefault(question.group.split(":", 1)[0], []).append(question)
    out: list[Question] = []
    for name, items in by_file.items():
        cap = caps.get(name)
        if cap is None or cap >= len(items):
            out.extend(items)
            continue
        kept = [q for q in items if not q.answers]
        answerable = [q for q in items if q.answers]
        out.extend(kept + rng.sample(answerable, max(0, cap - len(kept))))
    return out
