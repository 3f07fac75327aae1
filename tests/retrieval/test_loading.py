from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from retrieval.errors import ArticleError
from retrieval.loading import LoadResult, load_articles, load_file
from retrieval.types import Article, Skipped
from tests.conftest import SHARED_EVAL

SEED = SHARED_EVAL / "seed" / "articles.jsonl"

NEWS_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>Council approves new bridge | Riverside Gazette</title>
<link rel="canonical" href="https://gazette.example/news/bridge">
<meta property="og:site_name" content="Riverside Gazette">
<meta name="date" content="2024-03-05T10:00:00Z">
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>
<li><a href="/sport">Sport</a></li></ul></nav>
<article>
<h1>Council approves new bridge</h1>
<p>The city council voted on Tuesday to approve a new pedestrian bridge across the Riverside
canal, ending a debate that lasted nearly three years.</p>
<p>The bridge will cost 4.2 million dollars and is expected to open in the spring of 2026,
according to the mayor's office.</p>
<p>Residents of the east bank had long complained that the nearest crossing was more than a
mile away from the market square.</p>
</article>
<footer><p>Copyright 2024 Riverside Gazette. All rights reserved.</p>
<a href="/privacy">Privacy policy</a></footer>
</body></html>"""


def write(root: Path, name: str, content: str | bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def only(result: LoadResult) -> Article:
    assert result.skipped == ()
    assert len(result.articles) == 1
    return result.articles[0]


def reasons(result: LoadResult) -> dict[str, str]:
    return {s.path: s.reason for s in result.skipped}


# Plain text


def test_txt_title_is_first_line_when_there_are_several(tmp_path: Path) -> None:
    write(tmp_path, "news/a.txt", "\n  Bridge approved  \n\nThe council voted.  It passed.\n\n\n\n")
    article = only(load_articles(tmp_path))
    assert article == Article(
        id="news/a.txt",
        title="Bridge approved",
        text="Bridge approved  \n\nThe council voted.  It passed.",
        path="news/a.txt",
    )


def test_txt_title_is_first_sentence_of_a_single_line(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "Mr. Smith went to Washington. He stayed a week.")
    assert only(load_articles(tmp_path)).title == "Mr. Smith went to Washington."


def test_txt_long_title_is_trimmed_at_a_word(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "word " * 100 + "\nsecond line")
    title = only(load_articles(tmp_path)).title
    assert title == ("word " * 40).strip() + "…"


def test_seed_txt_is_read_whole_without_trailing_newlines(tmp_path: Path) -> None:
    seed = Path(__file__).parents[2] / "seeds" / "lee-jae-myung-china-visit.txt"
    if not seed.exists():
        pytest.skip("seed article not present")
    shutil.copy(seed, tmp_path / seed.name)
    article = only(load_articles(tmp_path))
    raw = seed.read_text(encoding="utf-8")
    assert article.text == raw.strip()
    assert article.title == raw.splitlines()[0].strip()


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
                url="https://x.example/a"),
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


# HTML


def test_html_main_text_without_boilerplate(tmp_path: Path) -> None:
    write(tmp_path, "bridge.html", NEWS_HTML)
    article = only(load_articles(tmp_path))
    assert article.title == "Council approves new bridge"
    assert article.url == "https://gazette.example/news/bridge"
    assert article.published == "2024-03-05"
    assert article.source == "Riverside Gazette"
    assert "ending a debate that lasted nearly three years." in article.text
    assert "more than a\nmile away" in article.text or "more than a mile away" in article.text
    for boilerplate in ("Home", "Sport", "Privacy policy", "All rights reserved"):
        assert boilerplate not in article.text


def test_html_date_in_the_story_is_not_taken_for_the_publication_date(tmp_path: Path) -> None:
    story = "The council discussed the plans for the new bridge across the canal at length. " * 4
    write(
        tmp_path,
        "old.html",
        f"<html><head><title>Bridge</title></head><body><article><h1>Bridge</h1>"
        f"<p>The vote held on May 1, 2019 was close.</p><p>{story}</p></article></body></html>",
    )
    article = only(load_articles(tmp_path))
    assert article.text.startswith("Bridge\nThe vote held on May 1, 2019 was close.")
    assert (article.published, article.url) == (None, None)


def test_html_without_main_text_is_skipped(tmp_path: Path) -> None:
    write(
        tmp_path,
        "nav.htm",
        "<html><head><title>Nav</title></head><body><nav><ul><li><a href='/'>Home</a></li>"
        "<li><a href='/news'>News</a></li></ul></nav><footer>Copyright 2024</footer></body></html>",
    )
    result = load_articles(tmp_path)
    assert result == LoadResult((), (Skipped("nav.htm", "No main text found in HTML."),))


# Encodings and bad files


def test_cp1252_file_is_decoded(tmp_path: Path) -> None:
    write(tmp_path, "old.txt", b"caf\xe9 \x93quoted\x94")
    assert only(load_articles(tmp_path)).text == "café “quoted”"


def test_bytes_undefined_in_cp1252_fall_back_to_latin1(tmp_path: Path) -> None:
    write(tmp_path, "old.txt", b"na\xefve \x8d")
    assert only(load_articles(tmp_path)).text == "naïve \x8d"


def test_utf8_bom_and_utf16_are_decoded(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", b"\xef\xbb\xbfHello world.")
    write(tmp_path, "b.txt", "Wide text.".encode("utf-16"))
    result = load_articles(tmp_path)
    assert [a.text for a in result.articles] == ["Hello world.", "Wide text."]


def test_bad_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    write(tmp_path, "binary.txt", b"\x89PNG\x00\x00")
    write(tmp_path, "empty.txt", b"")
    write(tmp_path, "blank.md", "  \n\n\t\n")
    write(tmp_path, "empty.jsonl", "\n\n")
    write(tmp_path, "big.txt", "x" * 11)
    write(tmp_path, "ok.txt", "Fine.")
    result = load_articles(tmp_path, max_bytes=10)
    assert [a.path for a in result.articles] == ["ok.txt"]
    assert reasons(result) == {
        "big.txt": "The file is 11 bytes, over the limit of 10 bytes.",
        "binary.txt": "It is a binary file, not text.",
        "blank.md": "The article is empty.",
        "empty.jsonl": "The file is empty.",
        "empty.txt": "The article is empty.",
    }


def test_broken_symlink_reports_the_os_reason(tmp_path: Path) -> None:
    (tmp_path / "gone.txt").symlink_to(tmp_path / "missing.txt")
    result = load_articles(tmp_path)
    assert result == LoadResult(
        (), (Skipped("gone.txt", "Cannot read this file: No such file or directory."),)
    )


def test_fifo_is_not_read(tmp_path: Path) -> None:
    # A named pipe would block a reader forever, even one running as root.
    os.mkfifo(tmp_path / "pipe.txt")
    assert reasons(load_articles(tmp_path)) == {"pipe.txt": "Not a regular file."}


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, "locked.txt", "Secret.")
    path.chmod(0)
    try:
        assert reasons(load_articles(tmp_path)) == {
            "locked.txt": "Cannot read this file: Permission denied."
        }
    finally:
        path.chmod(0o644)


def test_ignored_files(tmp_path: Path) -> None:
    write(tmp_path, ".hidden.txt", "Hidden.")
    write(tmp_path, ".git/config.txt", "Hidden folder.")
    write(tmp_path, "photo.jpg", b"\x00\x01")
    write(tmp_path, "README", "No suffix.")
    write(tmp_path, "kept.TXT", "Kept.")
    assert only(load_articles(tmp_path)).path == "kept.TXT"


def test_order_is_sorted_by_path(tmp_path: Path) -> None:
    for name in ("b.txt", "a/z.txt", "a.txt", "a/b/c.txt"):
        write(tmp_path, name, f"Text of {name}.")
    paths = [a.path for a in load_articles(tmp_path).articles]
    assert paths == ["a/b/c.txt", "a/z.txt", "a.txt", "b.txt"]


def test_nothing_raises_out_of_a_mixed_folder(tmp_path: Path) -> None:
    write(tmp_path, "a.json", "[1, 2")
    write(tmp_path, "b.jsonl", "{}\n[]\nnull\n")
    write(tmp_path, "c.html", b"\x00\x00")
    write(tmp_path, "d.md", "---\n: : :\n---\n")
    (tmp_path / "e.txt").symlink_to("e.txt")
    result = load_articles(tmp_path)
    assert result.articles == ()
    assert [s.path for s in result.skipped] == [
        "a.json",
        "b.jsonl:1",
        "b.jsonl:2",
        "b.jsonl:3",
        "c.html",
        "d.md",
        "e.txt",
    ]


# Symlinks


def test_symlink_loops_do_not_hang(tmp_path: Path) -> None:
    write(tmp_path, "sub/real.txt", "Real.")
    (tmp_path / "sub" / "up").symlink_to("..", target_is_directory=True)
    (tmp_path / "self").symlink_to("self")
    (tmp_path / "a.txt").symlink_to("b.txt")
    (tmp_path / "b.txt").symlink_to("a.txt")
    result = load_articles(tmp_path)
    assert [a.path for a in result.articles] == ["sub/real.txt"]
    loop = "Cannot read this file: it is a symlink loop."
    assert reasons(result) == {"a.txt": loop, "b.txt": loop}


def test_symlinks_outside_the_root_are_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "articles"
    write(tmp_path, "outside/secret.txt", "Secret.")
    write(root, "mine.txt", "Mine.")
    (root / "link.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    (root / "folder").symlink_to(tmp_path / "outside", target_is_directory=True)
    result = load_articles(root)
    assert [a.path for a in result.articles] == ["mine.txt"]
    outside = "It links outside the articles folder, so it was not followed."
    assert reasons(result) == {"folder": outside, "link.txt": outside}


def test_symlinked_root_is_walked(tmp_path: Path) -> None:
    write(tmp_path, "real/a.txt", "Alpha.")
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    assert only(load_articles(tmp_path / "alias")).path == "a.txt"


# Duplicates


def test_identical_text_is_indexed_once(tmp_path: Path) -> None:
    write(tmp_path, "b/copy.txt", "Same story.\nSame body.\n")
    write(tmp_path, "a.txt", "Same story.\nSame body.")
    write(tmp_path, "c.md", "Same story.\nSame body.")
    (tmp_path / "d.txt").symlink_to("a.txt")
    article = only(load_articles(tmp_path))
    assert (article.path, article.other_paths) == ("a.txt", ("b/copy.txt", "c.md", "d.txt"))


def test_duplicate_id_with_other_text_is_skipped(tmp_path: Path) -> None:
    lines = [
        {"id": "x", "title": "T", "text": "First."},
        {"id": "x", "title": "T", "text": "Second."},
        {"id": "x", "title": "T", "text": "First."},
    ]
    write(tmp_path, "a.jsonl", "\n".join(json.dumps(line) for line in lines))
    write(tmp_path, "b.json", json.dumps({"id": "x", "text": "Third."}))
    result = load_articles(tmp_path)
    assert [(a.id, a.path, a.other_paths) for a in result.articles] == [
        ("x", "a.jsonl:1", ("a.jsonl:3",))
    ]
    clash = "The id 'x' is already used by a.jsonl:1, whose text differs."
    assert result.skipped == (Skipped("a.jsonl:2", clash), Skipped("b.json", clash))


# One file


def test_load_file(tmp_path: Path) -> None:
    path = write(tmp_path, "sub/a.txt", "Title\nBody.")
    assert load_file(path, tmp_path) == [
        Article(id="sub/a.txt", title="Title", text="Title\nBody.", path="sub/a.txt")
    ]
    assert load_file(Path("sub/a.txt"), tmp_path)[0].id == "sub/a.txt"


def test_load_file_raises_with_a_reason(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", b"\x00")
    with pytest.raises(ArticleError, match="binary file"):
        load_file(path, tmp_path)


def test_load_file_jsonl_bad_line_raises_unless_collected(tmp_path: Path) -> None:
    path = write(tmp_path, "a.jsonl", '{"id": "a", "text": "A."}\nnot json\n')
    with pytest.raises(ArticleError, match=r"^a\.jsonl:2: Not valid JSON"):
        load_file(path, tmp_path)
    skipped: list[Skipped] = []
    assert [a.id for a in load_file(path, tmp_path, skipped=skipped)] == ["a"]
    assert [s.path for s in skipped] == ["a.jsonl:2"]


def test_load_file_refuses_a_link_outside_the_root(tmp_path: Path) -> None:
    write(tmp_path, "outside.txt", "Secret.")
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "link.txt").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(ArticleError, match="links outside the articles folder"):
        load_file(Path("link.txt"), tmp_path / "root")


def test_missing_root_raises(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match="does not exist"):
        load_articles(tmp_path / "nope")
