"""The vectors of a version being built: copied from the served version where a row is
reused, else embedded, or, for passages under the `pooled` recipe, pooled from the sentence
vectors and their title's (pooling.py)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from retrieval.build.pooling import has_own_title, pool
from retrieval.build.rows import Rows
from retrieval.encode.encoder import Encoder
from retrieval.index.vectors import VectorFile
from retrieval.types import Vectors

EMBED_BATCH = 256
# Passages pooled at a time: bounds the temporary arrays of a large build.
_POOL_CHUNK = 65_536

Ids = npt.NDArray[np.int64]
# Embeds a build's texts, one row each in order, calling `progress(n)` as n more are done: in
# this process (`local_embedder`), or on a cluster (ray_embedding.py).
Embedder = Callable[[list[str], Callable[[int], None]], Vectors]


def _reused(sources: list[int], old: VectorFile | None, dimension: int) -> tuple[Vectors, Ids]:
    """Vectors with the rows copied from `old` filled in, and the rows left to make."""
    out = np.zeros((len(sources), dimension), dtype=np.float32)
    source = np.asarray(sources, dtype=np.int64)
    reuse = source >= 0
    if old is not None and reuse.any():
        out[reuse] = old[source[reuse]]
    return out, np.flatnonzero(~reuse)


def local_embedder(encoder: Encoder) -> Embedder:
    """Embed in this process, `EMBED_BATCH` texts at a time."""

    def embed(texts: list[str], progress: Callable[[int], None]) -> Vectors:
        out = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
        for begin in range(0, len(texts), EMBED_BATCH):
            batch = texts[begin : begin + EMBED_BATCH]
            out[begin : begin + len(batch)] = encoder.encode_documents(batch)
            progress(len(batch))
        return out

    return embed


def copied_or_embedded(
    sources: list[int],
    texts: list[str],
    old: VectorFile | None,
    dimension: int,
    embed: Embedder,
    progress: Callable[[int], None],
) -> tuple[Vectors, int]:
    """One vector per row: copied from row `sources[i]` of `old`, or, where that is EMBED,
    `texts[i]` embedded. Also returns how many were embedded; `progress(n)` after each batch."""
    out, todo = _reused(sources, old, dimension)
    if len(todo):
        out[todo] = embed([texts[i] for i in todo], progress)
    return out, len(todo)


def titles_to_embed(rows: Rows, titles: dict[str, str], todo: Ids) -> dict[str, str]:
    """The titles the passages `todo` are pooled with, by article id (see pooling.py)."""
    return {
        rows.passages[i].article_id: titles[rows.passages[i].article_id]
        for i in todo
        if has_own_title(titles[rows.passages[i].article_id], rows.passage_texts[i])
    }


def pooled_vectors(
    rows: Rows,
    titles: dict[str, str],
    wanted: dict[str, str],
    sentence_vectors: Vectors,
    old: VectorFile | None,
    dimension: int,
    embed: Embedder,
    progress: Callable[[int], None],
) -> tuple[Vectors, int]:
    """Passage vectors copied from `old` or pooled from `sentence_vectors` and their title's
    (`wanted`: the titles to embed, by article id, as `titles_to_embed` gives them)."""
    out, todo = _reused(rows.passage_source, old, dimension)
    title_row = {article: i for i, article in enumerate(wanted)}
    title_vectors = (
        embed(list(wanted.values()), progress)
        if wanted
        else np.zeros((0, dimension), dtype=np.float32)
    )
    for begin in range(0, len(todo), _POOL_CHUNK):
        chunk = todo[begin : begin + _POOL_CHUNK]
        passages = [rows.passages[i] for i in chunk]
        out[chunk] = pool(
            sentence_vectors,
            np.array([p.first_sentence for p in passages], dtype=np.int64),
            np.array([p.last_sentence for p in passages], dtype=np.int64),
            title_vectors,
            np.array(
                [
                    title_row[p.article_id]
                    if has_own_title(titles[p.article_id], rows.passage_texts[i])
                    else -1
                    for i, p in zip(chunk, passages, strict=True)
                ],
                dtype=np.int64,
            ),
        )
    return out, len(todo)
