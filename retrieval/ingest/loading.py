"""Reading a folder of articles: plain text, Markdown, JSON, JSON Lines and HTML.

This module walks the folder, reads and decodes each file, and keeps one article per text;
formats.py turns a file's text into articles, and webpage.py reads HTML (imported only when an
.html file is read). A bad file never stops a build: it is left out and reported as `Skipped`
with a reason in words.
"""

from __future__ import annotations

import codecs
import errno
import io
import itertools
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from retrieval.errors import ArticleError
from retrieval.ingest.formats import (
    read_json,
    read_json_line,
    read_json_lines,
    read_markdown,
    read_plain,
)
from retrieval.types import Article, Skipped

DEFAULT_MAX_BYTES = 5_000_000

# A file's decoded text and its path (relative) -> its articles; a reader of many records adds
# those it cannot read to the list it is given, as skipped.
FormatReader = Callable[[str, str, list[Skipped]], list[Article]]


def _single(read: Callable[[str, str], Article]) -> FormatReader:
    """A reader of files that hold one article each."""
    return lambda text, relpath, skipped: [read(text, relpath)]


def _html(text: str, relpath: str, skipped: list[Skipped]) -> list[Article]:
    from retrieval.ingest.webpage import read_html  # trafilatura loads only when HTML is read

    return [read_html(text, relpath)]


# How each kind of file is read, by its suffix (lower case): one new kind is one new entry.
READERS: dict[str, FormatReader] = {
    ".txt": _single(read_plain),
    ".md": _single(read_markdown),
    ".markdown": _single(read_markdown),
    ".json": read_json,
    ".jsonl": read_json_lines,
    ".html": _html,
    ".htm": _html,
}
SUFFIXES = frozenset(READERS)

# Text files hold no NUL bytes; where one appears early the file is binary (or UTF-16 without a
# byte order mark), and decoding it as text would index garbage.
_BINARY_SNIFF_BYTES = 8192
# How every reason for a file or folder the system would not let us read begins: such a file
# may be fixed without its size or time changing (chmod, a remount), so it is tried again.
UNREADABLE = "Cannot read this"
_LOOP = "Cannot read this file: it is a symlink loop."


@dataclass(frozen=True, slots=True)
class LoadResult:
    articles: tuple[Article, ...]
    skipped: tuple[Skipped, ...]


