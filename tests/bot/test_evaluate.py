"""`citebot eval`: what it indexed and skipped is said, and nothing to score is an error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main

CHIPS = {
    "id": "chips",
    "title": "Chipmaker expands",
    "text": "The chipmaker will build a factory in Arizona. "
    "The chipmaker expects to hire 3,000 workers by 2027.",
}
QUESTION = {
    "id": "q1",
    "question": "How many workers will the chipmaker hire?",
    "answers": ["3,000"],
    "article_id": "chips",
}


def write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def run_eval(tmp_path: Path, *args: str) -> int:
    return main(["--model", "fake", "--env-file", str(tmp_path / ".env"), "eval", *args])


@pytest.fixture
def questions(tmp_path: Path) -> Path:
    (tmp_path / ".env").write_text("")
    return write_jsonl(tmp_path / "questions.jsonl", [QUESTION])


def test_eval_says_what_it_skipped_and_fails_when_nothing_was_indexed(
    tmp_path: Path, questions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    articles = tmp_path / "data" / "articles.jsonl"
    articles.parent.mkdir()
    articles.write_text(json.dumps(CHIPS) + "\n" + "not json\n")
    (tmp_path / ".env").write_text("CITEBOT_MAX_FILE_BYTES=50\n")  # honoured: every record over
    assert run_eval(tmp_path, "--articles", str(articles), "--questions", str(questions)) == 1
    err = capsys.readouterr().err
    assert f"skipped {articles}:1: The record is 156 bytes, over the limit of 50 bytes." in err
    assert f"skipped {articles}:2: Not valid JSON" in err
    assert "citebot: Nothing was indexed from" in err


def test_a_jsonl_over_the_file_limit_of_small_articles_is_scored(
    tmp_path: Path, questions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    filler = [{"id": f"f{i}", "text": f"Filler story number {i}."} for i in range(100)]
    articles = write_jsonl(tmp_path / "articles.jsonl", [CHIPS, *filler])
    (tmp_path / ".env").write_text("CITEBOT_MAX_FILE_BYTES=1000\n")  # the file holds ~5 KB
    args = ["--articles", str(articles), "--questions", str(questions), "--json"]
    assert run_eval(tmp_path, *args) == 0
    assert json.loads(capsys.readouterr().out)["snippet_hit@1"] == 1.0


def test_eval_accepts_a_folder_of_articles(
    tmp_path: Path, questions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_jsonl(tmp_path / "news" / "sub" / "chips.jsonl", [CHIPS])
    args = ["--articles", str(tmp_path / "news"), "--questions", str(questions), "--json"]
    assert run_eval(tmp_path, *args) == 0
    assert json.loads(capsys.readouterr().out)["snippet_hit@1"] == 1.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "Cannot read the questions file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "is not UTF-8 text; it must be JSON Lines"),
        (b'{"question": "Who?"}\nnot json\n', "The questions file is malformed: "),
        (b'{"answers": []}\n', "The questions file is malformed: "),
        (b"\n\n", "holds no questions"),
    ],
)
def test_a_bad_questions_file_gets_a_message_not_a_traceback(
    tmp_path: Path,
    questions: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes | None,
    message: str,
) -> None:
    articles = write_jsonl(tmp_path / "articles.jsonl", [CHIPS])
    bad = tmp_path / "bad.jsonl"
    if content is not None:
        bad.write_bytes(content)
    assert run_eval(tmp_path, "--articles", str(articles), "--questions", str(bad)) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
