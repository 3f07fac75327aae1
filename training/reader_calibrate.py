"""Fit the reader's combiner and choose its threshold on held-out training data, never on
the evaluation sets.

    python -m training.reader_calibrate --data ../shared/train

The paragraphs that training held out (`training.reader_train`: the same split, by paragraph,
with every question of those paragraphs, not only the ones drawn for training) of the
`CALIBRATION_FILES` become a collection of articles, and a share of their answerable questions
become holes: their answer sentence is cut out of the article, as `xquad_en_holes` does.
Questions about articles that are not in the collection at all, which no training stage drew,
are asked of it too: the topic, not only the fact, is missing, as for a question about something
the collection never covered. Every question goes through the real path (index, search,
shortlist, reader), and each shortlisted sentence becomes one row of `combine.FEATURES`,
labelled 1 when it is the answer sentence of the right article.

The combiner (a logistic regression) is cross-fitted: the questions are split in `FOLDS` folds
by paragraph, and each fold is scored by a combiner fitted on the others. Those scores give the
curve of false abstentions against abstentions on holes (and on the questions whose article is
not in the collection), the threshold (the highest whose false abstention rate stays at or
under `--false-abstain`), `sure`, and the figures of the model card; the combiner that ships is
fitted on every question. Writes `READER/combiner.json`, and the rows to
`build/reader/calibration.npz` so that `--reuse` fits again without reading.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from tqdm import tqdm

from retrieval import Engine
from retrieval.answer.candidates import Candidates
from retrieval.answer.choose import AnswerSettings, Found, find_candidates
from retrieval.answer.combine import COMBINER_FILE, FEATURES, Combiner
from retrieval.answer.reader import READER_DIR, load_reader
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
from training.reader_train import CAPS, SEED, VALIDATION_SHARE

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


def fit(rows: Rows, use: np.ndarray | None = None) -> tuple[tuple[float, ...], float]:
    """Logistic regression on the rows of the questions in `use` (all of them by default);
    weights for the raw features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    mask = np.ones(len(rows.question), dtype=bool) if use is None else use[rows.question]
    x, y = rows.features[mask], rows.right[mask]
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(x), y)
    # Fold the scaling into the weights, so serving needs only a dot product.
    weights = model.coef_[0] / scaler.scale_
    bias = float(model.intercept_[0] - np.sum(model.coef_[0] * scaler.mean_ / scaler.scale_))
    return tuple(float(w) for w in weights), bias


# Scores each row of some rows (a combiner, or one per fold for the questions it never saw).
Scorer = Callable[[Rows], np.ndarray]


def scored_by(combiner: Combiner) -> Scorer:
    return lambda rows: combiner.probabilities(rows.features)


def out_of_fold(rows: Rows) -> Scorer:
    """Cross-fitting: each fold's questions scored by a combiner fitted on the other folds, so
    that every question checks a combiner that never saw it."""
    combiners = []
    for fold in range(FOLDS):
        weights, bias = fit(rows, rows.fold != fold)
        combiners.append(Combiner(FEATURES, weights, bias, threshold=0.0))

    def score(some: Rows) -> np.ndarray:
        out = np.zeros(len(some.question))
        row_fold = some.fold[some.question]
        for fold, combiner in enumerate(combiners):
            mine = row_fold == fold
            out[mine] = combiner.probabilities(some.features[mine])
        return out

    return score


@dataclass(frozen=True, slots=True)
class Decisions:
    """Per checking question: the likelihood of the sentence chosen, and whether it is right."""

    likelihood: np.ndarray
    right: np.ndarray
    hole: np.ndarray
    absent: np.ndarray

    def at(self, threshold: float) -> tuple[float, float, float]:
        """false_abstain_rate and snippet_hit@1 over answerable questions, abstain_recall over
        holes."""
        answered = self.likelihood >= threshold
        answerable = ~(self.hole | self.absent)
        return (
            float(np.mean(~answered[answerable])),
            float(np.mean((answered & self.right)[answerable])),
            float(np.mean(~answered[self.hole])) if self.hole.any() else float("nan"),
        )

    def absent_recall(self, threshold: float) -> float:
        """abstain_recall over the questions whose article is not in the collection."""
        if not self.absent.any():
            return float("nan")
        return float(np.mean(self.likelihood[self.absent] < threshold))


def decide(rows: Rows, likelihood: np.ndarray, questions: np.ndarray) -> Decisions:
    """What citebot would cite for each of `questions`, the highest likelihood of its shortlist."""
    best_value = np.full(len(rows.hole), -np.inf)
    np.maximum.at(best_value, rows.question, likelihood)
    chosen = np.full(len(rows.hole), False)
    for row in np.flatnonzero(likelihood == best_value[rows.question]):
        chosen[rows.question[row]] |= bool(rows.right[row])
    best_value[np.isinf(best_value)] = 0.0
    return Decisions(
        best_value[questions], chosen[questions], rows.hole[questions], rows.absent[questions]
    )


def decide_stopping(
    rows: Rows, score: Scorer, sure: float, questions: np.ndarray
) -> tuple[Decisions, float]:
    """What citebot would cite for each of `questions` when the first sentence is read alone
    and, when the combiner gives it `sure` or more, the rest go unread (`read_shortlist`); and
    the share of them that stopped early. `rows` hold the whole shortlists."""
    whole = decide(rows, score(rows), questions)
    alone_rows = rows.first(1)
    alone = decide(alone_rows, score(alone_rows), questions)
    stopped = alone.likelihood >= sure
    decisions = Decisions(
        np.where(stopped, alone.likelihood, whole.likelihood),
        np.where(stopped, alone.right, whole.right),
        whole.hole,
        whole.absent,
    )
    return decisions, float(stopped.mean())


