"""Corpora for the benchmarks, grown from the evaluation articles in shared/eval.

A copy of an article is the same story with a few letters inside words upper-cased, chosen by
the copy's number: every offset stays where it was, the tokenizer and FTS5 fold case, so a copy
chunks, embeds and matches exactly like its original, yet its text is distinct (the loader
merges articles with identical text).

Embedding 1M passages would take hours, so large corpora are embedded by replay: a copy's text
gets its original's real embedding plus a little noise (`ReplayEncoder`). The dense search then
sees near-duplicates in tight groups, and keyword search sees every term as often as the copies
repeat it: a harder case for BM25 than a real corpus of that size, an easier one for IVF. IVF
recall is therefore measured on separate vectors (`mixture_vectors`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.types import Vectors

EVAL_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
SETS = ("seed", "xquad_en", "quail_news")
# Words whose second letter may be upper-cased: long, all lower case, so no sentence splitter,
# abbreviation list or name detector reacts to the change.
_PLAIN_WORD = re.compile(r"\b[a-z]{6,}\b")
COPY_BITS = 24


@dataclass(frozen=True, slots=True)
class Record:
    id: str
    title: str
    url: str | None
    published: str | None
    text: str

    def as_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "title": self.title,
                "url": self.url,
                "published": self.published,
                "text": self.text,
            },
            ensure_ascii=False,
        )


def eval_records(eval_dir: Path = EVAL_DIR, sets: Sequence[str] = SETS) -> list[Record]:
    """Every article of the evaluation sets, in set order."""
    out = []
    for name in sets:
        with open(eval_dir / name / "articles.jsonl", encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    data = json.loads(line)
                    out.append(
                        Record(
                            id=str(data["id"]),
                            title=str(data.get("title") or data["id"]),
                            url=data.get("url"),
                            published=data.get("published"),
                            text=str(data["text"]),
                        )
                    )
    return out


def eval_questions(eval_dir: Path = EVAL_DIR, sets: Sequence[str] = SETS) -> list[str]:
    out = []
    for name in sets:
        with open(eval_dir / name / "questions.jsonl", encoding="utf-8") as handle:
            out += [json.loads(line)["question"] for line in handle if line.strip()]
    return out


def perturb(text: str, copy: int) -> str:
    """`text` with the second letter of some long words upper-cased: bit i of `copy` marks the
    i-th such word. Same length, same offsets; copy 0 is the text itself."""
    if copy == 0:
        return text
    chars = list(text)
    for bit, match in enumerate(_PLAIN_WORD.finditer(text)):
        if bit >= COPY_BITS:
            break
        if copy >> bit & 1:
            chars[match.start() + 1] = chars[match.start() + 1].upper()
    return "".join(chars)


def copies(originals: Sequence[Record], articles: int) -> Iterator[Record]:
    """`articles` records: the originals, then copy 1 of each, copy 2, ..."""
    for number in range(articles):
        original = originals[number % len(originals)]
        copy = number // len(originals)
        if copy == 0:
            yield original
        else:
            yield Record(
                id=f"{original.id}~{copy}",
                title=original.title,
                url=original.url,
                published=original.published,
                text=perturb(original.text, copy),
            )


def write_markdown(folder: Path, records: Iterator[Record]) -> int:
    """One Markdown file with YAML front matter per article, a hundred to a sub-folder.

    Each file is dated an hour back, as an archive's files are: the index trusts the
    fingerprint of a folder only once its files have settled (retrieval/ingest/fingerprint.py).
    """
    settled = time.time() - 3600
    count = 0
    for count, record in enumerate(records, 1):
        sub = folder / f"{count // 100:04d}"
        if count % 100 in (0, 1):
            sub.mkdir(parents=True, exist_ok=True)
        front = {"title": record.title, "url": record.url, "published": record.published}
        lines = ["---"] + [f"{k}: {json.dumps(v)}" for k, v in front.items() if v] + ["---"]
        name = re.sub(r"[^\w.~-]", "_", record.id)
        path = sub / f"{name}.md"
        path.write_text("\n".join(lines) + "\n" + record.text + "\n", "utf-8")
        os.utime(path, (settled, settled))
    return count


def write_jsonl(path: Path, records: Iterator[Record]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(record.as_json() + "\n")


class Recorder:
    """Wraps an encoder and keeps every text's embedding, for `ReplayEncoder` to replay."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.table: dict[str, Vectors] = {}

    @property
    def name(self) -> str:
        return str(self.inner.name)  # type: ignore[attr-defined]

    @property
    def dimension(self) -> int:
        return int(self.inner.dimension)  # type: ignore[attr-defined]

    def encode_documents(self, texts: Sequence[str]) -> Vectors:
        vectors: Vectors = self.inner.encode_documents(texts)  # type: ignore[attr-defined]
        for text, row in zip(texts, vectors, strict=True):
            self.table[text.lower()] = row
        return vectors

    def encode_query(self, text: str) -> Vectors:
        row: Vectors = self.inner.encode_query(text)  # type: ignore[attr-defined]
        return row


class ReplayEncoder:
    """A copy's text embeds as its original did (case folded), plus noise of norm `noise`."""

    def __init__(self, table: dict[str, Vectors], name: str, dimension: int, noise: float) -> None:
        self.table = table
        self.name = name
        self.dimension = dimension
        self.noise = noise

    def encode_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        base = np.stack([self.table[t.lower()] for t in texts])
        seed = int.from_bytes(hashlib.blake2b(texts[0].encode(), digest_size=8).digest(), "big")
        rng = np.random.default_rng(seed)
        scale = self.noise / np.sqrt(self.dimension)
        noisy = base + rng.standard_normal(base.shape, dtype=np.float32) * np.float32(scale)
        out: Vectors = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
        return out

    def encode_query(self, text: str) -> Vectors:
        raise NotImplementedError("questions are embedded by the real encoder")


def mixture_vectors(base: Vectors, n: int, seed: int = 0) -> Vectors:
    """`n` unit vectors, each a random real embedding plus half another plus noise.

    Unlike copies, these spread between the real embeddings instead of sitting on them, which
    is what makes an inverted-file index miss neighbours: recall is measured on these.
    """
    rng = np.random.default_rng(seed)
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for begin in range(0, n, 100_000):
        rows = min(100_000, n - begin)
        first = base[rng.integers(0, len(base), rows)]
        second = base[rng.integers(0, len(base), rows)]
        noise = rng.standard_normal((rows, base.shape[1]), dtype=np.float32) * np.float32(0.05)
        block = first + np.float32(0.5) * second + noise
        out[begin : begin + rows] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out
