"""Metric definitions of `citebot eval`, on tiny hand-made outcomes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.answer.evaluation import Outcome, Question, metrics, normalise, read_questions
from retrieval.types import Answer, Citation, Source


def answer(question: str, article: str | None, snippet: str = "", ranked: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    citation = None
    if article is not None:
        citation = Citation(Source(article, article, article), snippet, 0, len(snippet), 1.0)
    return Answer(question, citation, (), ranked)


def test_normalise_folds_case_quotes_width_and_space() -> None:
    assert normalise("  “The  Image”\tQUALITY ") == "the image quality"
    assert normalise("ＡＢＣ 'x'") == "abc x"


def test_hit_miss_abstention_and_several_gold_articles() -> None:
    hit = Question("1", "When?", ("later this month",), ("a",))
    wrong_article = Question("2", "Who?", ("Takaichi",), ("a",))
    abstained = Question("3", "What?", ("Xiaomi",), ("a",))
    multi = Question("4", "Where?", ("Shanghai",), ("b", "c"))
    unanswerable = Question("5", "Who won?", (), ())
    unanswerable_answered = Question("6", "Boiling?", (), ())
    outcomes = [
        Outcome(hit, answer("When?", "a", "Later this MONTH, he said.", ("a", "b")), 10.0),
        Outcome(wrong_article, answer("Who?", "b", "Takaichi met him.", ("b", "a")), 20.0),
        Outcome(abstained, answer("What?", None, ranked=("x", "y", "z", "w", "v", "a")), 30.0),
        Outcome(multi, answer("Where?", "c", "in “Shanghai”", ("c", "b")), 40.0),
        Outcome(unanswerable, answer("Who won?", None, ranked=("a",)), 50.0),
        Outcome(unanswerable_answered, answer("Boiling?", "a", "x", ("a",)), 60.0),
    ]
    m = metrics(outcomes)
    assert m["questions"] == 6 and m["answerable"] == 4
    assert m["snippet_hit@1"] == 0.5  # hit and multi; not the wrong article, not the abstention
    assert m["article_recall@1"] == 0.5  # a first for 1, c first for 4
    assert m["article_recall@5"] == 0.75  # wrong_article ranks a second; abstained ranks it 6th
    assert m["mrr"] == pytest.approx((1 + 0.5 + 1 / 6 + 1) / 4, abs=1e-4)
    assert m["abstain_recall"] == 0.5
    assert m["false_abstain_rate"] == 0.25
    assert m["p50_ms"] == 35.0


def test_no_unanswerable_questions_gives_null_abstain_recall() -> None:
    q = Question("1", "When?", ("x",), ("a",))
    assert metrics([Outcome(q, answer("When?", "a", "x", ("a",)), 1.0)])["abstain_recall"] is None


def test_read_questions_prefers_article_ids_and_reports_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    rows = [
        {"id": "a", "question": "Q1?", "answers": ["x"], "article_id": "one"},
        {
            "id": "b",
            "question": "Q2?",
            "answers": ["y"],
            "article_id": "one",
            "article_ids": ["two", "three"],
        },
        {"id": "c", "question": "Q3?", "answers": [], "article_id": None},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    questions = read_questions(path)
    assert [q.article_ids for q in questions] == [("one",), ("two", "three"), ()]
    assert [q.answerable for q in questions] == [True, True, False]
    path.write_text('{"id": "a"}\n')
    with pytest.raises(ValueError, match=r"q.jsonl:1"):
        read_questions(path)