def load_articles(root: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> LoadResult:
    """Read every article under `root`, in sorted path order; never raises for a bad file.

    Hidden files and folders (a name starting with '.') and files of other kinds are passed
    over without a word. A file symlink is read when it resolves inside `root` and skipped
    when it leads outside; symlinked folders are never followed (so a link loop cannot hang
    the walk), and one leading outside `root` is reported. Articles with identical text are
    indexed once, the first keeping `path` and the rest listed in `other_paths`; a record whose
    `id` was already taken by different text is skipped.

    Raises `ArticleError` only when `root` itself is not a readable folder.
    """
    if not root.is_dir():
        raise ArticleError(f"The articles folder {root} does not exist or is not a folder.")
    base = root.resolve()
    skipped: list[Skipped] = []
    collector = _Collector()
    for relpath, target in _walk(base, skipped):
        try:
            articles = _read_file(base, relpath, target, max_bytes, skipped)
        except ArticleError as error:
            skipped.append(Skipped(relpath, str(error)))
            continue
        except Exception as error:  # a crafted file must not stop the build: skip it, say why
            skipped.append(Skipped(relpath, f"Cannot read this file: {_describe(error)}."))
            continue
        for article in articles:
            problem = collector.add(article)
            if problem is not None:
                skipped.append(Skipped(article.path, problem))
    return LoadResult(collector.articles(), tuple(skipped))


def load_file(
    path: Path,
    root: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    skipped: list[Skipped] | None = None,
) -> list[Article]:
    """Read the articles in one file under `root`; raise `ArticleError` saying why it cannot.

    A JSON Lines or JSON list file holds many records: pass `skipped` to collect the bad ones
    and keep the rest; without it the first bad record raises.
    """
    base = root.resolve()
    absolute = path if path.is_absolute() else root / path
    try:
        relpath = absolute.relative_to(root).as_posix()
    except ValueError:
        try:
            relpath = absolute.absolute().relative_to(base).as_posix()
        except ValueError:
            raise ArticleError(f"{path} is not inside the articles folder {root}.") from None
    target = _check_link(absolute, base) if absolute.is_symlink() else relpath
    strict: list[Skipped] = []
    collected = strict if skipped is None else skipped
    try:
        articles = _read_file(base, relpath, target, max_bytes, collected)
    except ArticleError:
        raise
    except Exception as error:
        raise ArticleError(f"Cannot read this file: {_describe(error)}.") from None
    if skipped is None and strict:
        raise ArticleError(f"{strict[0].path}: {strict[0].reason}")
    return articles


class _Collector:
    """Keeps the first article of each text and of each id, in the order they come."""

    def __init__(self) -> None:
        self._articles: list[Article] = []
        self._by_text: dict[str, int] = {}
        self._by_id: dict[str, int] = {}

    def add(self, article: Article) -> str | None:
        """Add `article`, or fold it into an earlier one; return why it was refused, if it was."""
        same_text = self._by_text.get(article.text)
        if same_text is not None:
            first = self._articles[same_text]
            paths = (*first.other_paths, article.path)
            self._articles[same_text] = replace(first, other_paths=paths)
            return None
        same_id = self._by_id.get(article.id)
        if same_id is not None:
            first_path = self._articles[same_id].path
            return f"The id '{article.id}' is already used by {first_path}, whose text differs."
        self._by_text[article.text] = self._by_id[article.id] = len(self._articles)
        self._articles.append(article)
        return None

    def articles(self) -> tuple[Article, ...]:
        return tuple(self._articles)


def _walk(base: Path, skipped: list[Skipped]) -> Iterator[tuple[str, str]]:
    """Yield `(relative POSIX path, what to open)` of each candidate article file, sorted by
    path; what to open is the path itself, or for a file link its target, both relative to
    `base`."""
    found: list[tuple[tuple[str, ...], str, Path]] = []

    def unreadable(error: OSError) -> None:
        where = _relpath(Path(error.filename), base) if error.filename else "."
        skipped.append(Skipped(where, f"Cannot read this folder: {_os_reason(error)}."))

    # followlinks=False: a symlinked folder is listed but never entered, so loops cannot hang.
    for folder, dirnames, filenames in os.walk(base, onerror=unreadable, followlinks=False):
        here = Path(folder)
        dirnames[:] = sorted(name for name in dirnames if not name.startswith("."))
        for name in dirnames:
            if (here / name).is_symlink():
                try:
                    _check_link(here / name, base)
                except ArticleError as error:
                    skipped.append(Skipped(_relpath(here / name, base), str(error)))
        for name in filenames:
            if name.startswith(".") or Path(name).suffix.lower() not in SUFFIXES:
                continue
            path = here / name
            relpath = _relpath(path, base)
            found.append((tuple(relpath.split("/")), relpath, path))
    for _, relpath, path in sorted(found):
        target = relpath
        if path.is_symlink():
            try:
                target = _check_link(path, base)
            except ArticleError as error:
                skipped.append(Skipped(relpath, str(error)))
                continue
        yield relpath, target


def _check_link(link: Path, base: Path) -> str:
    """Where `link` leads, relative to `base`; raise unless that is inside `base`."""
    try:
        target = link.resolve(strict=True)
    except RuntimeError:  # Python 3.11 reports a symlink loop this way, later ones as ELOOP
        raise ArticleError(_LOOP) from None
    except OSError as error:
        reason = (
            _LOOP if error.errno == errno.ELOOP else f"Cannot read this file: {_os_reason(error)}."
        )
        raise ArticleError(reason) from None
    if not target.is_relative_to(base):
        raise ArticleError("It links outside the articles folder, so it was not followed.")
    return target.relative_to(base).as_posix()


def _read_file(
    base: Path, relpath: str, target: str, max_bytes: int, skipped: list[Skipped]
) -> list[Article]:
    """The articles of the file `relpath`, read from `target` (itself, or its link's target)."""
    read = READERS.get(Path(relpath).suffix.lower())
    if read is None:
        raise ArticleError(f"Unsupported kind of file; use one of {', '.join(sorted(SUFFIXES))}.")
    with _open_inside(base, target) as handle:
        if read is read_json_lines:
            return _read_json_lines(handle, relpath, max_bytes, skipped)
        return read(decode(_read_bytes(handle, max_bytes)), relpath, skipped)


def _open_inside(base: Path, relpath: str) -> io.BufferedReader:
    """Open the regular file `base/relpath` for reading, following no link on the way.

    The folder was listed earlier: a folder on the path may have been swapped for a link since,
    to lead the build outside `base` (its secrets then quoted as articles). Each step is opened
    relative to the last with O_NOFOLLOW, so a link met anywhere fails to open instead.
    """
    *folders, name = relpath.split("/")
    try:
        fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for folder in folders:
                inner = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = inner
            # O_NONBLOCK: opening a FIFO named like an article would wait for a writer.
            file_fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        finally:
            os.close(fd)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise ArticleError(
                "Its path changed into a link while the folder was read, so it was not followed."
            ) from None
        raise ArticleError(f"Cannot read this file: {_os_reason(error)}.") from None
    handle = os.fdopen(file_fd, "rb")
    try:
        if not stat.S_ISREG(os.fstat(file_fd).st_mode):
            # A FIFO or device named like an article would block or never end.
            raise ArticleError("Not a regular file.")
    except BaseException:
        handle.close()
        raise
    return handle


def _read_bytes(handle: io.BufferedReader, max_bytes: int) -> bytes:
    try:
        size = os.fstat(handle.fileno()).st_size
        if size > max_bytes:
            raise ArticleError(
                f"The file is {size:,} bytes, over the limit of {max_bytes:,} bytes."
            )
        # Read one byte past the limit: the file may have grown since fstat.
        data = handle.read(max_bytes + 1)
    except OSError as error:
        raise ArticleError(f"Cannot read this file: {_os_reason(error)}.") from None
    if len(data) > max_bytes:
        raise ArticleError(f"The file is over the limit of {max_bytes:,} bytes.")
    return data


def _read_json_lines(
    handle: io.BufferedReader, relpath: str, max_bytes: int, skipped: list[Skipped]
) -> list[Article]:
    """A JSON Lines file, one record at a time: the size limit holds for each record, not for
    the file (a file of many small articles is normal); a record over it is skipped."""
    if handle.peek(2)[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        # UTF-16 cannot be split at b"\n": read it whole, as any other file.
        return read_json_lines(decode(_read_bytes(handle, max_bytes)), relpath, skipped)
    articles: list[Article] = []
    records = 0
    try:
        for lineno in itertools.count(1):
            # Never hold more than one record's limit: read up to it, then pass over the rest.
            line = handle.readline(max_bytes + 1)
            if not line:
                break
            if lineno == 1 and b"\x00" in line[:_BINARY_SNIFF_BYTES]:
                raise ArticleError("It is a binary file, not text.")
            where = f"{relpath}:{lineno}"
            if len(line) > max_bytes and not line.endswith(b"\n"):
                records += 1
                size = len(line) + _skip_line(handle)  # the newline ends it, is not in it
                reason = f"The record is {size:,} bytes, over the limit of {max_bytes:,} bytes."
                skipped.append(Skipped(where, reason))
                continue
            text = decode(line)
            if not text.strip():
                continue
            records += 1
            try:
                articles.append(read_json_line(text, where))
            except ArticleError as error:
                skipped.append(Skipped(where, str(error)))
    except OSError as error:
        raise ArticleError(f"Cannot read this file: {_os_reason(error)}.") from None
    if not records:
        raise ArticleError("The file is empty.")
    return articles


def _skip_line(handle: io.BufferedReader) -> int:
    """Read past the rest of the current line; return how many bytes it held before its
    newline."""
    size = 0
    while chunk := handle.readline(_BINARY_SNIFF_BYTES):
        size += len(chunk)
        if chunk.endswith(b"\n"):
            return size - 1
    return size


def decode(data: bytes) -> str:
    """Decode text: UTF-8 (or UTF-16 with a byte order mark), else Windows-1252, else Latin-1.

    Old news archives are often Windows-1252; Latin-1 decodes any bytes at all, so a file is
    never lost to its encoding.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        raise ArticleError("It is a binary file, not text.")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _relpath(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def _os_reason(error: OSError) -> str:
    return error.strerror or str(error)


def _describe(error: Exception) -> str:
    """An unexpected error in words: its kind and, when short, its message."""
    message = " ".join(str(error).split())
    if not message or len(message) > 200:
        return type(error).__name__
    return f"{type(error).__name__}: {message}"
