"""Question kinds, what a sentence offers, relative dates, and entity coverage."""

from __future__ import annotations

import pytest

from retrieval.answer.dates import resolve_relative
from retrieval.answer.overlap import entity_coverage, question_entities
from retrieval.answer.questions import offers, question_kind


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When is Lee visiting Japan?", "when"),
        ("What year was the bridge opened?", "when"),
        ("How many workers will it hire?", "number"),
        ("Who will Lee meet on Tuesday?", "who"),
        ("Where will Lee hold a memorial service?", "where"),
        ("What phone did Lee use?", "other"),
    ],
)
def test_question_kind(question: str, kind: str) -> None:
    assert question_kind(question) == kind


def test_offers_needs_something_the_question_does_not_already_say() -> None:
    assert offers("when", "Lee will visit later this month.", "When will Lee visit?")
    assert not offers("when", "Xi visited in November.", "When in November did Xi visit?")
    assert offers("number", "It hired 3,000 workers.", "How many workers?")
    assert not offers("number", "It hired many workers.", "How many workers?")
    assert offers("who", "He met Premier Li Qiang.", "Who did Lee meet?")


@pytest.mark.parametrize(
    ("text", "published", "resolved"),
    [
        ("Lee plans to visit Japan later this month.", "2026-01-05", "January 2026"),
        ("He will meet Li Qiang on Tuesday.", "2026-01-05", "Tuesday 6 January 2026"),
        ("Xi met Lee in Beijing on Monday.", "2026-01-07", "Monday 5 January 2026"),
        # Published on a Thursday: a Sunday in the past tense is the one before, in the future
        # the one after; with no tense to go by, the nearest.
        ("Smith won the kettle race on Sunday.", "2026-01-08", "Sunday 4 January 2026"),
        ("The final will be played on Sunday.", "2026-01-08", "Sunday 11 January 2026"),
        ("The market opens on Sunday.", "2026-01-08", "Sunday 11 January 2026"),
        ("The market opens on Tuesday.", "2026-01-08", "Tuesday 6 January 2026"),
        ("Talks are expected to end on Tuesday.", "2026-01-08", "Tuesday 13 January 2026"),
        ("The report came out yesterday.", "2026-03-01", "28 February 2026"),
        ("Talks resume next month.", "2026-12-10", "January 2027"),
        ("Elections are due next year.", "2026-12-10", "2027"),
        ("Lee plans to visit Japan later this month.", None, None),
        ("Nothing relative here.", "2026-01-05", None),
    ],
)
def test_relative_times_resolve_against_the_publication_date(
    text: str, published: str | None, resolved: str | None
) -> None:
    assert resolve_relative(text, published) == resolved


def test_question_entities_skip_the_question_word() -> None:
    assert question_entities("Who won the 2022 FIFA World Cup?") == {"2022", "FIFA", "World", "Cup"}
    assert question_entities("When is Lee visiting Japan?") == {"Lee", "Japan"}


def test_entity_coverage_tolerates_word_forms_but_not_absence() -> None:
    text = "The Roman legions feared German tribes. India's schools grew. Lee met Xi in 2019."
    assert entity_coverage("What did the Romans fear in Germany?", text) == 1.0
    assert entity_coverage("What were Indian schools like?", text) == 1.0
    assert entity_coverage("What is the population of Seoul?", text) == 0.0
    assert entity_coverage("Who won the 2022 FIFA World Cup?", text) == 0.0
    assert entity_coverage("what is the boiling point of water?", text) == 1.0
