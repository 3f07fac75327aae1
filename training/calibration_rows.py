"""The calibration's questions, read through the real path: one row per shortlisted sentence.

The paragraphs that training held out (`training.reader_train`: the same split, by paragraph,
with every question of those paragraphs, not only the ones drawn for training) of the
`CALIBRATION_FILES` become a collection of articles, and a share of their answerable questions
become holes: their answer sentence is cut out of the article, as `xquad_en_holes` does.
Questions about articles that are not in the collection at all, which no training stage drew,
are asked of it too. Every question goes through the real path (index, search, shortlist,
reader), and each shortlisted sentence becomes one row of `combine.FEATURES`, labelled 1 when it
is the answer sentence of the right article (`Rows`). `training.reader_calibrate` fits on them.
"""

from __future__ import annotations

import hashlib
import json
import random
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from tqdm import tqdm

from retrieval import Engine
from retrieval.answer.candidates import Candidates
from retrieval.answer.choose import AnswerSettings, Found, find_candidates
from retrieval.answer.combine import FEATURES
from retrieval.answer.reader import load_reader
from retrieval.answer.shortlist import read_shortlist
from retrieval.encode.load import load_encoder
from retrieval.engine import clean_question
from training.reader_data import (
    SELQA_FILES,
    SQUAD_FILES,
    Question,
    drawn,
    is_validation,
    read_all,
)
from training.reader_train import CAPS

# SQuADShifts' Reddit and Amazon files put every post or review under one title: each paragraph
# is its own article there.
_ONE_ARTICLE_PER_PARAGRAPH = ("squadshifts_reddit.json", "squadshifts_amazon_reviews.json")
# The files whose held-out questions calibrate: articles of several paragraphs of edited prose,
# as news is. The Reddit posts and Amazon reviews train the reader but do not calibrate it: each
# is one short post among thousands that answer the same generic questions ("What did the
# reviewer like?"), so another post often answers a question labelled unanswerable, and the
# right sentence came first for under half of their questions, against 0.78-0.89 for the other
# files (docs/reader.md).
CALIBRATION_FILES = tuple(
    name for name in SQUAD_FILES + SELQA_FILES if name not in _ONE_ARTICLE_PER_PARAGRAPH
)
# The `--caps-scale` of each stage of `make reader`: the questions they drew are never asked here.
TRAINED_SCALES = (1.0, 2.0)
# The combiner's figures are cross-fitted: questions are split in folds by paragraph, and each
# fold is scored by a combiner fitted on the others.
FOLDS = 3


