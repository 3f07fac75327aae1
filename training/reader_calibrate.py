"""Fit the reader's combiner and choose its threshold on held-out training data, never on
the evaluation sets.

    python -m training.reader_calibrate --data ../shared/train

The paragraphs that training held out (`training.reader_train`: the same split, by paragraph,
with every question of those paragraphs, not only the ones drawn for training) become a
collection of articles, and a share of their answerable questions become holes: their answer
sentence is cut out of the article, as `xquad_en_holes` does. Every question goes through the
real path (index, search, shortlist, reader), and each shortlisted sentence becomes one row of
`combine.FEATURES`, labelled 1 when it is the answer sentence of the right article.

The paragraphs are split again: the combiner (a logistic regression) is fitted on 70% of them,
and the other 30% give the curve of false abstentions against abstentions on holes, the
threshold (the highest whose false abstention rate stays at or under `--false-abstain`) and the
figures of the model card. Writes `READER/combiner.json`, and the rows to
`build/reader/calibration.npz` so that `--reuse` fits again without reading.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from tqdm import tqdm

from retrieval import Engine
from retrieval.answer.candidates import candidate_features, heuristic_scores
from retrieval.answer.choose import AnswerSettings
from retrieval.answer.combine import COMBINER_FILE, FEATURES, Combiner
from retrieval.answer.reader import READER_DIR, load_reader
from retrieval.answer.search import rank_passages
from retrieval.answer.shortlist import read_shortlist
from retrieval.encode.load import load_encoder
from retrieval.engine import clean_question
from training.reader_data import Question, is_validation, read_all
from training.reader_train import SEED, VALIDATION_SHARE

# SQuADShifts' Reddit and Amazon files put every post or review under one title: each paragraph
# is its own article there.
_ONE_ARTICLE_PER_PARAGRAPH = ("squadshifts_reddit.json", "squadshifts_amazon_reviews.json")


def collection(
    held_out: list[Question], *, hole_share: float, seed: int
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Articles and questions (the eval sets' shapes) from the held-out training questions."""
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
    return articles, questions


@dataclass(frozen=True, slots=True)
class Rows:
    """The shortlists of every question, stacked: one row per shortlisted sentence."""

    features: np.ndarray  # (rows, len(FEATURES))
    right: np.ndarray  # 1 where the row is the answer sentence of the right article
    question: np.ndarray  # the row's question number
    rank: np.ndarray  # its place in its shortlist, by hand-weighted score
    hole: np.ndarray  # per question: its answer sentence was cut out
    fitting: np.ndarray  # per question: in the paragraphs the combiner is fitted on

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **{f.name: getattr(self, f.name) for f in fields(self)})

    @classmethod
    def load(cls, path: Path) -> Rows:
        with np.load(path) as data:
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
        return Rows(features, self.right[keep], question, self.rank[keep], self.hole, self.fitting)


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _is_answer(sentence: str, answers: list[str]) -> bool:
    sentence = sentence.strip()
    return any(
        a.strip() in sentence or (sentence in a and len(sentence) > len(a.strip()) / 2)
        for a in answers
    )


