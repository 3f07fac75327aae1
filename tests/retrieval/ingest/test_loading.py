"""Reading a folder: walking, reading and decoding files, bad files, links, duplicates, and
`load_file`. What each format makes of a file's text is in test_formats.py and test_webpage.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from retrieval.errors import ArticleError
from retrieval.ingest import loading
from retrieval.ingest.loading import LoadResult, _read_file, _walk, load_articles, load_file
from retrieval.types import Article, Skipped


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


# Encodings and bad files


def test_cp1252_file_is_decoded(tmp_path: Path) -> None:
    write(tmp_path, "old.txt", b"caf\xe9 \x93quoted\x94")
    assert only(load_articles(tmp_path)).text == "café “quoted”"


def test_bytes_undefined_in_cp1252_fall_back_to_latin1(tmp_path: Path) -> None:
    write(tmp_path, "old.txt", b"na\xefve \x8dold")
    # Decoded as Latin-1; the C1 control character 0x8d becomes is then dropped as no text.
    assert only(load_articles(tmp_path)).text == "naïve old"


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
        Article(id="sub/a.txt", title="Title", text="Title\nBody.", path="sub/a.txt", body_start=6)
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


def test_a_folder_swapped_for_a_link_while_reading_is_never_followed(tmp_path: Path) -> None:
    """A folder listed as real but a link by the time its file is opened: an attacker swapping
    `sub` for a link to a folder of secrets, in another process, must never get them quoted."""
    root, outside = tmp_path / "articles", tmp_path / "private"
    write(root, "kept.txt", "Kept\nA story that stays.")
    for i in range(30):  # many files, so many opens while the link may be there
        write(root, f"sub/c{i}.json", json.dumps({"id": f"c{i}", "text": f"Harmless {i}."}))
        write(outside, f"c{i}.json", json.dumps({"id": f"c{i}", "text": f"Password {i}."}))
    swap = (
        "import os, sys, time\n"
        "sub, real, outside = sys.argv[1:]\n"
        "while True:\n"
        "    os.rename(sub, real); os.symlink(outside, sub); time.sleep(0.001)\n"
        "    os.unlink(sub); os.rename(real, sub); time.sleep(0.001)\n"
    )
    swapper = subprocess.Popen(
        [sys.executable, "-c", swap, str(root / "sub"), str(root / "sub.real"), str(outside)]
    )
    try:
        started = time.monotonic() + 30
        while not (root / "sub").is_symlink() and time.monotonic() < started:
            time.sleep(0.001)  # the swapper has begun once a link is seen
        texts: list[str] = []
        until = time.monotonic() + 3  # a leak shows within a few loads; stop at the first
        while time.monotonic() < until and not any(t.startswith("Password") for t in texts):
            texts += [a.text for a in load_articles(root).articles]
    finally:
        swapper.kill()
        swapper.wait()
    assert any("A story that stays." in text for text in texts)
    assert any(text.startswith("Harmless") for text in texts)
    assert not any(text.startswith("Password") for text in texts)


def test_a_link_met_while_opening_is_refused_with_a_reason(tmp_path: Path) -> None:
    root = tmp_path / "articles"
    write(root, "sub/a.txt", "A\nInside.")
    write(tmp_path, "private/a.txt", "Secret\nOutside.")
    found = list(_walk(root.resolve(), []))
    (root / "sub").rename(root / "sub.real")
    (root / "sub").symlink_to(tmp_path / "private", target_is_directory=True)
    with pytest.raises(ArticleError, match=r"changed into a link .* not followed"):
        _read_file(root.resolve(), *found[0], 1000, [])


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("deep.json", "[" * 100_000 + "]" * 100_000, "Not readable JSON: it is nested too deeply."),
        (
            "deep.jsonl",
            "[" * 100_000 + "]" * 100_000,
            "Not readable JSON: it is nested too deeply.",
        ),
        ("digits.json", '{"id": ' + "9" * 5000 + ', "text": "T."}', "Not readable JSON: "),
        ("digits.jsonl", '{"id": ' + "9" * 5000 + ', "text": "T."}', "Not readable JSON: "),
        ("long-id.json", json.dumps({"id": "x" * 5000, "text": "T."}), "The record's 'id' is "),
    ],
)
def test_a_crafted_json_file_is_skipped_with_its_reason(
    tmp_path: Path, name: str, content: str, reason: str
) -> None:
    write(tmp_path, name, content)
    write(tmp_path, "ok.txt", "Fine\nStill read.")
    result = load_articles(tmp_path)
    assert [a.path for a in result.articles] == ["ok.txt"]
    [skip] = result.skipped
    assert skip.path in (name, f"{name}:1") and skip.reason.startswith(reason)


def test_any_failure_reading_one_file_skips_it_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "a.md", "# A\n\nBody.")
    write(tmp_path, "b.txt", "B\nStill read.")

    def broken(text: str, relpath: str) -> Article:
        raise MemoryError

    monkeypatch.setitem(
        loading.READERS, ".md", lambda text, relpath, skipped: [broken(text, relpath)]
    )
    result = load_articles(tmp_path)
    assert [a.path for a in result.articles] == ["b.txt"]
    assert reasons(result) == {"a.md": "Cannot read this file: MemoryError."}


def test_the_size_limit_holds_for_each_json_lines_record_not_the_file(tmp_path: Path) -> None:
    records = [json.dumps({"id": f"r{i}", "text": f"Story number {i}."}) for i in range(50)]
    records.insert(7, json.dumps({"id": "big", "text": "word " * 100}))
    write(tmp_path, "many.jsonl", "\n".join(records) + "\n")
    result = load_articles(tmp_path, max_bytes=200)
    assert len(result.articles) == 50
    assert reasons(result) == {
        "many.jsonl:8": "The record is 525 bytes, over the limit of 200 bytes."
    }


def test_nul_bytes_and_bidi_overrides_never_reach_an_article(tmp_path: Path) -> None:
    evil = "Evil\u202egnp.exe\u0000"
    write(tmp_path, "a.jsonl", json.dumps({"id": "a", "title": evil, "text": f"One {evil} two."}))
    write(tmp_path, "b.txt", "Title\nBody with \u2066isolated\u2069 text and a bell\x07.")
    a, b = load_articles(tmp_path).articles
    assert (a.title, a.text) == ("Evilgnp.exe", "One Evilgnp.exe two.")
    assert b.text.endswith("Body with isolated text and a bell.")