def collection(
    held_out: list[Question], outside: list[Question], *, hole_share: float, seed: int
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Articles and questions (the eval sets' shapes) from the held-out training questions.

    A `hole_share` of the answerable questions lose their answer sentence (the topic stays).
    The `outside` questions, about articles that are not in the collection, are asked too (the
    topic is gone): `"absent": true`, and no answers.
    """
    rng = random.Random(seed)
    records = [q for q in held_out if q.answers]
    holes = {r.qid for r in records if rng.random() < hole_share}
    cut: dict[str, set[int]] = {}
    for r in records:
        if r.qid in holes:
            cut.setdefault(r.group, set()).update(r.answers)
    paragraphs: dict[str, tuple[str, ...]] = {}
    for r in records:
        paragraphs.setdefault(r.group, r.sentences)
    article_of: dict[str, str] = {}
    texts: dict[str, list[str]] = {}
    titles: dict[str, str] = {}
    for group, sentences in paragraphs.items():
        name, title = group.split(":")[:2]
        article = group if name in _ONE_ARTICLE_PER_PARAGRAPH else f"{name}:{title}"
        article_of[group] = article
        titles[article] = title.replace("_", " ")
        kept = [s for i, s in enumerate(sentences) if i not in cut.get(group, set())]
        texts.setdefault(article, []).append(" ".join(kept))
    articles: list[dict[str, object]] = [
        {"id": a, "title": titles[a], "text": "\n\n".join(t)} for a, t in texts.items()
    ]
    questions: list[dict[str, object]] = []
    for r in records:
        removed = cut.get(r.group, set())
        if r.qid in holes:
            questions.append({"id": r.qid, "question": r.question, "answers": []})
        elif not removed & r.answers:
            questions.append(
                {
                    "id": r.qid,
                    "question": r.question,
                    "article_id": article_of[r.group],
                    "sentences": [r.sentences[i] for i in sorted(r.answers)],
                }
            )
    questions.extend(
        {"id": q.qid, "question": q.question, "answers": [], "absent": True} for q in outside
    )
    return articles, questions


def outside_questions(
    questions: list[Question],
    held_out: list[Question],
    trained: set[str],
    *,
    count: int,
    seed: int,
) -> list[Question]:
    """`count` answerable questions about articles none of `held_out` comes from, and that no
    training stage drew (`trained`): asked of the held-out collection, their topic is missing."""
    titles = {tuple(q.group.split(":")[:2]) for q in held_out}
    pool = [
        q
        for q in questions
        if q.answers and q.qid not in trained and tuple(q.group.split(":")[:2]) not in titles
    ]
    return random.Random(seed).sample(pool, min(count, len(pool)))


@dataclass(frozen=True, slots=True)
class Rows:
    """The shortlists of every question, stacked: one row per shortlisted sentence."""

    features: np.ndarray  # (rows, len(FEATURES))
    right: np.ndarray  # 1 where the row is the answer sentence of the right article
    question: np.ndarray  # the row's question number
    rank: np.ndarray  # its place in its shortlist, by hand-weighted score
    hole: np.ndarray  # per question: its answer sentence was cut out
    fold: np.ndarray  # per question: its paragraph's fold of the cross-fitting (`FOLDS`)
    absent: np.ndarray  # per question: its article is not in the collection

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **{f.name: getattr(self, f.name) for f in fields(self)})

    @classmethod
    def load(cls, path: Path) -> Rows:
        with np.load(path) as data:
            missing = [f.name for f in fields(cls) if f.name not in data.files]
            if missing:
                raise ValueError(
                    f"{path} lacks {', '.join(missing)}: an older calibration saved it; "
                    "run again without --reuse"
                )
            return cls(**{f.name: data[f.name] for f in fields(cls)})

    def first(self, read: int) -> Rows:
        """The rows as if only the `read` best-scored sentences had been read."""
        keep = self.rank < read
        features = self.features[keep].copy()
        question = self.question[keep]
        logit = features[:, FEATURES.index("reader_logit")]
        best = np.full(len(self.hole), -np.inf)
        np.maximum.at(best, question, logit)
        features[:, FEATURES.index("reader_margin")] = logit - best[question]
        return Rows(
            features,
            self.right[keep],
            question,
            self.rank[keep],
            self.hole,
            self.fold,
            self.absent,
        )


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _is_answer(sentence: str, answers: list[str]) -> bool:
    sentence = sentence.strip()
    return any(
        a.strip() in sentence or (sentence in a and len(sentence) > len(a.strip()) / 2)
        for a in answers
    )


def read_rows(
    data: Path,
    reader_dir: Path,
    *,
    seed: int,
    share: float,
    hole_share: float,
    absent_count: int,
    read: int,
    sources: tuple[str, ...] = CALIBRATION_FILES,
    trained_scales: tuple[float, ...] = TRAINED_SCALES,
) -> Rows:
    """Every held-out question of the `sources` files, and `absent_count` questions about
    articles outside the collection, through the real path, their shortlists read (see the
    docstring)."""
    everything = read_all(data, seed)
    trained: set[str] = set()
    for scale in trained_scales:
        trained |= drawn(everything, {n: round(c * scale) for n, c in CAPS.items()}, seed)
    mine = [q for q in everything if q.group.split(":")[0] in sources]
    held_out = [q for q in mine if is_validation(q, share)]
    outside = outside_questions(mine, held_out, trained, count=absent_count, seed=seed)
    articles, questions = collection(held_out, outside, hole_share=hole_share, seed=seed)
    group_of = {q.qid: q.group for q in held_out + outside}
    # One thread: calibration runs beside other jobs, where two spinning threads lose time.
    reader = load_reader(reader_dir, combined=False, threads=1)
    settings = AnswerSettings(read=read)
    rows: list[np.ndarray] = []
    right: list[np.ndarray] = []
    owner: list[np.ndarray] = []
    rank: list[np.ndarray] = []
    holes: list[bool] = []
    absent: list[bool] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "articles"
        folder.mkdir()
        with open(folder / "articles.jsonl", "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(a, ensure_ascii=False) + "\n" for a in articles)
        engine = Engine(Path(tmp) / "index", folder, load_encoder("all-MiniLM-L6-v2"))
        engine.reindex()
        with engine.version() as version:
            for number, q in enumerate(tqdm(questions, desc="calibration", mininterval=10)):
                text = clean_question(str(q["question"]))
                found = find_candidates(version, engine.encoder, text, "hybrid", settings)
                found = found or Found([], {}, Candidates([], {}), {})
                shortlist = read_shortlist(
                    version, reader, text, found.candidates, found.scores, found.ranked, read
                )
                answers = _strings(q.get("sentences"))
                rows.append(shortlist.features)
                right.append(
                    np.asarray(
                        [
                            f.article_id == q.get("article_id") and _is_answer(f.text, answers)
                            for f in shortlist.candidates
                        ],
                        dtype=bool,
                    )
                )
                owner.append(np.full(len(shortlist.candidates), number))
                rank.append(np.arange(len(shortlist.candidates)))
                holes.append("article_id" not in q and not q.get("absent"))
                absent.append(bool(q.get("absent")))
        engine.close()
    folds = [_fold(group_of[str(q["id"])]) for q in questions]
    return Rows(
        features=np.concatenate(rows),
        right=np.concatenate(right),
        question=np.concatenate(owner),
        rank=np.concatenate(rank),
        hole=np.asarray(holes),
        fold=np.asarray(folds),
        absent=np.asarray(absent),
    )


def _fold(group: str) -> int:
    """The paragraph's fold: a hash, so a paragraph's questions share it on every run."""
    digest = hashlib.sha256(f"combiner:{group}".encode()).digest()
    return digest[0] % FOLDS
