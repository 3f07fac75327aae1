"""Write a large index of article copies without splitting or embedding each copy again.

A copy has its original's offsets (see `corpus.perturb`), so its sentences and passages are its
original's spans: the originals are split once, and the copies' rows, texts and vectors are laid
out from them. The version is then written by the builder's own writer (`_write_version`), so
the files, the SQLite schema, the FTS tables and the FAISS index are exactly a real build's.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.corpus import Record, copies
from retrieval.build.pooling import embedding_text, has_own_title, pool
from retrieval.build.publishing import publish_version
from retrieval.build.rows import EMBED, Rows
from retrieval.index.dense import IVF_THRESHOLD
from retrieval.index.store import PassageRow, SentenceRow
from retrieval.index.version import Manifest
from retrieval.types import DEFAULT_RECIPE, Article, PassageVectors, Vectors


def write_grown_index(
    index_dir: Path,
    originals: Sequence[Record],
    passages: int,
    table: dict[str, Vectors],
    *,
    model: str,
    noise: float = 0.05,
    ivf_threshold: int = IVF_THRESHOLD,
    passage_recipe: PassageVectors = DEFAULT_RECIPE,
) -> Manifest:
    """An index of at least `passages` passages: the originals, then copies, in rounds.

    `table` maps each original text, lower-cased, to its real embedding (see `Recorder`). A
    copy's passage vector is its original's plus Gaussian noise of norm `noise`; its sentence
    vectors are its original's (they only rank sentences inside the chosen passages). The
    originals' passage vectors are made by `passage_recipe`, as the builder makes them: pooled
    from the sentence and title vectors in `table`, or looked up there as embedded whole.
    """
    shapes: list[tuple[Article, list[tuple[int, int]], list[tuple[int, int, int, int]]]] = []
    for record in originals:
        article = _article(record, 0)
        pending = Rows()
        pending.add(article, None)
        spans = [(s.start, s.end) for s in pending.sentences]
        windows = [(p.start, p.end, p.first_sentence, p.last_sentence) for p in pending.passages]
        shapes.append((article, spans, windows))
    per_round = sum(len(w) for _, _, w in shapes)
    articles_needed = -(-passages * len(originals) // per_round)

    dimension = len(next(iter(table.values())))
    base_s = [np.stack([table[a.text[s:e].lower()] for s, e in sp]) for a, sp, _ in shapes]
    if passage_recipe == "pooled":
        base_p = [
            _pooled(table, article, sentences, windows)
            for (article, _, windows), sentences in zip(shapes, base_s, strict=True)
        ]
    else:
        base_p = [
            np.stack([table[embedding_text(a.title, a.text[s:e]).lower()] for s, e, _, _ in w])
            for a, _, w in shapes
        ]

    pending = Rows()
    articles: list[Article] = []
    p_parts: list[Vectors] = []
    s_parts: list[Vectors] = []
    rng = np.random.default_rng(0)
    for number, record in enumerate(copies(originals, articles_needed)):
        index = number % len(originals)
        article = _article(record, number)
        _, spans, windows = shapes[index]
        first_s = len(pending.sentences)
        for ordinal, (start, end) in enumerate(spans):
            pending.sentences.append(
                SentenceRow(len(pending.sentences), article.id, ordinal, start, end)
            )
            pending.sentence_texts.append(article.text[start:end])
            pending.sentence_source.append(EMBED)
        for start, end, first, last in windows:
            pending.passages.append(
                PassageRow(
                    len(pending.passages), article.id, start, end, first_s + first, first_s + last
                )
            )
            pending.passage_texts.append(article.text[start:end])
            pending.passage_source.append(EMBED)
        rows = base_p[index]
        if number >= len(originals):
            jitter = rng.standard_normal(rows.shape, dtype=np.float32)
            rows = rows + jitter * np.float32(noise / np.sqrt(dimension))
            rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        p_parts.append(rows.astype(np.float32))
        s_parts.append(base_s[index])
        articles.append(article)

    return publish_version(
        index_dir,
        "grown-" + uuid.uuid4().hex[:8],
        articles,
        pending,
        np.concatenate(p_parts),
        np.concatenate(s_parts),
        model=model,
        passage_recipe=passage_recipe,
        ivf_threshold=ivf_threshold,
    )


def _pooled(
    table: dict[str, Vectors],
    article: Article,
    sentences: Vectors,
    windows: list[tuple[int, int, int, int]],
) -> Vectors:
    """An original's passage vectors as the builder pools them (pooling.py)."""
    titled = [has_own_title(article.title, article.text[s:e]) for s, e, _, _ in windows]
    titles = np.stack([table[article.title.lower()]]) if any(titled) else sentences[:0]
    return pool(
        sentences,
        np.array([first for _, _, first, _ in windows], dtype=np.int64),
        np.array([last for _, _, _, last in windows], dtype=np.int64),
        titles,
        np.array([0 if t else -1 for t in titled], dtype=np.int64),
    )


def _article(record: Record, number: int) -> Article:
    return Article(
        id=record.id,
        title=record.title,
        text=record.text,
        path=f"grown.jsonl:{number + 1}",
        url=record.url,
        published=record.published,
    )
