"""The served version as a reindex sees it: whether its rows and vectors can be reused, and
what the report says when they cannot, or when a version is written anew reusing them.

A version that cannot be opened (damaged, or built with another model) is not reused: every
article is embedded afresh. One that cannot be opened only because its FAISS index or keyword
postings are damaged, the two files every build writes anew, still lends its rows and vectors.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from retrieval.encode.encoder import Encoder
from retrieval.errors import IndexUnavailable, ModelMismatch
from retrieval.index.checksums import REUSED, verify_version
from retrieval.index.version import CURRENT, IndexVersion, current_version, newest_version
from retrieval.types import PassageVectors

# How a report starts the sentence that says why nothing was reused from the served version.
AFRESH = "Every article was embedded afresh"
# Why every file of a new version was written though nothing changed (the end of "Every file
# was written anew, reusing the vectors, as …").
ASKED = "a rewrite was asked for."
UNOPENABLE = "the served version could not be opened."


def reuse_note(
    rewrite_why: str | None, served: PassageVectors | None, recipe: PassageVectors
) -> str | None:
    """What a report says was reused, when a version was written anew though its vectors were
    reused: because a rewrite was needed (`rewrite_why`), or because passage vectors are now
    made by `recipe` where the served version's were made by `served`."""
    renewed = served is not None and served != recipe
    notes = []
    if rewrite_why is not None:
        reused = "the sentence vectors" if renewed else "the vectors"
        notes.append(f"Every file was written anew, reusing {reused}, as {rewrite_why}")
    if renewed:
        made = "pooled from the sentence vectors" if recipe == "pooled" else "embedded whole"
        notes.append(
            f"Every passage vector was made anew ({made}): they are now {recipe} "
            f"(CITEBOT_PASSAGE_VECTORS), the served version's were {served}."
        )
    return " ".join(notes) or None


class Served(NamedTuple):
    """The served version opened for reuse, or why it is not."""

    version: IndexVersion | None
    # Why a served version cannot be reused, for the report; None when none was ever built.
    unusable: str | None
    # Why the version, though its rows and vectors can be reused, cannot be served as it is
    # ("the served version could not be opened. …"): its FAISS index or keyword postings,
    # which every build writes anew, are damaged.
    unservable: str | None = None


def open_served(index_dir: Path, encoder: Encoder) -> Served:
    """The served version when it can be reused; a damaged or foreign one means a full build.
    One whose only damage is in its FAISS index or keyword postings is opened for its rows and
    vectors alone, and `unservable` says why it must be written anew."""
    if not (index_dir / CURRENT).exists() and newest_version(index_dir) is None:
        return Served(None, None)  # the first build
    unusable = f"{AFRESH}: the served version could not be reused."
    model, dimension = encoder.name, encoder.dimension
    try:
        folder = current_version(index_dir)
    except IndexUnavailable as exc:
        return Served(None, f"{unusable} {exc}")
    try:
        return Served(IndexVersion.open(folder, model=model, dimension=dimension), None)
    except ModelMismatch as exc:
        return Served(None, f"{unusable} {exc}")
    except IndexUnavailable as exc:
        unservable = f"{UNOPENABLE} {exc}"
    # Damage only in the files every build writes anew (the FAISS index, the keyword postings)
    # still lets a build reuse the version's rows and vectors.
    try:
        version = IndexVersion.open(folder, model=model, dimension=dimension, searchable=False)
    except IndexUnavailable as exc:
        return Served(None, f"{unusable} {exc}")
    return Served(version, None, unservable)


def damaged_vectors(old: IndexVersion) -> str | None:
    """Why `old`'s vectors must not be copied: a file the build reads from it (checksums.REUSED)
    that no longer matches the checksum recorded when it was built. None when all match, or
    when `old` predates checksums."""
    verification = verify_version(old.folder, old.manifest, only=REUSED)
    if not verification.damaged:
        return None
    found = "; ".join(f.describe() for f in verification.damaged)
    return (
        f"{AFRESH}: the served version {old.name} is damaged ({found}), so nothing was reused "
        "from it."
    )
