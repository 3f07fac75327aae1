"""How a passage gets its vector: embedded whole, or pooled from its sentences' vectors.

Every sentence is embedded on its own anyway (answer selection ranks sentences), and a passage
is a window of up to four consecutive sentences. `embedded` (the default) embeds each passage,
title first, as one text. `pooled` makes a passage's vector the normalised sum of its sentences'
vectors and its article's title's, so indexing embeds each sentence and each title once and no
passage: faster indexing, for answers a little less often right (docs/performance.md has the
figures). Set CITEBOT_PASSAGE_VECTORS=pooled where indexing time matters more than that.

A version records its recipe in its manifest, and a reindex never mixes the two: when the
recipe changes, every passage vector is made again (pooled ones from the sentence vectors
already there, with no sentence embedded again).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from retrieval.types import Vectors


def has_own_title(title: str, passage: str) -> bool:
    """Whether a passage is given its article's title: not when there is none, nor when the
    passage already starts with it (an article titled by its first sentence, shortened)."""
    return bool(title) and not passage.startswith(title.removesuffix("…"))


def embedding_text(title: str, passage: str) -> str:
    """The text a passage is embedded as under `embedded`: its title travels with it."""
    return f"{title}\n{passage}" if has_own_title(title, passage) else passage


def pool(
    sentences: Vectors,
    first: npt.NDArray[np.int64],
    last: npt.NDArray[np.int64],
    titles: Vectors,
    title_of: npt.NDArray[np.int64],
) -> Vectors:
    """Each passage's vector from the vectors of sentences `first[i]..last[i]` (inclusive,
    rows of `sentences`) and of title `title_of[i]` (a row of `titles`; -1 for a passage given
    no title): their sum, normalised. A sum of zero, which unit vectors of real texts do not
    give, is left zero rather than divided by."""
    out = np.zeros((len(first), sentences.shape[1]), dtype=np.float32)
    if len(first) == 0:
        return out
    titled = title_of >= 0
    out[titled] = titles[title_of[titled]]
    # A passage spans a few sentences: add its k-th sentence, for every k, in one gather each.
    for k in range(int((last - first).max()) + 1):
        row = first + k
        holds = row <= last
        out[holds] += sentences[row[holds]]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out
