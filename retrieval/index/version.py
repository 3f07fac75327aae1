"""The index folder: immutable versions, and the pointer that says which one is served.

    INDEX_DIR/
      CURRENT                  name of the version being served (replaced atomically)
      versions/NAME/           manifest.json (written last, with every file's checksum),
                               citebot.sqlite, citebot.postings, passages.npy, sentences.npy,
                               passages.ann (the approximate dense index; large indexes only)
      building-NAME/           a version being built; never read, removed when stale
      .lock                    held by the one process that is reindexing

A build writes a whole new version beside the served one and only then replaces CURRENT
(build/publishing.py), so a crash at any point leaves the previous complete version in place.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import IndexUnavailable, ModelMismatch
from retrieval.index import dense
from retrieval.index.dense import DenseIndex
from retrieval.index.postings import postings_path
from retrieval.index.store import Store
from retrieval.index.vectors import VectorFile
from retrieval.types import RECIPES, IndexStats, PassageVectors

# Bumped whenever a version's files or manifest change shape; an index of another format is
# refused with the advice to reindex (nothing converts one).
FORMAT = 2
MANIFEST = "manifest.json"
DATABASE = "citebot.sqlite"
KEYWORD_POSTINGS = postings_path(Path(DATABASE)).name
PASSAGE_VECTORS = "passages.npy"
SENTENCE_VECTORS = "sentences.npy"
PASSAGE_ANN = "passages.ann"
CURRENT = "CURRENT"
VERSIONS = "versions"


@dataclass(frozen=True, slots=True)
class Manifest:
    format: int
    model: str
    dimension: int
    built_at: str
    articles: int
    passages: int
    sentences: int
    dense: str  # dense.EXACT, or the kind of the approximate index in PASSAGE_ANN
    # File name -> "sha256:HEX" of its bytes (checksums.py).
    checksums: Mapping[str, str]
    # How the passage vectors were made (build/pooling.py).
    passage_vectors: PassageVectors

    def to_json(self) -> str:
        data: dict[str, object] = {
            "format": self.format,
            "model": self.model,
            "dimension": self.dimension,
            "built_at": self.built_at,
            "articles": self.articles,
            "passages": self.passages,
            "sentences": self.sentences,
            "dense": self.dense,
            "passage_vectors": self.passage_vectors,
            "checksums": dict(self.checksums),
        }
        return json.dumps(data, indent=2)

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            _check_format(path, data)
            return cls(
                format=int(data["format"]),
                model=str(data["model"]),
                dimension=int(data["dimension"]),
                built_at=str(data["built_at"]),
                articles=int(data["articles"]),
                passages=int(data["passages"]),
                sentences=int(data["sentences"]),
                dense=str(data["dense"]),
                checksums=_checksums(data["checksums"]),
                passage_vectors=_recipe(data["passage_vectors"]),
            )
        except FileNotFoundError as exc:
            raise IndexUnavailable(
                f"The index at {path.parent} has no manifest; rebuild it with a reindex."
            ) from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexUnavailable(
                f"The index manifest {path} is unreadable ({exc}); rebuild it with a reindex."
            ) from exc


def _recipe(value: object) -> PassageVectors:
    for recipe in RECIPES:
        if value == recipe:
            return recipe
    raise ValueError(f"passage_vectors is {value!r}, not one of {', '.join(RECIPES)}")


def _check_format(path: Path, data: object) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"it holds a JSON {type(data).__name__}, not an object")
    found = data.get("format")
    if found != FORMAT:
        raise IndexUnavailable(
            f"The index in {path.parent} has format {found!r}, written by another citebot; this "
            f"one reads format {FORMAT}. Reindex to rebuild it (`citebot index`, or /reindex)."
        )


def _checksums(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError(f"its checksums are {value!r}, not file names and digests")
    return dict(value)


def current_version(index_dir: Path) -> Path:
    """The folder of the version being served, or IndexUnavailable saying how to build one."""
    if index_dir.exists() and not index_dir.is_dir():
        raise IndexUnavailable(
            f"The index folder {index_dir} is a file, not a folder; set CITEBOT_INDEX_DIR (or "
            "--index) to a folder."
        )
    pointer = index_dir / CURRENT
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError as exc:
        # CURRENT removed by hand, or a first build killed between moving its version into
        # place and naming it: an intact version is still there to serve (and reuse).
        newest = newest_version(index_dir)
        if newest is not None:
            return newest
        raise IndexUnavailable(
            f"No index has been built in {index_dir} yet; run `citebot index` (or /reindex)."
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexUnavailable(f"Cannot read {pointer}: {exc}; rebuild with a reindex.") from exc
    folder = index_dir / VERSIONS / name
    if not name or "/" in name or not folder.is_dir():
        raise IndexUnavailable(
            f"{pointer} names a missing version {name!r}; rebuild with a reindex."
        )
    return folder


def newest_version(index_dir: Path) -> Path | None:
    """The folder of the newest complete version in `index_dir` (a version has its manifest
    once complete: it is written last, before the folder moves into `versions/`), or None."""
    try:
        complete = [p for p in (index_dir / VERSIONS).iterdir() if (p / MANIFEST).is_file()]
    except OSError:
        return None
    # Names start with the build's time to the second; the manifest's time breaks a tie.
    return max(
        complete,
        key=lambda p: (p.name.split("-")[0], (p / MANIFEST).stat().st_mtime_ns),
        default=None,
    )


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def point_current(index_dir: Path, name: str) -> None:
    """Make `name` the served version: durable, and atomic for every reader."""
    tmp = index_dir / (CURRENT + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, index_dir / CURRENT)
    fsync_path(index_dir)


class IndexVersion:
    """One complete, validated version opened for reading."""

    def __init__(
        self,
        folder: Path,
        manifest: Manifest,
        store: Store,
        passages: DenseIndex,
        passage_vectors: VectorFile,
        sentence_vectors: VectorFile,
    ) -> None:
        self.folder = folder
        self.manifest = manifest
        self.store = store
        self.passages = passages
        self.passage_vectors = passage_vectors
        self.sentence_vectors = sentence_vectors

    @property
    def name(self) -> str:
        return self.folder.name

    def stats(self) -> IndexStats:
        m = self.manifest
        return IndexStats(
            articles=m.articles,
            passages=m.passages,
            model=m.model,
            dimension=m.dimension,
            built_at=m.built_at,
            version=self.name,
        )

    def close(self) -> None:
        self.store.close()
        self.passage_vectors.close()
        self.sentence_vectors.close()

    @classmethod
    def open(
        cls, folder: Path, *, model: str, dimension: int, searchable: bool = True
    ) -> IndexVersion:
        """Open and check a version; IndexUnavailable (or ModelMismatch) says what to do.

        `searchable=False` opens it for a build to reuse its rows and vectors only: the FAISS
        index and the keyword postings, which every build writes anew, are neither opened nor
        checked (dense search then scans the vector file).
        """
        manifest = Manifest.read(folder / MANIFEST)
        if manifest.model != model or manifest.dimension != dimension:
            raise ModelMismatch(
                f"The index was built with model {manifest.model!r} ({manifest.dimension} "
                f"dimensions) but citebot is set to {model!r} ({dimension}); reindex to rebuild "
                "it with the configured model, or set CITEBOT_MODEL (and CITEBOT_ENCODER) back."
            )
        try:
            store = Store.open(folder / DATABASE, postings=searchable)
        except sqlite3.Error as exc:
            raise IndexUnavailable(
                f"The index database in {folder} is damaged ({exc}); rebuild it with a reindex."
            ) from exc
        opened: list[VectorFile] = []
        try:
            articles, passages, sentences = store.counts()
            # Every encoder gives every text a unit vector: a row of another length, zeros
            # included (a zeroed block), is damage.
            passage_vectors = _load_vectors(folder / PASSAGE_VECTORS, passages, dimension)
            opened.append(passage_vectors)
            _check_sample(passage_vectors)
            sentence_vectors = _load_vectors(folder / SENTENCE_VECTORS, sentences, dimension)
            opened.append(sentence_vectors)
            _check_sample(sentence_vectors)
            if (articles, passages, sentences) != (
                manifest.articles,
                manifest.passages,
                manifest.sentences,
            ):
                raise IndexUnavailable(
                    f"The index in {folder} does not match its manifest; rebuild it with a reindex."
                )
            if manifest.dense != dense.EXACT and searchable:
                nearest = _load_dense(folder / PASSAGE_ANN, manifest.dense, passages)
            else:
                nearest = dense.exact(passage_vectors.mapped())
        except sqlite3.Error as exc:
            store.close()
            for vectors in opened:
                vectors.close()
            raise IndexUnavailable(
                f"The index database in {folder} is damaged ({exc}); rebuild it with a reindex."
            ) from exc
        except BaseException:
            store.close()
            for vectors in opened:
                vectors.close()
            raise
        return cls(folder, manifest, store, nearest, passage_vectors, sentence_vectors)


def _load_vectors(path: Path, rows: int, dimension: int) -> VectorFile:
    try:
        # Read by row: sentence vectors are only read for the few candidates of a question.
        vectors = VectorFile.open(path)
    except (OSError, ValueError, EOFError) as exc:  # EOFError: an empty file
        raise IndexUnavailable(
            f"The vector file {path} is missing or damaged ({exc}); rebuild with a reindex."
        ) from exc
    if vectors.shape != (rows, dimension):
        vectors.close()
        raise IndexUnavailable(
            f"The vector file {path} holds {vectors.shape} float32, expected "
            f"({rows}, {dimension}); rebuild with a reindex."
        )
    return vectors


def _check_sample(vectors: VectorFile) -> None:
    """Refuse a vector file whose sampled rows are not unit vectors: bytes changed inside a file
    of the right size, which its header cannot show. Reading every row is `citebot verify`'s."""
    try:
        problem = vectors.bad_sampled_row()
    except OSError as exc:
        raise IndexUnavailable(
            f"The vector file {vectors.path} cannot be read ({exc}); rebuild with a reindex."
        ) from exc
    if problem is not None:
        raise IndexUnavailable(
            f"The vector file {vectors.path} is damaged: its {problem}; rebuild with a reindex."
        )


def _load_dense(path: Path, kind: str, rows: int) -> DenseIndex:
    try:
        nearest = dense.load(path, kind)
    except ValueError as exc:
        raise IndexUnavailable(
            f"The dense index {path} is damaged ({exc}); rebuild with a reindex."
        ) from exc
    if nearest.size != rows:
        raise IndexUnavailable(
            f"The dense index {path} holds {nearest.size} vectors, expected {rows}; reindex."
        )
    return nearest