def read_rows(
    data: Path, reader_dir: Path, *, seed: int, share: float, hole_share: float, read: int
) -> Rows:
    """Every held-out question through the real path, its shortlist read (see the docstring)."""
    held_out = [q for q in read_all(data, seed) if is_validation(q, share)]
    articles, questions = collection(held_out, hole_share=hole_share, seed=seed)
    group_of = {q.qid: q.group for q in held_out}
    # One thread: calibration runs beside other jobs, where two spinning threads lose time.
    reader = load_reader(reader_dir, combined=False, threads=1)
    settings = AnswerSettings(read=read)
    rows: list[np.ndarray] = []
    right: list[np.ndarray] = []
    owner: list[np.ndarray] = []
    rank: list[np.ndarray] = []
    holes: list[bool] = []
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
                query, ranked = rank_passages(version, text, engine.encoder, "hybrid", 50)
                passages = version.store.passages([r.passage_id for r in ranked])
                ranked = [r for r in ranked if r.passage_id in passages]
                candidates = candidate_features(
                    version, text, query, "hybrid", ranked, passages, settings.candidate_passages
                )
                scores = heuristic_scores(candidates, "hybrid")
                shortlist = read_shortlist(
                    version, reader, text, candidates, scores, ranked, settings.read
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
                holes.append("article_id" not in q)
        engine.close()
    fitting = [_fitting(group_of[str(q["id"])]) for q in questions]
    return Rows(
        features=np.concatenate(rows),
        right=np.concatenate(right),
        question=np.concatenate(owner),
        rank=np.concatenate(rank),
        hole=np.asarray(holes),
        fitting=np.asarray(fitting),
    )


def _fitting(group: str) -> bool:
    """Seven paragraphs in ten fit the combiner; the rest check it."""
    digest = hashlib.sha256(f"combiner:{group}".encode()).digest()
    return digest[0] < 0.7 * 256


def fit(rows: Rows) -> tuple[tuple[float, ...], float]:
    """Logistic regression on the fitting questions' rows; weights for the raw features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    mask = rows.fitting[rows.question]
    x, y = rows.features[mask], rows.right[mask]
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(x), y)
    # Fold the scaling into the weights, so serving needs only a dot product.
    weights = model.coef_[0] / scaler.scale_
    bias = float(model.intercept_[0] - np.sum(model.coef_[0] * scaler.mean_ / scaler.scale_))
    return tuple(float(w) for w in weights), bias


@dataclass(frozen=True, slots=True)
class Decisions:
    """Per checking question: the likelihood of the sentence chosen, and whether it is right."""

    likelihood: np.ndarray
    right: np.ndarray
    hole: np.ndarray

    def at(self, threshold: float) -> tuple[float, float, float]:
        """false_abstain_rate and snippet_hit@1 over answerable questions, abstain_recall over
        holes."""
        answered = self.likelihood >= threshold
        answerable = ~self.hole
        return (
            float(np.mean(~answered[answerable])),
            float(np.mean((answered & self.right)[answerable])),
            float(np.mean(~answered[self.hole])) if self.hole.any() else float("nan"),
        )


def decide(rows: Rows, likelihood: np.ndarray, questions: np.ndarray) -> Decisions:
    """What citebot would cite for each of `questions`, the highest likelihood of its shortlist."""
    best_value = np.full(len(rows.hole), -np.inf)
    np.maximum.at(best_value, rows.question, likelihood)
    chosen = np.full(len(rows.hole), False)
    for row in np.flatnonzero(likelihood == best_value[rows.question]):
        chosen[rows.question[row]] |= bool(rows.right[row])
    best_value[np.isinf(best_value)] = 0.0
    return Decisions(best_value[questions], chosen[questions], rows.hole[questions])


def decide_stopping(
    rows: Rows, combiner: Combiner, sure: float, questions: np.ndarray
) -> tuple[Decisions, float]:
    """What citebot would cite for each of `questions` when the first sentence is read alone
    and, at a reader's probability of `sure` or more, the rest go unread (`read_shortlist`);
    and the share of them that stopped early. `rows` hold the whole shortlists."""
    whole = decide(rows, combiner.probabilities(rows.features), questions)
    alone_rows = rows.first(1)
    alone = decide(alone_rows, combiner.probabilities(alone_rows.features), questions)
    first = np.zeros(len(rows.hole))
    first[alone_rows.question] = alone_rows.features[:, FEATURES.index("reader_logit")]
    stopped = 1.0 / (1.0 + np.exp(-first[questions])) >= sure
    decisions = Decisions(
        np.where(stopped, alone.likelihood, whole.likelihood),
        np.where(stopped, alone.right, whole.right),
        whole.hole,
    )
    return decisions, float(stopped.mean())


def choose_sure(
    rows: Rows, combiner: Combiner, questions: np.ndarray, tolerance: float
) -> float | None:
    """The lowest probability (in steps of 0.05) at which stopping early loses at most
    `tolerance` of snippet_hit@1 on `questions`, and adds at most as much to the false
    abstention rate, against reading everything; None when even 0.95 costs more."""
    false_abstain, hit, _ = decide(rows, combiner.probabilities(rows.features), questions).at(
        combiner.threshold
    )
    chosen = None
    for sure in np.round(np.arange(0.95, 0.04, -0.05), 2):
        decisions, _ = decide_stopping(rows, combiner, float(sure), questions)
        far, got, _ = decisions.at(combiner.threshold)
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
        default=0.005,
        help="snippet_hit@1 that stopping after a sure first sentence may cost",
    )
    parser.add_argument("--hole-share", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=SEED)
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
            read=max(args.read, AnswerSettings().read),
        )
        rows.save(args.rows)
    rows = rows.first(args.read)
    weights, bias = fit(rows)
    checking = np.flatnonzero(~rows.fitting)
    combiner = Combiner(FEATURES, weights, bias, threshold=0.0)
    likelihood = combiner.probabilities(rows.features)
    combined = decide(rows, likelihood, checking)
    reader = decide(rows, rows.features[:, FEATURES.index("reader_logit")], checking)
    heuristic = decide(rows, -rows.rank.astype(np.float64), checking)
    answerable = ~combined.hole
    print(
        f"{len(rows.hole)} questions ({int(rows.hole.sum())} holes), {len(checking)} checking; "
        f"reading {args.read}: right sentence first on answerable checking questions: "
        f"combined {combined.right[answerable].mean():.4f}, reader "
        f"{reader.right[answerable].mean():.4f}, "
        f"hand-weighted {heuristic.right[answerable].mean():.4f}"
    )
    print("threshold  false_abstain  snippet_hit@1  abstain_recall")
    chosen = 0.0
    for threshold in np.round(np.arange(0.01, 0.96, 0.01), 2):
        false_abstain, hit, recall = combined.at(float(threshold))
        if round(threshold * 100) % 5 == 0:
            print(f"{threshold:9.2f}  {false_abstain:13.4f}  {hit:13.4f}  {recall:14.4f}")
        if false_abstain <= args.false_abstain:
            chosen = float(threshold)
    false_abstain, hit, recall = combined.at(chosen)
    print(
        f"chosen: {chosen:.2f} (the highest with false_abstain <= {args.false_abstain}): "
        f"false_abstain {false_abstain:.4f}, snippet_hit@1 {hit:.4f}, abstain_recall {recall:.4f}"
    )
    thresholded = Combiner(FEATURES, weights, bias, threshold=chosen)
    sure = choose_sure(rows, thresholded, checking, args.stop_tolerance) if args.read > 1 else None
    print("sure  stopped  false_abstain  snippet_hit@1  abstain_recall")
    for value in (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2):
        decisions, share = decide_stopping(rows, thresholded, value, checking)
        false_abstain, hit, recall = decisions.at(chosen)
        print(f"{value:4.2f}  {share:7.3f}  {false_abstain:13.4f}  {hit:13.4f}  {recall:14.4f}")
    if sure is None:
        print("sure: none (stopping early would cost more than the tolerance)")
    else:
        decisions, share = decide_stopping(rows, thresholded, sure, checking)
        false_abstain, hit, recall = decisions.at(chosen)
        print(
            f"sure: {sure:.2f} (the lowest within {args.stop_tolerance} of reading all): "
            f"{share:.3f} of questions stop after one sentence; false_abstain "
            f"{false_abstain:.4f}, snippet_hit@1 {hit:.4f}, abstain_recall {recall:.4f}"
        )
    shipped = Combiner(FEATURES, weights, bias, threshold=chosen, sure=sure)
    (args.reader / COMBINER_FILE).write_text(shipped.to_json(), encoding="utf-8")
    print(f"wrote {args.reader / COMBINER_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
