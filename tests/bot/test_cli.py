"""The `citebot` command line, run as a real subprocess."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from retrieval.index.version import KEYWORD_POSTINGS, MANIFEST, SENTENCE_VECTORS, current_version
from tests.conftest import SEEDS, write_corpus

LEE = (
    "Lee is reportedly planning to visit Japan later this month to meet Prime Minister "
    "Sanae Takaichi."
)


def citebot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(SEEDS.parent)},
    )


def test_index_ask_sources_with_the_fake_model(tmp_path: Path) -> None:
    write_corpus(tmp_path / "articles")
    (tmp_path / "articles" / "bad.txt").write_bytes(b"\x00\x00binary")
    (tmp_path / ".env").write_text("CITEBOT_MODEL=fake\nCITEBOT_ARTICLES_DIR=articles\n")

    done = citebot("index", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Indexed 3 articles" in done.stdout
    assert "bad.txt: " in done.stdout

    done = citebot("ask", "How many workers will the chipmaker hire?", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["citation"]["snippet"].endswith(
        "The chipmaker expects to hire 3,000 workers by 2027."
    )
    assert answer["citation"]["source"]["article_id"] == "chips-1"

    done = citebot("ask", "How many workers will the chipmaker hire?", cwd=tmp_path)
    assert "The chipmaker expects to hire 3,000 workers by 2027.”" in done.stdout
    assert "Chipmaker expands" in done.stdout

    done = citebot("sources", "--json", cwd=tmp_path)
    assert [s["title"] for s in json.loads(done.stdout)] == [
        "Chipmaker expands",
        "Floods in Valencia",
        "Lee visits China",
    ]


def test_verify_names_a_damaged_file_and_index_full_repairs_it(tmp_path: Path) -> None:
    write_corpus(tmp_path / "articles")
    (tmp_path / ".env").write_text("CITEBOT_MODEL=fake\nCITEBOT_ARTICLES_DIR=articles\n")
    assert citebot("index", cwd=tmp_path).returncode == 0

    done = citebot("verify", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:] == [
        "  passages.npy: ok",
        "  sentences.npy: ok",
        "  citebot.sqlite: ok",
        "  citebot.postings: ok",
    ]
    assert "is intact: every file matches its checksum" in done.stdout

    version = current_version(tmp_path / "index")
    rows = np.load(version / SENTENCE_VECTORS, mmap_mode="r+")
    rows[len(rows) // 2] = rows[0]  # other bytes of the same length, still a unit vector
    rows.flush()
    del rows
    done = citebot("verify", cwd=tmp_path)
    assert done.returncode == 1
    assert f"Version {version.name} is damaged:" in done.stdout
    assert "  sentences.npy: does not match the checksum recorded when it was built" in done.stdout
    assert "Run `citebot index --full`" in done.stdout

    done = citebot("index", "--full", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Every article was embedded afresh, as a full rebuild was asked for." in done.stdout
    assert citebot("verify", cwd=tmp_path).returncode == 0

    manifest = current_version(tmp_path / "index") / MANIFEST
    data = json.loads(manifest.read_text())
    data["format"] = 1  # as a version an earlier citebot wrote
    manifest.write_text(json.dumps(data))
    done = citebot("verify", cwd=tmp_path)
    assert done.returncode == 1
    assert "has format 1" in done.stderr and "Reindex to rebuild it" in done.stderr

    done = citebot("--index", "elsewhere", "verify", cwd=tmp_path)
    assert done.returncode == 1
    assert "No index has been built" in done.stderr and "Traceback" not in done.stderr


def test_verify_advises_a_rewrite_for_damaged_postings_and_index_rewrite_repairs_it(
    tmp_path: Path,
) -> None:
    write_corpus(tmp_path / "articles")
    (tmp_path / ".env").write_text("CITEBOT_MODEL=fake\nCITEBOT_ARTICLES_DIR=articles\n")
    assert citebot("index", cwd=tmp_path).returncode == 0
    postings = current_version(tmp_path / "index") / KEYWORD_POSTINGS
    data = bytearray(postings.read_bytes())
    data[len(data) // 2] ^= 0xFF
    postings.write_bytes(bytes(data))

    done = citebot("verify", cwd=tmp_path)
    assert done.returncode == 1
    assert "  citebot.postings: does not match the checksum" in done.stdout
    assert "Run `citebot index --rewrite` to write those files anew" in done.stdout

    done = citebot("index", "--full", "--rewrite", cwd=tmp_path)
    assert done.returncode == 2 and "not allowed with argument" in done.stderr

    done = citebot("index", "--rewrite", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "unchanged 3; 0 new passage vectors" in done.stdout
    assert "Every file was written anew, reusing the vectors, as a rewrite was asked for." in (
        done.stdout
    )
    assert citebot("verify", cwd=tmp_path).returncode == 0


def test_passage_vectors_setting_reaches_the_build(tmp_path: Path) -> None:
    write_corpus(tmp_path / "articles")
    env = "CITEBOT_MODEL=fake\nCITEBOT_ARTICLES_DIR=articles\nCITEBOT_PASSAGE_VECTORS={}\n"
    for recipe in ("embedded", "pooled"):
        (tmp_path / ".env").write_text(env.format(recipe))
        done = citebot("index", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        manifest = json.loads((current_version(tmp_path / "index") / MANIFEST).read_text())
        assert manifest["passage_vectors"] == recipe


def test_ask_without_an_index_says_how_to_build_one(tmp_path: Path) -> None:
    done = citebot("--model", "fake", "ask", "Anything?", cwd=tmp_path)
    assert done.returncode == 1
    assert "run `citebot index`" in done.stderr
    assert "Traceback" not in done.stderr


def test_malformed_setting_names_the_key(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CITEBOT_THRESHOLD=high\n")
    done = citebot("sources", cwd=tmp_path)
    assert done.returncode == 1
    assert "CITEBOT_THRESHOLD='high' is not a number" in done.stderr


@pytest.mark.model
def test_seed_question_end_to_end_with_the_real_model(tmp_path: Path) -> None:
    index = str(tmp_path / "index")
    assert citebot("--index", index, "index", str(SEEDS), cwd=tmp_path).returncode == 0
    done = citebot(
        "--index",
        index,
        "--articles",
        str(SEEDS),
        "ask",
        "When is Lee visiting Japan?",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert f"“{LEE}”" in done.stdout
    assert "lee-jae-myung-china-visit.txt" in done.stdout
    done = citebot("--index", index, "ask", "Who won the 2022 FIFA World Cup?", cwd=tmp_path)
    assert done.stdout.startswith("Not in the articles")


EVAL_KEYS = {
    "article_recall@1",
    "article_recall@5",
    "snippet_hit@1",
    "mrr",
    "abstain_recall",
    "false_abstain_rate",
    "p50_ms",
    "p95_ms",
    "questions",
    "answerable",
}


def test_eval_prints_exactly_one_json_object(tmp_path: Path) -> None:
    articles = tmp_path / "articles.jsonl"
    articles.write_text(
        json.dumps(
            {
                "id": "chips",
                "title": "Chipmaker expands",
                "url": None,
                "published": "2025-03-01",
                "text": "The chipmaker will build a factory in Arizona. "
                "The chipmaker expects to hire 3,000 workers by 2027.",
            }
        )
        + "\n"
    )
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        json.dumps(
            {
                "id": "q1",
                "question": "How many workers will the chipmaker hire?",
                "answers": ["3,000"],
                "article_id": "chips",
            }
        )
        + "\n"
        + json.dumps(
            {"id": "q2", "question": "Quantum spectroscopy?", "answers": [], "article_id": None}
        )
        + "\n"
    )
    done = citebot(
        "--model", "fake", "eval", "--articles", str(articles), "--questions", str(questions),
        "--json", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == EVAL_KEYS
    assert (result["questions"], result["answerable"]) == (2, 1)
    assert result["snippet_hit@1"] == 1.0 and result["abstain_recall"] == 1.0
    done = citebot(
        "--model", "fake", "eval", "--articles", str(articles), "--questions", str(questions),
        "--mode", "bm25", cwd=tmp_path,
    )  # fmt: skip
    assert "snippet_hit@1" in done.stdout and not done.stdout.lstrip().startswith("{")


def test_index_refuses_to_drop_every_article_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    articles = write_corpus(tmp_path / "articles")
    flags = ["--model", "fake", "--articles", str(articles), "--index", str(tmp_path / "index")]
    assert main([*flags, "index"]) == 0
    for path in articles.iterdir():
        path.unlink()
    assert main([*flags, "index"]) == 1
    err = capsys.readouterr().err
    assert "holds 0 articles where the served index has 3" in err
    assert "`citebot index --allow-shrink`" in err
    assert main([*flags, "sources", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3  # the previous version still serves
    assert main([*flags, "index", "--allow-shrink"]) == 0
    assert "Indexed 0 articles" in capsys.readouterr().out


def test_folder_and_disk_errors_name_the_path_and_the_cause(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.cli import main
    from retrieval.build import reindex

    articles = write_corpus(tmp_path / "articles")
    a_file = tmp_path / "passwd"
    a_file.write_text("root:x:0:0::/root:/bin/sh\n")
    index = tmp_path / "index"
    fake = ["--model", "fake"]

    def error_of(*args: str) -> str:
        assert main([*fake, *args]) == 1
        err = capsys.readouterr().err
        assert "Traceback" not in err
        last = err.splitlines()[-1]  # after the progress bar, if any
        assert last.startswith("citebot: ")
        return last

    err = error_of("--articles", str(articles), "--index", str(a_file), "index")
    assert f"{a_file} is a file, not a folder; set CITEBOT_INDEX_DIR" in err
    err = error_of("--index", str(a_file), "sources")
    assert f"The index folder {a_file} is a file, not a folder" in err
    err = error_of("--articles", str(a_file), "--index", str(index), "index")
    assert f"{a_file} is a file, not a folder; set CITEBOT_ARTICLES_DIR" in err

    # Root writes anywhere, so a read-only folder and a full disk are played by the calls that
    # meet them.
    real_open = open

    def read_only(path: object, *args: Any, **kwargs: Any) -> Any:
        if str(path).endswith(".lock"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[call-overload]

    with monkeypatch.context() as patch:
        patch.setattr(reindex, "open", read_only, raising=False)
        err = error_of("--articles", str(articles), "--index", str(index), "index")
    assert f"Cannot write the index in {index}: {index}/.lock: Read-only file system." in err

    def full_disk(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(reindex, "publish_version", full_disk)
    err = error_of("--articles", str(articles), "--index", str(index), "index")
    assert f"Cannot write the index in {index}: database or disk is full." in err


def test_output_to_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`citebot sources | head`: the reader is gone before citebot writes."""
    write_corpus(tmp_path / "articles")
    (tmp_path / ".env").write_text("CITEBOT_MODEL=fake\nCITEBOT_ARTICLES_DIR=articles\n")
    assert citebot("index", cwd=tmp_path).returncode == 0
    for command in (["sources"], ["ask", "How many workers will the chipmaker hire?"]):
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *command],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(SEEDS.parent)},
        )
        assert process.stdout is not None
        process.stdout.close()  # like `head` having read its lines and left
        _, err = process.communicate(timeout=120)
        assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()
        assert process.returncode == 1
