"""`citebot eval` on follow-ups: a question's history is asked first, as in a thread."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.evaluate import evaluate
from retrieval import Answer, Engine
from retrieval.answer.choose import AnswerSettings
from retrieval.answer.followup import Turn
from retrieval.encode.fake import FakeEncoder
from tests.conftest import EVAL_DATA, REPO

FOLLOWUPS = EVAL_DATA / "followups"


def test_the_history_is_asked_first_in_order_and_feeds_the_follow_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = {
        "id": "f1",
        "history": ["Who is Lee meeting in Japan?", "Where is she prime minister?"],
        "question": "When will he meet her?",
        "answers": ["later this month"],
        "article_id": "lee-china-visit",
    }
    questions = tmp_path / "questions.jsonl"
    questions.write_text(json.dumps(record) + "\n", encoding="utf-8")
    asked: list[tuple[str, tuple[Turn, ...]]] = []
    real_ask = Engine.ask

    def spy(self: Engine, question: str, **kwargs: Any) -> Answer:
        asked.append((question, tuple(kwargs.get("history", ()))))
        return real_ask(self, question, **kwargs)

    monkeypatch.setattr(Engine, "ask", spy)
    evaluate(
        [FOLLOWUPS / "articles.jsonl"],
        questions,
        FakeEncoder(),
        mode="hybrid",
        settings=AnswerSettings(),
        quiet=True,
    )
    assert [q for q, _ in asked] == [*record["history"], record["question"]]
    assert [len(h) for _, h in asked] == [0, 1, 2]
    assert [t.question for t in asked[2][1]] == record["history"]


@pytest.mark.model
def test_followups_meet_the_target(tmp_path: Path) -> None:
    """`citebot eval` on the followups set: every answerable follow-up hit@1, both unanswerable
    ones abstained (docs/quality.md). In a subprocess, as a user runs it; the model loaded
    in this process would stay loaded for the tests after it."""
    (tmp_path / "none.env").write_text("")  # no settings: the defaults
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "--env-file",
            str(tmp_path / "none.env"),
            "eval",
            "--articles",
            str(FOLLOWUPS / "articles.jsonl"),
            "--questions",
            str(FOLLOWUPS / "questions.jsonl"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["answerable"], result["questions"]) == (6, 8)
    assert result["snippet_hit@1"] == 1.0
    assert result["abstain_recall"] == 1.0
