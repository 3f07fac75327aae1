"""Follow-up questions: which lean on the conversation, how they are searched, when they abstain.

The engine tests run the real model on the seed article with conversations written for these
tests (the followups dev set is scored in tests/bot/test_evaluate_followups.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval import Engine
from retrieval.answer.choose import answer_question
from retrieval.answer.followup import Turn, context_of, leans_on_context, settle
from retrieval.types import Answer, Citation, Source
from tests.conftest import EVAL_DATA, CountingEncoder, write_corpus


@pytest.mark.parametrize(
    "question",
    [
        "Who will he meet there?",
        "And where?",
        "When?",
        "What did she compare it to?",
        "But why did they leave?",
        "What about the factory?",
        "When will Lee meet him?",  # him is not Lee
        "When will Lee meet her?",
        "What did he say after that?",
        "Who wrote this hymn?",
    ],
)
def test_questions_pointing_back_lean_on_the_conversation(question: str) -> None:
    assert leans_on_context(question)


@pytest.mark.parametrize(
    "question",
    [
        "When is Lee visiting Japan?",
        "How many workers will the chipmaker hire?",
        "What is the boiling point of water at sea level?",
        "Where did Tesla live for much of his life?",  # his: Tesla
        "How many seconds were left when the Broncos intercepted the pass that won the game?",
        "How many possible bids for the prize were there in 1915?",
        "What is septicemia?",
    ],
)
def test_questions_standing_alone_do_not(question: str) -> None:
    assert not leans_on_context(question)


def test_a_question_standing_alone_gets_no_context() -> None:
    history = [Turn("When is Lee visiting Japan?", "lee")]
    assert context_of("How many workers will the chipmaker hire?", history) is None
    assert context_of("Who will he meet there?", []) is None


def test_the_earlier_names_join_a_pronoun_question_and_its_cited_article_is_preferred() -> None:
    context = context_of("What did he tell Xi?", [Turn("Where did Lee go on Monday?", "lee")])
    assert context is not None
    assert context.query == "What did he tell Xi? Lee Monday"  # names, not "go"
    assert context.prefer == {"lee"}


def test_an_elliptical_question_borrows_the_earlier_terms_too() -> None:
    context = context_of("When?", [Turn("Where will the chipmaker build a factory?", "chips-1")])
    assert context is not None
    assert context.query == "When? chipmaker build factory"


def test_a_chain_of_follow_ups_reads_back_to_the_question_that_stood_alone() -> None:
    history = [
        Turn("Who visited Beijing?"),  # stands alone: the chain starts here
        Turn("Who was Lee's predecessor?", "lee"),
        Turn("Was he friendly to China?", None),
    ]
    context = context_of("What happened to him?", history)
    assert context is not None
    assert context.query == "What happened to him? China friendly Lee predecessor"
    assert context.prefer == {"lee"}
    assert "Beijing" not in context.query


def _answer(question: str, snippet: str) -> Answer:
    source = Source("lee", "Lee visits China", "lee.txt")
    return Answer(question, Citation(source, snippet, 0, len(snippet), 1.0), ())


def test_a_follow_up_asking_a_name_abstains_on_a_sentence_naming_only_what_was_said() -> None:
    history = [Turn("When did a South Korean leader last visit China?", "lee")]
    context = context_of("Who was president then?", history)
    assert context is not None
    sentence = "It marks the first visit by a South Korean leader since 2019."
    settled = settle("Who was president then?", context, _answer("q", sentence), sentence)
    assert settled.abstained
    assert settled.question == "Who was president then?"
    assert [s.article_id for s in settled.further] == ["lee"]
    # A sentence naming someone new answers it.
    named = "It was the first visit since President Moon Jae-in went in 2019."
    assert not settle("Who was president then?", context, _answer("q", named), named).abstained


def _converse(engine: Engine, questions: list[str]) -> list[Turn]:
    turns: list[Turn] = []
    for question in questions:
        turns.append(Turn.of(engine.ask(question, history=turns)))
    return turns


@pytest.mark.model
@pytest.mark.parametrize(
    ("earlier", "question", "expected"),
    [
        ("Who is the chairman of China's parliament?", "When will Lee meet him?", "Tuesday"),
        ("Which phone did Lee use?", "When was it given to him?", "last year"),
        ("Who is Lee meeting in Japan?", "And when?", "later this month"),
        ("Where will Lee hold a memorial service?", "Who is it for?", "activists"),
    ],
)
def test_a_follow_up_is_answered_with_the_conversation(
    seed_engine: Engine, earlier: str, question: str, expected: str
) -> None:
    answer = seed_engine.ask(question, history=_converse(seed_engine, [earlier]))
    assert answer.citation is not None
    assert expected in answer.citation.snippet
    assert answer.question == question


@pytest.mark.model
def test_a_follow_up_the_article_cannot_answer_abstains(seed_engine: Engine) -> None:
    history = _converse(seed_engine, ["Who is Lee meeting in Japan?"])
    assert history[0].cited_article_id is not None
    assert seed_engine.ask("How old is she?", history=history).abstained


@pytest.mark.model
def test_an_empty_history_gives_exactly_todays_answers(seed_engine: Engine) -> None:
    """Today's answers: `answer_question` on the served version, as before follow-ups."""
    lines = (EVAL_DATA / "seed" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    earlier = _converse(seed_engine, ["Who did Lee meet in Beijing on Monday?"])
    with seed_engine._reading() as version:
        today = [
            answer_question(version, seed_engine.encoder, q, settings=seed_engine.settings)
            for q in questions
        ]
    assert [seed_engine.ask(q) for q in questions] == today
    assert [seed_engine.ask(q, history=()) for q in questions] == today
    # Questions that stand alone are answered as if asked first, whatever came before.
    alone = [q for q in questions if not leans_on_context(q)]
    assert len(alone) > 10
    assert [seed_engine.ask(q, history=earlier) for q in alone] == [
        today[questions.index(q)] for q in alone
    ]


def test_the_article_already_cited_is_preferred(
    tmp_path: Path, fake_encoder: CountingEncoder
) -> None:
    """Two articles answer alike; the follow-up keeps to the one the conversation cited."""
    articles = write_corpus(
        tmp_path / "articles",
        {
            "monday.txt": "Summit plans\nThe minister will visit Paris on Monday for talks.",
            "tuesday.txt": "Summit plans\nThe minister will visit Paris on Tuesday for talks.",
        },
    )
    engine = Engine(tmp_path / "index", articles, fake_encoder)
    engine.reindex()
    try:
        cited = {
            article: engine.ask(
                "When will he go there?",
                history=[Turn("Which minister will visit Paris for talks?", article)],
            ).citation
            for article in ("monday.txt", "tuesday.txt")
        }
    finally:
        engine.close()
    assert {a: c.source.article_id if c else None for a, c in cited.items()} == {
        "monday.txt": "monday.txt",
        "tuesday.txt": "tuesday.txt",
    }