def choose_sure(
    rows: Rows, score: Scorer, threshold: float, questions: np.ndarray, tolerance: float
) -> float | None:
    """The lowest probability (in steps of 0.05) at which stopping early loses at most
    `tolerance` of snippet_hit@1 on `questions`, and adds at most as much to the false
    abstention rate at `threshold`, against reading everything; None when even 0.95 costs
    more."""
    false_abstain, hit, _ = decide(rows, score(rows), questions).at(threshold)
    chosen = None
    for sure in np.round(np.arange(0.95, 0.04, -0.05), 2):
        decisions, _ = decide_stopping(rows, score, float(sure), questions)
        far, got, _ = decisions.at(threshold)
        if got < hit - tolerance or far > false_abstain + tolerance:
            break
        chosen = float(sure)
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/train"))
    parser.add_argument("--reader", type=Path, default=READER_DIR)
    parser.add_argument("--rows", type=Path, default=Path("build/reader/calibration.npz"))
    parser.add_argument("--reuse", action="store_true", help="fit again on the saved rows")
    parser.add_argument("--read", type=int, default=AnswerSettings().read)
    parser.add_argument("--false-abstain", type=float, default=0.06)
    parser.add_argument(
        "--stop-tolerance",
        type=float,
        default=0.01,
        help="snippet_hit@1 that stopping after a sure first sentence may cost",
    )
    parser.add_argument("--hole-share", type=float, default=0.15)
    parser.add_argument(
        "--absent",
        type=int,
        default=300,
        help="questions about articles outside the collection, asked of it",
    )
    parser.add_argument(
        "--trained-scales",
        default=",".join(str(s) for s in TRAINED_SCALES),
        help="the --caps-scale of each training stage: their questions are never asked here",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--sources",
        default=",".join(CALIBRATION_FILES),
        help="the training files whose held-out questions calibrate (comma-separated)",
    )
    parser.add_argument("--validation-share", type=float, default=VALIDATION_SHARE)
    args = parser.parse_args(argv)
    if args.reuse:
        rows = Rows.load(args.rows)
    else:
        rows = read_rows(
            args.data,
            args.reader,
            seed=args.seed,
            share=args.validation_share,
            hole_share=args.hole_share,
            absent_count=args.absent,
            sources=tuple(args.sources.split(",")),
            trained_scales=tuple(float(s) for s in args.trained_scales.split(",")),
            read=max(args.read, AnswerSettings().read),
        )
        rows.save(args.rows)
    rows = rows.first(args.read)
    checking = np.arange(len(rows.hole))  # every question, each by a combiner that never saw it
    score = out_of_fold(rows)
    combined = decide(rows, score(rows), checking)
    reader = decide(rows, rows.features[:, FEATURES.index("reader_logit")], checking)
    heuristic = decide(rows, -rows.rank.astype(np.float64), checking)
    answerable = ~(combined.hole | combined.absent)
    print(
        f"{len(rows.hole)} questions ({int(rows.hole.sum())} holes, {int(rows.absent.sum())} "
        f"absent), cross-fitted in {FOLDS} folds; "
        f"reading {args.read}: right sentence first on answerable questions: "
        f"combined {combined.right[answerable].mean():.4f}, reader "
        f"{reader.right[answerable].mean():.4f}, "
        f"hand-weighted {heuristic.right[answerable].mean():.4f}"
    )
    print("threshold  false_abstain  snippet_hit@1  abstain_recall  absent_recall")
    chosen = 0.0
    for threshold in np.round(np.arange(0.01, 0.96, 0.01), 2):
        false_abstain, hit, recall = combined.at(float(threshold))
        if round(threshold * 100) % 5 == 0:
            print(
                f"{threshold:9.2f}  {false_abstain:13.4f}  {hit:13.4f}  {recall:14.4f}  "
                f"{combined.absent_recall(float(threshold)):13.4f}"
            )
        if false_abstain <= args.false_abstain:
            chosen = float(threshold)
    false_abstain, hit, recall = combined.at(chosen)
    print(
        f"chosen: {chosen:.2f} (the highest with false_abstain <= {args.false_abstain}): "
        f"false_abstain {false_abstain:.4f}, snippet_hit@1 {hit:.4f}, abstain_recall {recall:.4f}, "
        f"absent_recall {combined.absent_recall(chosen):.4f}"
    )
    sure = None
    if args.read > 1:
        sure = choose_sure(rows, score, chosen, checking, args.stop_tolerance)
    print("sure  stopped  false_abstain  snippet_hit@1  abstain_recall")
    for value in (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2):
        decisions, share = decide_stopping(rows, score, value, checking)
        false_abstain, hit, recall = decisions.at(chosen)
        print(f"{value:4.2f}  {share:7.3f}  {false_abstain:13.4f}  {hit:13.4f}  {recall:14.4f}")
    if sure is None:
        print("sure: none (stopping early would cost more than the tolerance)")
    else:
        decisions, share = decide_stopping(rows, score, sure, checking)
        false_abstain, hit, recall = decisions.at(chosen)
        print(
            f"sure: {sure:.2f} (the lowest within {args.stop_tolerance} of reading all): "
            f"{share:.3f} of questions stop after one sentence; false_abstain "
            f"{false_abstain:.4f}, snippet_hit@1 {hit:.4f}, abstain_recall {recall:.4f}"
        )
    # What ships is fitted on every question; the figures above are of the folds' combiners.
    weights, bias = fit(rows)
    shipped = Combiner(FEATURES, weights, bias, threshold=chosen, sure=sure)
    (args.reader / COMBINER_FILE).write_text(shipped.to_json(), encoding="utf-8")
    print(f"wrote {args.reader / COMBINER_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
