"""Follow-up questions: reading a question with the conversation it continues.

"Who will he meet there?" after "When is Lee visiting Japan?" names no one; asked alone it finds
nothing. A question that leans on what came before (a pronoun, an opening "and", or no words
of its own to search for) is searched with the earlier questions' names, and with their terms
too when it has almost none of its own; the articles already cited are preferred. A question
that stands on its own is answered as if asked first.

Borrowed words make any sentence of the earlier answer look relevant, so a follow-up asking for
a time, a number, a name or a place is answered only by a sentence that holds one the
conversation has not already named; otherwise citebot abstains.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.answer.overlap import question_entities
from retrieval.answer.questions import offers, question_kind
from retrieval.index.terms import keyword_terms
from retrieval.index.version import IndexVersion
from retrieval.types import Answer, Citation

# Words that point back at something said before. A subject or possessive pronoun after a name
# of the question's own ("Where did Tesla live for much of his life?") points to that name
# instead; an object pronoun ("When will Lee meet him?") points to someone else, so back;
# "that" points back only at the end ("What did he say after that?"), elsewhere it is mostly a
# relative pronoun ("the pass that won the game"); "there" in "are there" points nowhere.
_PERSONAL = re.compile(r"\b(?:he|she|his|hers|it|its|they|their|theirs)\b", re.IGNORECASE)
# "her" is as often "him" as "his": read as pointing back ("When will Lee meet her?").
_OBJECT = re.compile(r"\b(?:him|her|them)\b", re.IGNORECASE)
_DEMONSTRATIVE = re.compile(
    r"\b(?:this|these|those|then|the latter|the former)\b|\bthat\W*$", re.IGNORECASE
)
_THERE = re.compile(r"\bthere\b", re.IGNORECASE)
_EXISTENTIAL = re.compile(
    r"\b(?:is|are|was|were|be|been)\s+there\b|^\W*there\s+(?:is|are|was|were|has|have)\b",
    re.IGNORECASE,
)
# Openings that continue a conversation: "And where…", "What about…", "But why…".
_CONTINUING = re.compile(r"^\W*(?:and|but|also|so|what about|how about)\b", re.IGNORECASE)
# How far back a chain of follow-ups is read ("Who was X?" / "Was he…?" / "What happened…?").
MAX_CHAIN = 3


@dataclass(frozen=True, slots=True)
class Turn:
    """An earlier question of the same conversation and the article its answer cited (None
    when citebot abstained)."""

    question: str
    cited_article_id: str | None = None

    @classmethod
    def of(cls, answer: Answer) -> Turn:
        """The turn an answer makes, for the history of the next question."""
        cited = answer.citation
        return cls(answer.question, None if cited is None else cited.source.article_id)


@dataclass(frozen=True, slots=True)
class Context:
    """How a follow-up is searched: its words and the borrowed ones, and the articles cited."""

    query: str
    prefer: frozenset[str]
    said: str  # the follow-up and the earlier questions it leans on


def leans_on_context(question: str) -> bool:
    """Whether a question needs the conversation to be understood: it continues ("And
    where…"), points back ("he", "there", "this", "after that") without a name of its own
    before the pointing word, or has no words of its own to search for ("When?")."""
    if _CONTINUING.match(question) or _DEMONSTRATIVE.search(question) or _OBJECT.search(question):
        return True
    if _THERE.search(question) and not _EXISTENTIAL.search(question):
        return True
    pronoun = _PERSONAL.search(question)
    if pronoun is not None:
        named = [question.find(name) for name in question_entities(question)]
        if not any(0 <= at < pronoun.start() for at in named):
            return True
    return not keyword_terms(question) and not question_entities(question)


def _names(question: str) -> list[str]:
    return [re.sub(r"['’]s$", "", name) for name in sorted(question_entities(question))]


def context_of(question: str, history: Sequence[Turn]) -> Context | None:
    """The search for `question` after `history` (oldest first), or None when it stands alone
    or there is no history."""
    if not history or not leans_on_context(question):
        return None
    chain: list[Turn] = []
    for turn in reversed(history):
        chain.append(turn)
        if len(chain) >= MAX_CHAIN or not leans_on_context(turn.question):
            break
    own = {w.lower() for w in keyword_terms(question)}
    elliptical = len(own) < 2  # the earlier questions' terms stand in for the missing ones
    borrowed: list[str] = []
    for turn in chain:  # the latest first: its names are the likeliest referents
        words = _names(turn.question)
        if elliptical:
            words += [t for t in keyword_terms(turn.question) if len(t) > 1]
        for word in words:
            if word.lower() not in own:
                own.add(word.lower())
                borrowed.append(word)
    prefer = frozenset(t.cited_article_id for t in chain if t.cited_article_id)
    said = " ".join([question, *(t.question for t in chain)])
    return Context(" ".join([question, *borrowed]), prefer, said)


def cited_sentence(version: IndexVersion, citation: Citation) -> str:
    """The sentence a citation answers with: its snippet may open with the one before it."""
    for row in version.store.sentences_of_article(citation.source.article_id):
        if row.end == citation.end and row.start >= citation.start:
            return citation.snippet[row.start - citation.start :]
    return citation.snippet


def settle(question: str, context: Context, answer: Answer, sentence: str | None) -> Answer:
    """The answer to the follow-up as asked: its own words, and an abstention when the cited
    `sentence` holds nothing of the kind asked for that the conversation has not named."""
    citation = answer.citation
    kind = question_kind(question)
    if citation is not None and kind != "other" and not offers(kind, sentence or "", context.said):
        further = (citation.source, *answer.further)[: max(len(answer.further), 1)]
        return Answer(question, None, further, answer.ranked_article_ids)
    return Answer(question, citation, answer.further, answer.ranked_article_ids)
