"""Choose the reader's abstention threshold on held-out training data, never on eval sets.

    python -m training.reader_calibrate --data ../shared/train

The paragraphs that training held out (`training.reader_train`: the same split, by paragraph,
with every question of those paragraphs, not only the ones drawn for training) become a
collection of articles, and a share of their answerable questions become holes: their answer
sentence is cut out of the article, as `xquad_en_holes` does. Every question then goes through
the real path (index, search, shortlist, reader) at threshold 0, and the curve of false
abstentions against abstentions on holes gives the threshold: the highest whose false abstention
rate stays at or under `--false-abstain`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

from retrieval import AnswerSettings, Engine
from retrieval.answer.reader import READER_DIR, load_reader
from retrieval.encode.load import load_encoder
from retrieval.types import Answer
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


def _cites(answer: Answer, question: dict[str, object]) -> bool:
    """Whether the answer quotes the question's answer sentence from its article."""
    c = answer.citation
    return (
        c is not None
        and c.source.article_id == question["article_id"]
        and any(s in c.snippet for s in _strings(question["sentences"]))
    )


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/train"))
    parser.add_argument("--reader", type=Path, default=READER_DIR)
    parser.add_argument("--false-abstain", type=float, default=0.05)
    parser.add_argument("--hole-share", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--validation-share", type=float, default=VALIDATION_SHARE)
    args = parser.parse_args(argv)
    held_out = [
        q for q in read_all(args.data, args.seed) if is_validation(q, args.validation_share)
    ]
    articles, questions = collection(held_out, hole_share=args.hole_share, seed=args.seed)
    reader = load_reader(args.reader)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "articles"
        folder.mkdir()
        with open(folder / "articles.jsonl", "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(a, ensure_ascii=False) + "\n" for a in articles)
        engine = Engine(
            Path(tmp) / "index",
            folder,
            load_encoder("all-MiniLM-L6-v2"),
            reader=reader,
            settings=AnswerSettings(threshold=0.0),
        )
        engine.reindex()
        answered, holed = [], []
        for q in questions:
            answer = engine.ask(str(q["question"]))
            score = answer.citation.score if answer.citation else 0.0
            if "article_id" not in q:
                holed.append(score)
            else:
                answered.append((score, _cites(answer, q)))
        # The same questions without the reader, for comparison.
        engine.reader = None
        unread = [_cites(engine.ask(str(q["question"])), q) for q in questions if "article_id" in q]
        engine.close()
    scores = np.asarray([s for s, _ in answered])
    right = np.asarray([r for _, r in answered])
    holes = np.asarray(holed)
    print(
        f"{len(articles)} articles, {len(answered)} answerable questions (right sentence first: "
        f"{right.mean():.4f}; without the reader: {np.mean(unread):.4f}), {len(holes)} holes"
    )
    print("threshold  false_abstain  right_and_answered  abstain_recall")
    chosen = 0.0
    for threshold in np.round(np.arange(0.05, 0.96, 0.05), 2):
        false_abstain = float(np.mean(scores < threshold))
        hit = float(np.mean(right & (scores >= threshold)))
        recall = float(np.mean(holes < threshold))
        print(f"{threshold:9.2f}  {false_abstain:13.4f}  {hit:18.4f}  {recall:14.4f}")
        if false_abstain <= args.false_abstain:
            chosen = float(threshold)
    print(f"chosen: {chosen:.2f} (the highest with false_abstain <= {args.false_abstain})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
