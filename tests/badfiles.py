"""A folder holding every kind of bad article file beside good ones, and the reasons the build
must give for skipping each bad one."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CORPUS, write_corpus

MAX_BYTES = 2_000
OUTSIDE_SECRET = "The vault code is 8741, said the night guard."
LATIN1_SENTENCE = "Café owners in Lyon reopened their terraces on Friday."
DUPLICATE_TEXT = "Harbour reopens\nThe harbour in Gdansk reopened to ferries after the storm."
JSONL_GOOD = '{"id": "tram-1", "title": "Tram line opens", "text": "The new tram line to Leith opened on Sunday."}'  # noqa: E501

# The reason each bad file is skipped with; prefixes end in "…" where the rest is the parser's.
EXPECTED_SKIPS = {
    "binary.txt": "It is a binary file, not text.",
    "broken.json": "Not valid JSON: …",
    "dangling.txt": "Cannot read this file: No such file or directory.",
    "empty.txt": "The article is empty.",
    "huge.txt": f"The file is {MAX_BYTES + 1:,} bytes, over the limit of {MAX_BYTES:,} bytes.",
    "lines.jsonl:2": "Not valid JSON: …",
    "locked.txt": "Cannot read this file: Permission denied.",
    "loop-a.txt": "Cannot read this file: it is a symlink loop.",
    "loop-b.txt": "Cannot read this file: it is a symlink loop.",
    "menu.html": "No main text found in HTML.",
    "outside-folder": "It links outside the articles folder, so it was not followed.",
    "outside.txt": "It links outside the articles folder, so it was not followed.",
    "pipe.txt": "Not a regular file.",
}
# What the good files hold: an article id and a question its text answers.
GOOD = {
    "lee.txt": "When is Lee visiting Japan?",
    "rain.md": "How many people did emergency services rescue from flooded cars?",
    "chips-1": "How many workers will the chipmaker hire?",
    "latin1.txt": "Which café owners reopened their terraces?",
    "copy-a.txt": "When did the harbour in Gdansk reopen to ferries?",
    "tram-1": "When did the tram line to Leith open?",
}


def write_bad_articles(root: Path, outside: Path) -> Path:
    """The tiny corpus, more good files, and one of every bad kind (see EXPECTED_SKIPS);
    `outside` is a folder beside `root` that symlinks point into. Index with `MAX_BYTES`."""
    write_corpus(root, CORPUS)
    (root / "latin1.txt").write_bytes(f"Lyon terraces\n{LATIN1_SENTENCE}".encode("cp1252"))
    (root / "copy-a.txt").write_text(DUPLICATE_TEXT, encoding="utf-8")
    (root / "copy-b.txt").write_text(DUPLICATE_TEXT, encoding="utf-8")
    (root / "lines.jsonl").write_text(JSONL_GOOD + '\n{"id": "cut", "text": \n', encoding="utf-8")

    (root / "empty.txt").write_bytes(b"")
    (root / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (root / "huge.txt").write_text("x" * (MAX_BYTES + 1), encoding="utf-8")
    (root / "broken.json").write_text('{"title": "Cut short", "text": "A', encoding="utf-8")
    (root / "menu.html").write_text(
        "<html><body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
        "<footer>Copyright 2025</footer></body></html>",
        encoding="utf-8",
    )
    (root / "locked.txt").write_text("Locked\nNobody may read this.", encoding="utf-8")
    (root / "locked.txt").chmod(0)
    os.mkfifo(root / "pipe.txt")  # fails as root too: opening it would block forever
    (root / "dangling.txt").symlink_to(root / "deleted.txt")
    (root / "loop-a.txt").symlink_to("loop-b.txt")
    (root / "loop-b.txt").symlink_to("loop-a.txt")

    outside.mkdir(parents=True, exist_ok=True)
    (outside / "secret.txt").write_text(f"Vault\n{OUTSIDE_SECRET}", encoding="utf-8")
    (root / "outside.txt").symlink_to(outside / "secret.txt")
    (root / "outside-folder").symlink_to(outside, target_is_directory=True)
    return root


def deny_reading(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Make files called `name` unreadable even to root, which ignores their mode: opening one
    fails with EACCES, as it does for any other user after `chmod 0`."""
    if os.geteuid() != 0:
        return
    real_open = os.open

    def open_unless_denied(path: Any, *args: Any, **kwargs: Any) -> Any:
        if os.path.basename(os.fsdecode(path)) == name:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_unless_denied)


def matches(reason: str, expected: str) -> bool:
    if expected.endswith("…"):
        return reason.startswith(expected[:-1])
    return reason == expected
