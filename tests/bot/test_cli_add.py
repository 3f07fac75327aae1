"""`citebot add URL|FILE` and `citebot remove ID|URL`, run as real subprocesses against a local
web server."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.bot.test_cli import citebot
from tests.conftest import write_corpus
from tests.webpages import PageServer, page

ENV = "CITEBOT_MODEL=fake\nCITEBOT_ARTICLES_DIR=articles\nCITEBOT_FETCH_ALLOW=127.0.0.1\n"


async def test_add_a_link_and_a_file_then_remove_them(tmp_path: Path) -> None:
    write_corpus(tmp_path / "articles")
    (tmp_path / ".env").write_text(ENV)
    (tmp_path / "notice.pdf").write_bytes(page("library.pdf"))
    async with PageServer() as pages:
        link = pages.url("/moved")
        added = await asyncio.to_thread(citebot, "add", link, cwd=tmp_path)
        again = await asyncio.to_thread(citebot, "add", pages.url("/harbour"), cwd=tmp_path)
        refused = await asyncio.to_thread(citebot, "add", pages.url("/to-metadata"), cwd=tmp_path)
    from_file = citebot("add", "notice.pdf", cwd=tmp_path)
    neither = citebot("add", "nowhere.txt", cwd=tmp_path)
    asked = citebot("ask", "How many cables did engineers replace?", cwd=tmp_path)
    removed = citebot("remove", pages.url("/harbour"), cwd=tmp_path)
    sources = citebot("sources", cwd=tmp_path)

    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("Added Harbour bridge reopens after repairs (2025-03-14): ")
    assert "The index now holds 4 articles." in added.stdout
    assert again.returncode == 1
    assert "Already there: “Harbour bridge reopens after repairs”" in again.stderr
    assert refused.returncode == 1 and "169.254.169.254 is a link-local address" in refused.stderr
    assert from_file.returncode == 0, from_file.stderr
    assert "Added Library extends opening hours" in from_file.stdout
    assert "The index now holds 5 articles." in from_file.stdout
    assert neither.returncode == 1 and "is neither a link" in neither.stderr
    assert "Harbour bridge reopens after repairs" in asked.stdout  # indexed, found
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.startswith("Removed Harbour bridge reopens after repairs (added/")
    assert "Harbour bridge" not in sources.stdout and "Library extends" in sources.stdout


def test_the_collection_flag_acts_on_one_collection(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CITEBOT_MODEL=fake\nCITEBOT_COLLECTIONS_DIR=collections\n")
    (tmp_path / "story.txt").write_text(
        "Night trains return\nThe night train between Vienna and Rome runs again.\n"
    )
    added = citebot("--collection", "server-123456789012345678", "add", "story.txt", cwd=tmp_path)
    listed = citebot("--collection", "server-123456789012345678", "sources", cwd=tmp_path)
    other = citebot("--collection", "world", "sources", cwd=tmp_path)
    bad = citebot("--collection", "../up", "sources", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    folder = tmp_path / "collections" / "server-123456789012345678"
    assert len(list((folder / "articles" / "added").iterdir())) == 1
    assert (folder / "index").is_dir()
    assert "Night trains return" in listed.stdout
    assert other.returncode == 1 and "No index" in other.stderr
    assert bad.returncode == 1 and "is not a collection name" in bad.stderr
