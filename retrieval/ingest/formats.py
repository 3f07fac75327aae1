"""Article formats: the decoded text of one file turned into Articles.

Plain text (title: the first line), Markdown (optional YAML front matter), JSON and JSON Lines
records; HTML is read by webpage.py. Each reader raises `ArticleError` for a file it cannot
use; JSON files with many records keep the good ones and list the bad ones in `skipped`.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime

import frontmatter

from retrieval.errors import ArticleError
from retrieval.ingest.chunking import split_sentences
from retrieval.types import Article, Skipped

MAX_TITLE_CHARS = 200
# An id names an article in reports and in every index row; a longer one is not an id.
MAX_ID_CHARS = 500
# Control characters but tab and line breaks (NUL included), and the bidirectional embeddings,
# overrides and isolates that reorder text as shown ("\u202e" writes what follows backwards):
# never part of a story, they would reach quotes, embeds and terminals.
_UNWANTED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# An ATX heading, "## Title ##"; "#hashtag" is not one.
_HEADING = re.compile(r" {0,3}#{1,6}[ \t]+(.*?\S)(?:[ \t]+#+)?[ \t]*$")


def read_plain(text: str, relpath: str) -> Article:
    """A plain-text article: the title is its first line (or first sentence)."""
    body = _body(text)
    return Article(id=relpath, title=title_of(body), text=body, path=relpath)


def read_markdown(text: str, relpath: str) -> Article:
    """A Markdown article: front matter's `title`, `url`, `published` and `source`, the title
    falling back to the first heading, then the first line."""
    try:
        post = frontmatter.loads(text)
    except Exception as error:  # YAML, TOML and JSON front matter each raise their own errors
        reason = " ".join(str(error).split())
        raise ArticleError(f"The front matter cannot be read: {reason}") from None
    meta = post.metadata
    body = _body(post.content)
    title = meta_text(meta.get("title")) or _markdown_heading(body) or title_of(body)
    return Article(
        id=relpath,
        title=title,
        text=body,
        path=relpath,
        url=meta_text(meta.get("url")),
        published=meta_date(meta.get("published")),
        source=meta_text(meta.get("source")),
    )


def read_json_lines(text: str, relpath: str, skipped: list[Skipped]) -> list[Article]:
    """One article per JSON Lines record; a bad line is added to `skipped` as `FILE:LINE`."""
    if not text.strip():
        raise ArticleError("The file is empty.")
    articles: list[Article] = []
    # Split on "\n" only: JSON strings may hold raw U+2028 and friends, which `splitlines` breaks.
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{relpath}:{lineno}"
        try:
            articles.append(read_json_line(line, where))
        except ArticleError as error:
            skipped.append(Skipped(where, str(error)))
    return articles


def read_json_line(line: str, where: str) -> Article:
    """The article in one JSON Lines record, read from `where` (`FILE:LINE`)."""
    return _record(_parse(line, lines=False), where, where)


def _parse(text: str, *, lines: bool) -> object:
    """JSON, or ArticleError saying why not: crafted input fails in more ways than a syntax
    error (100,000 nested brackets exhaust the recursion limit; a 5,000-digit number passes
    Python's limit on converting digits)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}" if lines else f"column {error.colno}"
        raise ArticleError(f"Not valid JSON: {error.msg} ({where}).") from None
    except RecursionError:
        raise ArticleError("Not readable JSON: it is nested too deeply.") from None
    except ValueError as error:
        raise ArticleError(f"Not readable JSON: {error}.") from None


def read_json(text: str, relpath: str, skipped: list[Skipped]) -> list[Article]:
    """A JSON object, or a list of them; a bad item is added to `skipped` as `FILE#N`."""
    if not text.strip():
        raise ArticleError("The file is empty.")
    data = _parse(text, lines=True)
    if isinstance(data, dict):
        return [_record(data, relpath, relpath)]
    if not isinstance(data, list):
        raise ArticleError("Expected a JSON object or a list of objects.")
    articles: list[Article] = []
    for i, record in enumerate(data):
        where = f"{relpath}#{i}"
        try:
            articles.append(_record(record, where, where))
        except ArticleError as error:
            skipped.append(Skipped(where, str(error)))
    return articles


def _record(record: object, default_id: str, path: str) -> Article:
    """An article from one JSON record shaped like the eval sets' `articles.jsonl` lines."""
    if not isinstance(record, dict):
        raise ArticleError("Expected a JSON object with a 'text' field.")
    text = record.get("text")
    if not isinstance(text, str):
        reason = "has no 'text' field" if text is None else "has a 'text' that is not a string"
        raise ArticleError(f"The record {reason}.")
    body = _body(text)
    raw_id = record.get("id")
    article_id = default_id if raw_id is None or raw_id == "" else str(raw_id)
    if len(article_id) > MAX_ID_CHARS:
        raise ArticleError(
            f"The record's 'id' is {len(article_id):,} characters long, over the limit of "
            f"{MAX_ID_CHARS}."
        )
    return Article(
        id=article_id,
        title=meta_text(record.get("title")) or title_of(body),
        text=body,
        path=path,
        url=meta_text(record.get("url")),
        published=meta_date(record.get("published")),
        source=meta_text(record.get("source")),
    )


def clean_text(text: str) -> str:
    """`text` without control characters (but tab and line breaks) and bidirectional
    overrides."""
    return _UNWANTED.sub("", text)


def _body(text: str) -> str:
    body = clean_text(text).strip()
    if not body:
        raise ArticleError("The article is empty.")
    return body


def title_of(body: str) -> str:
    """The first line when there are several, else the first sentence; trimmed to a length."""
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    if len(lines) > 1:
        title = lines[0]
    else:
        spans = split_sentences(body[: MAX_TITLE_CHARS * 4])
        title = body[spans[0][0] : spans[0][1]] if spans else body
    return _shorten(title)


def _markdown_heading(body: str) -> str | None:
    for line in body.splitlines():
        heading = _HEADING.match(line)
        if heading:
            return _shorten(heading[1])
    return None


def _shorten(title: str) -> str:
    title = " ".join(title.split())
    if len(title) <= MAX_TITLE_CHARS:
        return title
    cut = title.rfind(" ", 0, MAX_TITLE_CHARS)
    return title[: cut if cut > MAX_TITLE_CHARS // 2 else MAX_TITLE_CHARS].rstrip() + "…"


def meta_text(value: object) -> str | None:
    """A metadata value as text, or None: numbers become text, other shapes are dropped."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = " ".join(clean_text(str(value)).split())
    return text or None


def meta_date(value: object) -> str | None:
    """`YYYY-MM-DD` when `value` is an ISO date or date-time; otherwise None, never a guess."""
    if isinstance(value, date):  # a datetime is a date too
        return value.isoformat()[:10]
    if not isinstance(value, str):
        return None
    text = value.strip()
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            parsed: date = parse(text)
        except ValueError:
            continue
        return parsed.isoformat()[:10]
    return None
