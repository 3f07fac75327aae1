"""Answer-quality metrics over question sets in the shape of `shared/eval/*/questions.jsonl`.

A question is answerable when it lists gold answers. Over answerable questions:
`article_recall@1` / `@5` (a gold article among the first 1 / 5 distinct articles ranked),
`mrr` (reciprocal rank of the first gold article), `snippet_hit@1` (not an abstention, cites a
gold article, and the snippet contains a gold answer after normalisation), `false_abstain_rate`.
Over unanswerable ones: `abstain_recall`. Latency: `p50_ms`, `p95_ms` per question. A question
with a `history` is a follow-up: the history is asked first, as in a conversation, and only the
follow-up is scored.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.types import Answer

_QUOTES = re.compile("[\"'`´‘’‚‛“”„‟«»‹›]")


def normalise(text: str) -> str:
    """Unicode NFKC, case-folded, quote characters removed, whitespace folded."""
    text = _QUOTES.sub("", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]
    article_ids: tuple[str, ...]
    # Questions asked before in the same conversation, oldest first (the followups set).
    history: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def read_questions(path: Path) -> list[Question]:
    """Questions from JSON Lines; `article_ids` (several gold articles) wins over `article_id`."""
    out = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                gold = data.get("article_ids") or (
                    [data["article_id"]] if data.get("article_id") else []
                )
                out.append(
                    Question(
                        id=str(data.get("id", f"{path.name}:{number}")),
                        question=str(data["question"]),
                        answers=tuple(str(a) for a in data.get("answers") or ()),
                        article_ids=tuple(str(g) for g in gold),
                        history=tuple(str(h) for h in data.get("history") or ()),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a question record ({exc})") from exc
    return out


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the system answered to one question, and how long it took."""

    question: Question
    answer: Answer
    ms: float

    @property
    def gold_rank(self) -> int | None:
        for rank, article_id in enumerate(self.answer.ranked_article_ids, 1):
            if article_id in self.question.article_ids:
                return rank
        return None

    @property
    def snippet_hit(self) -> bool:
        c = self.answer.citation
        if c is None or c.source.article_id not in self.question.article_ids:
            return False
        snippet = normalise(c.snippet)
        return any(normalise(a) in snippet for a in self.question.answers if normalise(a))


def _share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def metrics(outcomes: Iterable[Outcome]) -> dict[str, float | int | None]:
    """The report's figures; a share over an empty group is None (null in JSON)."""
    outcomes = list(outcomes)
    answerable = [o for o in outcomes if o.question.answerable]
    unanswerable = [o for o in outcomes if not o.question.answerable]
    ranks = [o.gold_rank for o in answerable]
    times = np.asarray([o.ms for o in outcomes], dtype=np.float64)
    return {
        "article_recall@1": _share([r is not None and r <= 1 for r in ranks]),
        "article_recall@5": _share([r is not None and r <= 5 for r in ranks]),
        "snippet_hit@1": _share([o.snippet_hit for o in answerable]),
        "mrr": round(float(np.mean([1.0 / r if r else 0.0 for r in ranks])), 4) if ranks else None,
        "abstain_recall": _share([o.answer.abstained for o in unanswerable]),
        "false_abstain_rate": _share([o.answer.abstained for o in answerable]),
        "p50_ms": round(float(np.percentile(times, 50)), 2) if len(times) else None,
        "p95_ms": round(float(np.percentile(times, 95)), 2) if len(times) else None,
        "questions": len(outcomes),
        "answerable": len(answerable),
    }
