"""Article formats: the decoded text of one file turned into Articles.

Plain text (title: the first line), Markdown (optional YAML front matter), JSON and JSON Lines
records; HTML is read by webpage.py. Each reader raises `ArticleError` for a file it cannot
use; JSON files with many records keep the good ones and list the bad ones in `skipped`.

A title is shown and searched (it travels with each passage) but never quoted: a headline line
at the top of the text ("Kettle race", a Markdown `# heading`, an HTML `<h1>` repeating the
page's title) stays in the article's text, so offsets still point into the file, but the story
starts after it (`Article.body_start`, found by `split_title`). A first line that reads as a
sentence of the story is part of the story, quotable, and the title shown is that sentence,
shortened.
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
# A title made from the story's first sentence is shown shortened to this.
SENTENCE_TITLE_CHARS = 80
# A line ending as a sentence ends (closing quotes and brackets aside), of a few words at least.
_SENTENCE_END = re.compile("[.!?…][\"'”’)\\]]*$")
_SENTENCE_MIN_WORDS = 3
# An id names an article in reports and in every index row; a longer one is not an id.
MAX_ID_CHARS = 500
# Control characters but tab and line breaks (NUL included), and the bidirectional embeddings,
# overrides and isolates that reorder text as shown ("\u202e" writes what follows backwards):
# never part of a story, they would reach quotes, embeds and terminals.
_UNWANTED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# An ATX heading, "## Title ##"; "#hashtag" is not one.
_HEADING = re.compile(r" {0,3}#{1,6}[ \t]+(.*?\S)(?:[ \t]+#+)?[ \t]*$")


def read_plain(text: str, relpath: str) -> Article:
    """A plain-text article: the title is its first line, unless that reads as a sentence of the
    story (then its first sentence, shortened)."""
    body = _body(text)
    title, start = split_title(body)
    return Article(id=relpath, title=title, text=body, path=relpath, body_start=start)


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
    title = meta_text(meta.get("title"))
    heading = _HEADING.match(body.partition("\n")[0])
    if heading and _after_first_line(body) < len(body):
        # A heading atop the story is its title, never a quote.
        title, start = title or _shorten(heading[1]), _after_first_line(body)
    else:
        title, start = split_title(body, title or _markdown_heading(body))
    return Article(
        id=relpath,
        title=title,
        text=body,
        path=relpath,
        body_start=start,
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
    title, start = split_title(body, meta_text(record.get("title")))
    raw_id = record.get("id")
    article_id = default_id if raw_id is None or raw_id == "" else str(raw_id)
    if len(article_id) > MAX_ID_CHARS:
        raise ArticleError(
            f"The record's 'id' is {len(article_id):,} characters long, over the limit of "
            f"{MAX_ID_CHARS}."
        )
    return Article(
        id=article_id,
        title=title,
        text=body,
        path=path,
        body_start=start,
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


def split_title(body: str, title: str | None = None) -> tuple[str, int]:
    """The title of an article whose text is `body` and whose title, when its file states one,
    is `title`; and where the story starts in `body` (`Article.body_start`).

    The story starts after the first line when that line repeats `title`, or, with no `title`
    given, when it does not read as a sentence (a headline, which is then the title).
    Otherwise it starts at once, and without a `title` the title is its first sentence,
    shortened.
    """
    first = body.partition("\n")[0].strip()
    rest = _after_first_line(body)
    if rest < len(body):
        if title is not None and _folded(first) == _folded(title):
            return title, rest
        if title is None and not reads_as_sentence(first):
            return _shorten(first), rest
    return title or _sentence_title(body), 0


def _after_first_line(body: str) -> int:
    """Where the text after `body`'s first line starts (past blank lines), or len(body)."""
    end = body.find("\n")
    if end < 0:
        return len(body)
    rest = body[end:]
    return len(body) - len(rest.lstrip())


def reads_as_sentence(line: str) -> bool:
    """Whether a line reads as a sentence of a story rather than a headline: a few words that
    end as a sentence ends."""
    return len(line.split()) >= _SENTENCE_MIN_WORDS and bool(_SENTENCE_END.search(line.strip()))


def _sentence_title(body: str) -> str:
    spans = split_sentences(body[: MAX_TITLE_CHARS * 4])
    sentence = body[spans[0][0] : spans[0][1]] if spans else body
    return _shorten(sentence, SENTENCE_TITLE_CHARS)


def _folded(text: str) -> str:
    return " ".join(text.split()).casefold()


def _markdown_heading(body: str) -> str | None:
    for line in body.splitlines():
        heading = _HEADING.match(line)
        if heading:
            return _shorten(heading[1])
    return None


def _shorten(title: str, limit: int = MAX_TITLE_CHARS) -> str:
    title = " ".join(title.split())
    if len(title) <= limit:
        return title
    cut = title.rfind(" ", 0, limit)
    return title[: cut if cut > limit // 2 else limit].rstrip(" ,;:") + "…"


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
