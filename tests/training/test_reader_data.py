"""The reader's training pairs: the right positives, hard negatives and holes, on tiny fixtures."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from retrieval.answer.reader import SEPARATOR, reader_document
from training import reader_data
from training.reader_data import (
    Question,
    build,
    drawn,
    is_validation,
    pairs_of,
    read_selqa,
    read_squad,
)

SENTENCES = [
    "The mayor opened the new bridge on Monday.",
    "It cost 40 million dollars to build.",
    "Work on the bridge began in 2019.",
    "Residents celebrated with a parade.",
]
CONTEXT = " ".join(SENTENCES)
OTHER = "The city council met again in March to discuss the bridge budget."


def _squad(tmp_path: Path) -> Path:
    when = CONTEXT.index("2019")
    cost = CONTEXT.index("40 million")
    data = {
        "version": "v2.0",
        "data": [
            {
                "title": "City_Bridge",
                "paragraphs": [
                    {
                        "context": CONTEXT,
                        "qas": [
                            {
                                "id": "q-when",
                                "question": "When did work on the bridge begin?",
                                "answers": [{"text": "2019", "answer_start": when}],
                                "is_impossible": False,
                            },
                            {
                                "id": "q-impossible",
                                "question": "How much did the tunnel cost?",
                                "answers": [],
                                "plausible_answers": [{"text": "40 million", "answer_start": cost}],
                                "is_impossible": True,
                            },
                        ],
                    },
                    {"context": OTHER, "qas": []},
                ],
            }
        ],
    }
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_squad_positive_is_the_sentence_holding_the_answer_start(tmp_path: Path) -> None:
    questions = {q.qid: q for q in read_squad(_squad(tmp_path), random.Random(0))}
    when = questions["q-when"]
    assert when.title == "City Bridge"
    assert list(when.sentences) == SENTENCES
    assert when.answers == {2}
    assert when.others == (OTHER,)

    pairs = pairs_of(when, random.Random(0))
    assert {p.qid for p in pairs} == {"q-when"}  # ranked together when training ranks
    positives = [p for p in pairs if p.label == 1.0]
    assert [p.document for p in positives] == [
        reader_document("City Bridge", SENTENCES[1], SENTENCES[2])
    ]
    # Where the answer lies, in the sentence and so in the document that opens with it.
    assert when.spans == ((2, SENTENCES[2].index("2019"), SENTENCES[2].index("2019") + 4),)
    start, end = positives[0].span or (0, 0)
    assert positives[0].document[start:end] == "2019"
    assert all(p.span is None for p in pairs if p.label == 0.0)
    negatives = [p.document for p in pairs if p.label == 0.0]
    assert all(not d.startswith(SENTENCES[2]) for d in negatives)
    # The hole: the sentence after the answer, read as if the answer had been cut out.
    assert reader_document("City Bridge", SENTENCES[1], SENTENCES[3]) in negatives
    # The hardest in-paragraph negative repeats the question's words ("bridge").
    assert negatives[0].startswith(SENTENCES[0])


def test_impossible_question_gives_negatives_only_plausible_first(tmp_path: Path) -> None:
    questions = {q.qid: q for q in read_squad(_squad(tmp_path), random.Random(0))}
    impossible = questions["q-impossible"]
    assert impossible.answers == frozenset()
    assert impossible.plausible == {1}
    pairs = pairs_of(impossible, random.Random(0), other_share=0.0)
    assert pairs and all(p.label == 0.0 for p in pairs)
    assert pairs[0].document == reader_document("City Bridge", SENTENCES[0], SENTENCES[1])


def test_selqa_answers_index_the_candidates(tmp_path: Path) -> None:
    path = tmp_path / "selqa.json"
    record = {
        "question": "When did work begin?",
        "article": "Bridge",
        "section": "History",
        "answers": [2],
        "candidates": SENTENCES,
    }
    path.write_text(json.dumps([record]), encoding="utf-8")
    (question,) = read_selqa(path, random.Random(0))
    assert question.answers == {2}
    positives = [p for p in pairs_of(question, random.Random(0)) if p.label == 1.0]
    assert [p.document.split(SEPARATOR)[0] for p in positives] == [SENTENCES[2]]


def test_validation_split_is_by_paragraph_and_stable() -> None:
    def question(qid: str, group: str) -> Question:
        return Question(qid, "q?", "t", ("s.",), frozenset({0}), frozenset(), group, ())

    groups = [f"file.json:Title:{n}" for n in range(400)]
    held = [is_validation(question("a", g), 0.1) for g in groups]
    assert 20 < sum(held) < 60
    # Another question of the same paragraph lands on the same side.
    assert held == [is_validation(question("b", g), 0.1) for g in groups]


def test_drawn_names_the_questions_training_draws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    questions = [
        Question(
            f"q{n}",
            f"Question {n}?",
            "T",
            ("One.", "Two."),
            frozenset({0}),
            frozenset(),
            f"a.json:T:{n // 3}",
            (),
        )
        for n in range(30)
    ] + [Question("u", "Unanswerable?", "T", ("One.",), frozenset(), frozenset(), "a.json:T:0", ())]
    monkeypatch.setattr(reader_data, "read_all", lambda folder, seed: questions)
    caps = {"a.json": 8}
    train, validation, _ = build(tmp_path, seed=13, validation_share=0.3, caps=caps)
    asked = {p.question for p in train + validation}
    chosen = drawn(questions, caps, seed=13)
    assert len(chosen) == 8 and "u" in chosen  # unanswerable questions are always kept
    assert asked == {q.question for q in questions if q.qid in chosen}
    assert drawn(questions, caps, seed=14) != chosen
