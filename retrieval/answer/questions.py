"""What kind of answer a question wants, and whether a sentence offers that kind.

These are general cues of English questions ("when" wants a time, "who" a person), not rules
for any particular set of questions.
"""

from __future__ import annotations

import re
from typing import Literal

Kind = Literal["when", "who", "where", "number", "other"]

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
TIME_EXPRESSION = re.compile(
    rf"\b(?:(?:{_MONTHS})\.?\b|(?:{_WEEKDAYS})|\d{{4}}s?\b|\d{{1,2}}(?:st|nd|rd|th)\b"
    r"|today|tonight|yesterday|tomorrow|(?:this|next|last|later this|earlier this)\s+"
    r"(?:week|month|year|weekend|morning|afternoon|evening|spring|summer|autumn|fall|winter)"
    r"|century|decade|(?:days?|weeks?|months?|years?)\s+(?:ago|later|earlier|before|after)"
    r"|\d{1,2}:\d{2}|\d{1,2}\s*[ap]\.?m\.?|season|era)",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty"
    r"|forty|fifty|hundred|thousand|million|billion|dozen|half)\b",
    re.IGNORECASE,
)
# A capitalised word that is not the first of the sentence: a rough stand-in for a name.
_NAME = re.compile(r"(?<=[\w,;:'\"’)] )[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")
_PLACE = re.compile(r"\b(?:in|at|from|to|near|across)\s+(?:the\s+)?[A-Z][a-z]+")


def question_kind(question: str) -> Kind:
    q = question.strip().lower()
    if (
        re.match(r"^(?:when|what (?:year|month|day|date|time)|which (?:year|month|day|date))\b", q)
        or re.search(r"\b(?:what|which) (?:year|month|day|date|time)\b", q)
        or re.search(r"\bhow long ago\b", q)
    ):
        return "when"
    if re.search(r"\bhow (?:many|much|long|old|far|big|large|tall|high)\b", q) or re.search(
        r"\bwhat (?:percentage|percent|number|amount)\b", q
    ):
        return "number"
    if re.match(r"^(?:who|whom|whose)\b", q) or re.search(r"\b(?:who|whom|whose)\b", q[:40]):
        return "who"
    if re.match(r"^where\b", q) or re.search(r"\b(?:what|which) (?:city|country|place)\b", q):
        return "where"
    return "other"


_PATTERNS: dict[Kind, re.Pattern[str]] = {
    "when": TIME_EXPRESSION,
    "number": _NUMBER,
    "who": _NAME,
    "where": _PLACE,
}


def offers(kind: Kind, sentence: str, question: str = "") -> bool:
    """Whether the sentence holds the kind of thing asked for, beyond what the question says.

    "When did Xi visit in November?" is not answered by the month it already names.
    """
    pattern = _PATTERNS.get(kind)
    if pattern is None:
        return False
    asked = question.lower()
    return any(m.group(0).lower() not in asked for m in pattern.finditer(sentence))
