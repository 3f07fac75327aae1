"""An article arriving from outside the articles folder (a fetched page, an uploaded file), read
and made into the file that will hold it there.

A page is saved as Markdown whose front matter keeps its title, url, publication date and site,
so the folder stays the one source of truth: a full reindex, or a new citebot, reads it back
the same. An uploaded text, Markdown, HTML or JSON file is saved as it came; a PDF as Markdown
holding its text (pypdf). Every file is read here exactly as the loader will read it, so what
the reply reports is what gets indexed.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

import frontmatter

from retrieval.errors import ArticleError
from retrieval.ingest.fetch import Fetched
from retrieval.ingest.formats import clean_text, meta_text, read_markdown
from retrieval.ingest.loading import READERS, decode
from retrieval.types import Article, Skipped

# Added articles go in this subfolder of the articles folder, beside whatever else is there.
ADDED = "added"
UPLOAD_SUFFIXES = (*sorted(READERS), ".pdf")
_SLUG_CHARS = 60


@dataclass(frozen=True, slots=True)
class Incoming:
    """A file to write at `name` (relative to the articles folder), holding `articles`;
    `skipped` lists records of a JSON file that cannot be read (the rest are added)."""

    name: str
    data: bytes
    articles: tuple[Article, ...]
    skipped: tuple[Skipped, ...] = ()
    url: str | None = None


def from_page(page: Fetched) -> Incoming:
    """The article in a fetched page, as a Markdown file recording where it came from."""
    if page.suffix == ".pdf":
        article = _pdf_article(page.body)
    else:
        text = _page_text(page)
        read = READERS[page.suffix]
        skipped: list[Skipped] = []
        found = read(text, "page", skipped)
        if len(found) != 1:
            raise ArticleError(f"{page.final_url} holds {len(found)} articles, not one.")
        article = found[0]
    title = article.title
    name = f"{ADDED}/{_slug(title)}-{_digest(page.final_url.encode())}.md"
    return _markdown_file(
        name,
        title=title,
        text=article.text,
        url=page.final_url,
        published=article.published,
        source=article.source or _host(page.final_url),
    )


def _page_text(page: Fetched) -> str:
    """A charset the server names wins; without one, or with one Python does not know, the
    loader's guess (UTF-8, then Windows-1252)."""
    if page.charset:
        try:
            return page.body.decode(page.charset, errors="replace")
        except LookupError:
            pass
    return decode(page.body)


def from_upload(filename: str, data: bytes) -> Incoming:
    """The articles in an uploaded file, saved as it came (a PDF as Markdown)."""
    pure = PurePosixPath(filename.replace("\\", "/")).name
    suffix = PurePosixPath(pure).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise ArticleError(
            f"{filename!r} is not a kind of file citebot reads; use one of "
            f"{', '.join(UPLOAD_SUFFIXES)}."
        )
    stem = _slug(PurePosixPath(pure).stem)
    if suffix == ".pdf":
        article = _pdf_article(data)
        name = f"{ADDED}/{stem}-{_digest(data)}.md"
        return _markdown_file(
            name, title=article.title, text=article.text, url=None, published=None, source=None
        )
    name = f"{ADDED}/{stem}-{_digest(data)}{suffix}"
    skipped: list[Skipped] = []
    articles = READERS[suffix](decode(data), name, skipped)
    if not articles:
        reasons = "; ".join(s.reason for s in skipped[:3])
        raise ArticleError(f"{filename} holds no article that can be read: {reasons}")
    return Incoming(name, data, tuple(articles), tuple(skipped))


def _markdown_file(
    name: str,
    *,
    title: str,
    text: str,
    url: str | None,
    published: str | None,
    source: str | None,
) -> Incoming:
    meta = {"title": title, "url": url, "published": published, "source": source}
    content = _with_front_matter(text, {k: v for k, v in meta.items() if v is not None})
    article = read_markdown(content, name)
    return Incoming(name, content.encode("utf-8"), (article,), (), url)


def _pdf_article(data: bytes) -> Article:
    from pypdf import PdfReader  # loaded only when a PDF is added
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ArticleError("The PDF is encrypted; add a copy without a password.")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = meta_text(reader.metadata.title if reader.metadata else None)
    except ArticleError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ArticleError(f"The PDF cannot be read: {exc}") from None
    # Lines broken at the page's width are joined; blank lines between paragraphs are kept.
    text = clean_text("\n\n".join(p.strip() for p in pages if p.strip())).strip()
    if not text:
        raise ArticleError(
            "The PDF holds no text that can be extracted (a scan, perhaps); add its text instead."
        )
    body = f"{title}\n\n{text}" if title and not text.startswith(title) else text
    return read_markdown(_with_front_matter(body, {"title": title} if title else {}), "pdf")


def _with_front_matter(text: str, meta: dict[str, str]) -> str:
    post = frontmatter.Post(text)
    post.metadata.update(meta)
    return frontmatter.dumps(post) + "\n"


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    slug = "-".join(words)[:_SLUG_CHARS].strip("-")
    return slug or "article"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:10]


def _host(url: str) -> str | None:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname
