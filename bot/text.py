"""Untrusted text (from articles and questions) made safe for Discord: one line where needed,
markdown escaped where Discord renders it, mentions neutralised everywhere, lengths bounded, and
links only to http(s) targets that cannot break a markdown link."""

from __future__ import annotations

from urllib.parse import urlsplit

import discord

from retrieval import Source

CONTENT_MAX = 2000
URL_MAX = 512
ELLIPSIS = "…"


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, ending in an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - len(ELLIPSIS), 0)]
    # An odd run of trailing backslashes would escape the ellipsis: drop the dangling one.
    trailing = len(cut) - len(cut.rstrip("\\"))
    if trailing % 2:
        cut = cut[:-1]
    return cut + ELLIPSIS


def one_line(text: str) -> str:
    """Whitespace (newlines included) folded to single spaces."""
    return " ".join(text.split())


def neutralise(text: str) -> str:
    """@everyone, @here, user and role mentions become inert text (a zero-width space)."""
    return discord.utils.escape_mentions(text)


def safe(text: str, limit: int) -> str:
    """Untrusted text for a place where Discord renders markdown: one line, escaped, inert,
    and at most `limit` characters."""
    return truncate(neutralise(discord.utils.escape_markdown(one_line(text))), limit)


def plain(text: str, limit: int) -> str:
    """Untrusted text for a place that shows markdown literally (footer, author, content that
    is not markdown): one line, inert, at most `limit` characters."""
    return truncate(neutralise(one_line(text)), limit)


def content(text: str) -> str:
    """A message's text content, within Discord's 2,000 characters and pinging no one."""
    return truncate(neutralise(text), CONTENT_MAX)


def safe_url(url: str | None) -> str | None:
    """`url` when Discord accepts it as an embed or link target (http or https, no spaces or
    brackets that would break a markdown link); otherwise None."""
    if not url:
        return None
    url = url.strip()
    if len(url) > URL_MAX or not url.isascii() or any(c in '()<>"\\`' for c in url):
        return None
    if any(c.isspace() or not c.isprintable() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return url


def title_of(source: Source, limit: int) -> str:
    """The article's title for display; its file when it has none."""
    return safe(source.title, limit) or safe(source.path, limit) or "(untitled)"


def link(title: str, url: str | None, limit: int) -> str:
    """A markdown link `[title](url)`, or the escaped title alone when the url is unusable."""
    target = safe_url(url)
    if target is None:
        return safe(title, limit) or "(untitled)"
    # Brackets in the text would end the link early; round ones read the same.
    text = safe(title.replace("[", "(").replace("]", ")"), max(limit - len(target) - 4, 1))
    return f"[{text or 'link'}]({target})"


def source_line(source: Source, limit: int = 300) -> str:
    """`• title` linked to its url (or followed by its file), and its date when known."""
    published = plain(source.published or "", 40)
    date = f" ({published})" if published else ""
    url = safe_url(source.url)
    if url is not None and len(url) <= limit // 2:  # a link cut short would show as raw text
        head = link(source.title or source.path, url, limit - len(date) - 2)
    else:
        name = title_of(source, max((limit - len(date)) // 2, 10))
        path = safe(source.path, limit)
        head = truncate(f"{name} — {path}" if path else name, limit - len(date) - 2)
    return truncate(f"• {head}{date}", limit)
