"""Each article format's reading, through `load_articles` as a build reads it: plain text,
Markdown, JSON and JSON Lines (retrieval/formats.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from retrieval import Engine
from retrieval.ingest.loading import load_articles
from retrieval.types import Article, Skipped
from tests.conftest import EVAL_DATA, SEEDS, CountingEncoder
from tests.retrieval.ingest.test_loading import only, reasons, write

SEED = EVAL_DATA / "seed" / "articles.jsonl"


# Plain text


def test_txt_title_is_first_line_when_there_are_several(tmp_path: Path) -> None:
    write(tmp_path, "news/a.txt", "\n  Bridge approved  \n\nThe council voted.  It passed.\n\n\n\n")
    article = only(load_articles(tmp_path))
    assert article == Article(
        id="news/a.txt",
        title="Bridge approved",
        text="Bridge approved  \n\nThe council voted.  It passed.",
        path="news/a.txt",
        body_start=19,  # the headline is the title, never quoted
    )


def test_txt_title_is_first_sentence_of_a_single_line(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "Mr. Smith went to Washington. He stayed a week.")
    assert only(load_articles(tmp_path)).title == "Mr. Smith went to Washington."


def test_txt_long_title_is_trimmed_at_a_word(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "word " * 100 + "\nsecond line")
    title = only(load_articles(tmp_path)).title
    assert title == ("word " * 40).strip() + "…"


def test_seed_txt_is_read_whole_without_trailing_newlines(tmp_path: Path) -> None:
    seed = SEEDS / "lee-jae-myung-china-visit.txt"
    shutil.copy(seed, tmp_path / seed.name)
    article = only(load_articles(tmp_path))
    raw = seed.read_text(encoding="utf-8")
    assert article.text == raw.strip()
    # Its first line is a sentence of the story: quotable, and the title shown is shortened.
    assert article.body_start == 0
    assert article.title == (
        "South Korea's President Lee Jae Myung has called for a 'new phase' in ties with…"
    )


# Markdown


def test_markdown_front_matter(tmp_path: Path) -> None:
    write(
        tmp_path,
        "b.md",
        "---\ntitle: Bridge approved\nurl: https://example.org/b\npublished: 2024-01-05\n"
        "source: Gazette\nauthor: ignored\n---\n\n# Heading\n\nOne.  Two spaces.\n\n\nThree.\n",
    )
    assert only(load_articles(tmp_path)) == Article(
        id="b.md",
        title="Bridge approved",
        text="# Heading\n\nOne.  Two spaces.\n\n\nThree.",
        path="b.md",
        body_start=11,  # the heading atop the story is never quoted
        url="https://example.org/b",
        published="2024-01-05",
        source="Gazette",
    )


def test_markdown_without_front_matter_takes_the_first_heading(tmp_path: Path) -> None:
    write(tmp_path, "c.markdown", "#hashtag line\n\n## Big news ##\n\nBody.")
    article = only(load_articles(tmp_path))
    assert (article.title, article.text, article.url, article.published) == (
        "Big news",
        "#hashtag line\n\n## Big news ##\n\nBody.",
        None,
        None,
    )


def test_markdown_without_heading_takes_the_first_line(tmp_path: Path) -> None:
    write(tmp_path, "d.md", "---\npublished: '2024-03-05T10:00:00Z'\n---\nFirst line\nSecond.")
    article = only(load_articles(tmp_path))
    assert (article.title, article.published) == ("First line", "2024-03-05")


def test_markdown_date_that_is_not_iso_is_dropped(tmp_path: Path) -> None:
    write(tmp_path, "d.md", "---\npublished: last Tuesday\n---\nBody.")
    assert only(load_articles(tmp_path)).published is None


def test_markdown_broken_front_matter_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "bad.md", "---\ntitle: [unclosed\n---\nBody.")
    result = load_articles(tmp_path)
    assert result.articles == ()
    assert reasons(result)["bad.md"].startswith("The front matter cannot be read")


# JSON and JSON Lines


def test_json_object(tmp_path: Path) -> None:
    record = {"id": 42, "title": "T", "url": None, "published": "2023-12-31", "text": " Body. "}
    write(tmp_path, "one.json", json.dumps(record))
    assert only(load_articles(tmp_path)) == Article(
        id="42", title="T", text="Body.", path="one.json", published="2023-12-31"
    )


def test_json_list_with_a_bad_item(tmp_path: Path) -> None:
    records = [{"id": "a", "title": "A", "text": "Alpha."}, {"text": "Beta. More."}, "oops"]
    write(tmp_path, "list.json", json.dumps(records))
    result = load_articles(tmp_path)
    assert [(a.id, a.title, a.path) for a in result.articles] == [
        ("a", "A", "list.json#0"),
        ("list.json#1", "Beta.", "list.json#1"),
    ]
    assert result.skipped == (
        Skipped("list.json#2", "Expected a JSON object with a 'text' field."),
    )


def test_malformed_json_file_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "bad.json", '{"text": "x",')
    result = load_articles(tmp_path)
    assert result.articles == ()
    assert reasons(result)["bad.json"].startswith("Not valid JSON:")


def test_jsonl_keeps_good_lines_around_a_malformed_one(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {"id": "a", "title": None, "url": "https://x.example/a", "text": "Alpha.\nMore."}
        ),
        '{"id": "broken", "text": ',
        "",
        json.dumps({"title": "B", "published": "someday", "text": "Beta.", "extra": [1]}),
        json.dumps({"id": "c", "text": 7}),
        json.dumps({"id": "d", "text": "  "}),
    ]
    write(tmp_path, "set/b.jsonl", "\n".join(lines) + "\n")
    result = load_articles(tmp_path)
    assert result.articles == (
        Article(id="a", title="Alpha.", text="Alpha.\nMore.", path="set/b.jsonl:1",
                url="https://x.example/a", body_start=7),
        Article(id="set/b.jsonl:4", title="B", text="Beta.", path="set/b.jsonl:4"),
    )  # fmt: skip
    assert [s.path for s in result.skipped] == ["set/b.jsonl:2", "set/b.jsonl:5", "set/b.jsonl:6"]
    found = reasons(result)
    assert found["set/b.jsonl:2"].startswith("Not valid JSON:")
    assert found["set/b.jsonl:5"] == "The record has a 'text' that is not a string."
    assert found["set/b.jsonl:6"] == "The article is empty."


def test_jsonl_line_separator_inside_a_string_is_not_a_line_break(tmp_path: Path) -> None:
    record = {"id": "a", "title": "T", "text": "One.\u2028Two."}
    write(tmp_path, "a.jsonl", json.dumps(record, ensure_ascii=False) + "\n")
    assert only(load_articles(tmp_path)).text == "One.\u2028Two."


def test_eval_set_format(tmp_path: Path) -> None:
    shutil.copy(SEED, tmp_path / "articles.jsonl")
    record = json.loads(SEED.read_text(encoding="utf-8").splitlines()[0])
    article = only(load_articles(tmp_path))
    assert (article.id, article.path, article.title, article.url, article.published) == (
        "lee-china-visit",
        "articles.jsonl:1",
        record["title"],
        None,
        None,
    )
    assert article.text == record["text"]


# Titles are shown and searched, never quoted

BRIDGE_STORY = "The bridge will be closed for three days in March while cables are replaced."
KETTLE_STORY = "Ann Smith won the kettle race in Lewes on Sunday, carrying her kettle fastest."
HEADLINES = {
    "bridge.txt": f"Golden Gate Bridge closed for repairs\n{BRIDGE_STORY}",
    "kettle.md": f"# Kettle race\n\n{KETTLE_STORY}",
    "kettle.html": (
        "<html><head><title>Kettle race</title></head><body><article><h1>Kettle race</h1>"
        f"<p>{KETTLE_STORY}</p><p>She beat forty rivals in the rain.</p></article></body></html>"
    ),
    "bridge.jsonl": json.dumps({"id": "b", "text": f"Golden Gate Bridge closed\n{BRIDGE_STORY}"}),
    "kettle.json": json.dumps(
        {"id": "k", "title": "Kettle race", "text": f"Kettle race\n{KETTLE_STORY}"}
    ),
}


@pytest.mark.parametrize("name", sorted(HEADLINES))
def test_a_headline_line_is_the_title_and_the_story_starts_after_it(
    tmp_path: Path, name: str
) -> None:
    write(tmp_path, name, HEADLINES[name])
    article = only(load_articles(tmp_path))
    assert article.title in ("Golden Gate Bridge closed for repairs", "Golden Gate Bridge closed",
                             "Kettle race")  # fmt: skip
    assert article.text[article.body_start :].startswith((BRIDGE_STORY, KETTLE_STORY))


def test_a_headline_is_never_quoted_but_still_searched(
    tmp_path: Path, fake_encoder: CountingEncoder
) -> None:
    for name, content in HEADLINES.items():
        write(tmp_path / "articles", name, content)
    engine = Engine(tmp_path / "index", tmp_path / "articles", fake_encoder)
    engine.reindex()
    for question in (
        "How long will the Golden Gate Bridge be closed?",
        "Who won the kettle race?",
        "Kettle race",
        "Golden Gate Bridge closed for repairs",
    ):
        answer = engine.ask(question)
        assert answer.citation is not None, question
        assert answer.citation.snippet.startswith(("The bridge", "Ann Smith")), question
    engine.close()
