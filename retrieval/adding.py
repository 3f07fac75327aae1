"""Adding one file to an engine's articles folder, or removing one article, and reindexing.

Both go through the engine's incremental reindex, so only the new article is embedded, and both
undo their change to the folder when the build fails: the folder and the served index never
disagree, and the served index stays as it was. Both block (a reindex): call them from a worker
thread in async code, one at a time per engine (the reindex lock refuses a second).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from retrieval.build.reindex import MAX_SHRINK
from retrieval.engine import Engine
from retrieval.errors import AlreadyAdded, CitebotError, IndexUnavailable, NotFound, StorageError
from retrieval.ingest.incoming import Incoming
from retrieval.types import Article, ReindexReport, Skipped

# Removed files wait here (hidden: the loader passes over it) until the reindex succeeds.
REMOVED = ".removed"


@dataclass(frozen=True, slots=True)
class AddedArticle:
    id: str
    title: str
    published: str | None
    url: str | None
    passages: int


@dataclass(frozen=True, slots=True)
class AddReport:
    """What an add did: the file written, the articles indexed from it, those already there
    (by id: the article already holding that url or text), and the records skipped."""

    name: str
    added: tuple[AddedArticle, ...]
    already: tuple[tuple[str, str], ...]
    skipped: tuple[Skipped, ...]
    report: ReindexReport


@dataclass(frozen=True, slots=True)
class RemoveReport:
    article: Article
    files: tuple[str, ...]
    report: ReindexReport


def already_there(engine: Engine, *, url: str | None = None, text: str | None = None) -> str:
    """A message naming the served article with this url or text, or "" when there is none."""
    if not engine.ready:
        return ""
    found = engine.matching(url=url, text=text)
    if not found:
        return ""
    article = found[0]
    how = "link" if url is not None and article.url == url else "text"
    return f"Already there: “{article.title}” (id {article.id}) has the same {how}."


def add_incoming(
    engine: Engine, incoming: Incoming, *, max_shrink: float | None = MAX_SHRINK
) -> AddReport:
    """Write `incoming` into the engine's articles folder and reindex; raise AlreadyAdded when
    every article in it is already served (by url or by text), leaving the folder as it was."""
    already: list[tuple[str, str]] = []
    for article in incoming.articles:
        if engine.ready:
            found = engine.matching(url=article.url, text=article.text)
            if found:
                already.append((article.id, found[0].id))
    if len(already) == len(incoming.articles):
        article = incoming.articles[0]
        raise AlreadyAdded(
            already_there(engine, url=article.url, text=article.text) or "Already there."
        )
    target = engine.articles_dir / incoming.name
    if target.exists():
        raise AlreadyAdded(f"Already there: the file {incoming.name} exists.")
    _write_new(target, incoming.data)
    try:
        report = engine.reindex(max_shrink=max_shrink)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    duplicate_ids = {new for new, _ in already}
    added = tuple(
        AddedArticle(
            article.id,
            article.title,
            article.published,
            article.url,
            engine.passage_count(article.id),
        )
        for article in incoming.articles
        if article.id not in duplicate_ids
    )
    return AddReport(incoming.name, added, tuple(already), incoming.skipped, report)


def _write_new(target: Path, data: bytes) -> None:
    """Write `data` at `target` whole or not at all: a hidden temporary file (the loader passes
    over it), flushed to disk, then renamed."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with open(temporary, "xb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
    except OSError as exc:
        raise StorageError(
            f"Cannot write {target}: {exc.strerror or exc}. Nothing was added."
        ) from exc


def find_article(engine: Engine, key: str) -> Article:
    """The served article whose id, or whose url, is `key`; NotFound otherwise."""
    if not engine.ready:
        raise IndexUnavailable(engine.unavailable_reason or "No index is loaded; run a reindex.")
    key = key.strip()
    article = engine.article(key)
    if article is None:
        by_url = [a for a in engine.matching(url=key) if a.url == key]
        article = by_url[0] if by_url else None
    if article is None:
        raise NotFound(
            f"No indexed article has the id or link {key!r}; /sources (or `citebot sources`) "
            "lists them."
        )
    return article


def remove_article(engine: Engine, key: str) -> RemoveReport:
    """Remove the file of the article whose id or url is `key` (and its copies), then reindex;
    the files come back if the reindex fails. An article that is one record of a file holding
    others is not removed: that file is the admin's to edit."""
    article = find_article(engine, key)
    root = engine.articles_dir
    paths = [article.path, *article.other_paths]
    for path in paths:
        if not _whole_file(root, path):
            raise CitebotError(
                f"“{article.title}” is one record of a file holding others ({path}); edit that "
                "file, then reindex."
            )
    trash = root / REMOVED / uuid.uuid4().hex
    moved: list[tuple[Path, Path]] = []
    try:
        trash.mkdir(parents=True)
        for n, path in enumerate(paths):
            kept = trash / f"{n}-{Path(path).name}"
            os.replace(root / path, kept)
            moved.append((root / path, kept))
    except OSError as exc:
        _restore(moved)
        raise StorageError(f"Cannot remove {article.path}: {exc.strerror or exc}.") from exc
    try:
        # Removing what was asked for is never "too many articles gone".
        report = engine.reindex(max_shrink=None)
    except BaseException:
        _restore(moved)
        raise
    finally:
        for _, kept in moved:
            kept.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            trash.rmdir()
    return RemoveReport(article, tuple(paths), report)


def _restore(moved: list[tuple[Path, Path]]) -> None:
    for original, kept in moved:
        with contextlib.suppress(OSError):
            os.replace(kept, original)


def _whole_file(root: Path, path: str) -> bool:
    """Whether `path` names a file (or a link) of its own inside `root`."""
    candidate = root / path
    if ".." in Path(path).parts or Path(path).is_absolute():
        return False
    return candidate.is_symlink() or candidate.is_file()
