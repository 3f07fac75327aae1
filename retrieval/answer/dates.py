"""Resolving relative time expressions against an article's publication date.

"later this month" in an article published 2026-01-05 means January 2026. News writes weekdays
for the days around publication: in a sentence in the past tense ("won on Sunday") a weekday is
the last such day up to publication, in one about the future ("will meet on Sunday") the next
one from it, and otherwise the nearest such day within three days either side.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_RELATIVE = re.compile(
    r"\b(?P<phrase>today|tonight|yesterday|tomorrow"
    r"|(?:later|earlier) this (?:week|month|year)"
    r"|(?:this|next|last) (?:week|month|year)"
    r"|(?:on )?(?P<weekday>monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b",
    re.IGNORECASE,
)


# Words that put a sentence in the future, checked first ("is expected to"), then in the past.
_FUTURE = re.compile(
    r"\b(?:will|won't|shall|'ll|going to|is to|are to|is due|are due|plans?|planning"
    r"|expected|scheduled|set to|next|upcoming|tomorrow)\b",
    re.IGNORECASE,
)
_PAST = re.compile(
    r"\b(?:was|were|had|did|said|won|lost|met|took|held|made|went|came|began|gave|saw|told"
    r"|left|found|became|ran|beat|fell|rose|ago|yesterday|last|\w{3,}(?<!e)ed)\b",
    re.IGNORECASE,
)


def _weekday_delta(text: str, anchor: date, target: int) -> int:
    """Days from `anchor` to weekday `target` as `text` means it (see the module's docstring)."""
    if _FUTURE.search(text):
        return (target - anchor.weekday()) % 7
    if _PAST.search(text):
        return -((anchor.weekday() - target) % 7)
    return (target - anchor.weekday() + 3) % 7 - 3


def parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _month(d: date) -> str:
    return d.strftime("%B %Y")


def _shift_month(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _week(d: date) -> str:
    monday = d - timedelta(days=d.weekday())
    return f"week of {monday.strftime('%-d %B %Y')}"


def resolve_relative(text: str, published: str | None) -> str | None:
    """The date a relative time in `text` refers to, in words; None when there is none."""
    anchor = parse_date(published)
    if anchor is None:
        return None
    match = _RELATIVE.search(text)
    if match is None:
        return None
    phrase = match.group("phrase").lower()
    if match.group("weekday"):
        target = _WEEKDAYS.index(match.group("weekday").lower())
        delta = _weekday_delta(text, anchor, target)
        return (anchor + timedelta(days=delta)).strftime("%A %-d %B %Y")
    unit = phrase.rsplit(" ", 1)[-1]
    if phrase in ("today", "tonight"):
        return anchor.strftime("%-d %B %Y")
    if phrase == "yesterday":
        return (anchor - timedelta(days=1)).strftime("%-d %B %Y")
    if phrase == "tomorrow":
        return (anchor + timedelta(days=1)).strftime("%-d %B %Y")
    step = 1 if phrase.startswith("next") else -1 if phrase.startswith("last") else 0
    if unit == "week":
        return _week(anchor + timedelta(weeks=step))
    if unit == "month":
        return _month(_shift_month(anchor, step))
    return str(anchor.year + step)
