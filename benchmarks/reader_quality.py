"""Answer quality with and without the reader, side by side, and the reader's threshold curve.

    python -m benchmarks.reader_quality [--sets DIR] [--plot docs/threshold.png]

One run: each dev set is indexed once, then every question goes through `Engine.ask` (the path
of `citebot eval` and of the bot) in each configuration: hybrid with the reader, hybrid without
it (CITEBOT_READER=off), and with `--plain-modes` dense and bm25. The metrics are `citebot
eval`'s. The reader runs once, at threshold 0: the threshold does not change which sentence
it picks, so its row at the default threshold, and each set's curve (false abstentions,
abstentions on unanswerable questions, right answers, against the threshold), are read off
those scores. (An answer below the threshold keeps the article order of the threshold-0 run,
where the article it would have cited comes first; so article_recall may differ slightly from
`citebot eval`'s.)
Prints markdown tables; `--plot` draws the curve of `--curve-set` as a PNG. With `--signals
FILE` the first configuration reads nothing: the combiner in FILE, fitted without the reader's
features (`training.reader_calibrate` writes build/reader/signals.json), weighs the search's
signals alone, to show what the reader adds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.quality import KEYS
from retrieval import AnswerSettings, Engine, InvalidQuestion
from retrieval.answer.choose import READER_THRESHOLD
from retrieval.answer.combine import Combiner, load_combiner
from retrieval.answer.evaluation import Outcome, metrics, read_questions
from retrieval.answer.reader import Reader, load_reader
from retrieval.encode.encoder import Encoder
from retrieval.encode.load import load_encoder
from retrieval.types import Answer, Mode

CONFIGS: tuple[tuple[str, Mode, bool], ...] = (
    ("hybrid + reader", "hybrid", True),
    ("hybrid, no reader", "hybrid", False),
    ("dense", "dense", False),
    ("bm25", "bm25", False),
)
THRESHOLDS = np.round(np.arange(0.0, 0.96, 0.05), 2)


def _ask(engine: Engine, text: str, mode: Mode) -> tuple[Answer, float]:
    started = time.perf_counter()
    try:
        answer = engine.ask(text, mode=mode)
    except InvalidQuestion:
        answer = Answer(text, None, ())
    return answer, (time.perf_counter() - started) * 1000


class SignalsOnly:
    """No reading: a combiner fitted without the reader's features (`reader_calibrate` writes
    one) weighs the search's signals alone, to show what the reader adds."""

    def __init__(self, combiner_file: Path):
        self.combiner: Combiner | None = load_combiner(combiner_file)

    def score(self, question: str, documents: Sequence[str]) -> np.ndarray:
        return np.full(len(documents), 0.5)  # log-odds 0: the features it was fitted without


def default_threshold(reader: Reader) -> float:
    """The threshold citebot uses with this reader when CITEBOT_THRESHOLD is not set."""
    return READER_THRESHOLD if reader.combiner is None else reader.combiner.threshold


def run_set(
    folder: Path, encoder: Encoder, reader: Reader, configs: int
) -> tuple[dict[str, dict[str, float | int | None]], list[tuple[bool, bool, float]]]:
    """Metrics per configuration, and (answerable, right, reader score) per question at 0."""
    questions = read_questions(folder / "questions.jsonl")
    results: dict[str, dict[str, float | int | None]] = {}
    with tempfile.TemporaryDirectory(prefix="citebot-quality-") as tmp:
        articles = Path(tmp) / "articles"
        articles.mkdir()
        shutil.copy(folder / "articles.jsonl", articles / "articles.jsonl")
        engine = Engine(Path(tmp) / "index", articles, encoder)
        engine.reindex()
        engine.reader = reader
        engine.settings = AnswerSettings(threshold=0.0)
        read = [Outcome(q, *_ask(engine, q.question, "hybrid")) for q in questions]
        results[CONFIGS[0][0]] = metrics(_at(o, default_threshold(reader)) for o in read)
        engine.settings = AnswerSettings()
        for label, mode, with_reader in CONFIGS[1:configs]:
            engine.reader = reader if with_reader else None
            outcomes = [Outcome(q, *_ask(engine, q.question, mode)) for q in questions]
            results[label] = metrics(outcomes)
        engine.close()
    scored = [
        (
            o.question.answerable,
            o.snippet_hit,
            o.answer.citation.score if o.answer.citation else 0.0,
        )
        for o in read
    ]
    return results, scored


def _at(outcome: Outcome, threshold: float) -> Outcome:
    """The outcome had the reader abstained below `threshold`."""
    c = outcome.answer.citation
    if c is None or c.score >= threshold:
        return outcome
    a = outcome.answer
    further = (c.source, *a.further)[: len(a.further)]
    return Outcome(outcome.question, replace(a, citation=None, further=further), outcome.ms)


def curve(scored: list[tuple[bool, bool, float]]) -> list[tuple[float, ...]]:
    """(threshold, snippet_hit@1, false_abstain_rate, abstain_recall) per threshold."""
    answerable = [(hit, s) for a, hit, s in scored if a]
    unanswerable = [s for a, _, s in scored if not a]
    rows = []
    for t in THRESHOLDS:
        hit = np.mean([h and s >= t for h, s in answerable]) if answerable else np.nan
        false = np.mean([s < t for _, s in answerable]) if answerable else np.nan
        recall = np.mean([s < t for s in unanswerable]) if unanswerable else np.nan
        rows.append((float(t), float(hit), float(false), float(recall)))
    return rows


def _cell(value: float | int | None) -> str:
    return "-" if value is None else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "eval"
    )
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--curve-set", default="xquad_en_holes")
    parser.add_argument("--scores", type=Path, default=None, help="write the scores as JSON")
    parser.add_argument(
        "--plain-modes", action="store_true", help="also the dense and bm25 rows (quality.md)"
    )
    parser.add_argument("--threads", type=int, default=None, help="the reader's threads")
    parser.add_argument(
        "--signals",
        type=Path,
        default=None,
        help="instead of the reader, this combiner of the search's signals alone (the "
        "calibration's build/reader/signals.json)",
    )
    args = parser.parse_args(argv)
    encoder = load_encoder("all-MiniLM-L6-v2")
    reader: Reader = (
        SignalsOnly(args.signals) if args.signals else load_reader(threads=args.threads)
    )
    folders = sorted(p for p in args.sets.iterdir() if (p / "questions.jsonl").is_file())
    header = "| set | answering | questions | " + " | ".join(KEYS) + " |"
    scorer = "the signals' combiner" if args.signals else "reader"
    print(f"Threshold {default_threshold(reader)} (the {scorer}'s default).\n")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    curves: dict[str, list[tuple[float, ...]]] = {}
    all_scores: dict[str, list[tuple[bool, bool, float]]] = {}
    for folder in folders:
        results, scored = run_set(folder, encoder, reader, len(CONFIGS) if args.plain_modes else 2)
        all_scores[folder.name] = scored
        curves[folder.name] = curve(scored)
        for label, r in results.items():
            if args.signals and label == CONFIGS[0][0]:
                label = "hybrid, the signals' combiner (no reader)"
            cells = " | ".join(_cell(r[k]) for k in KEYS)
            print(f"| {folder.name} | {label} | {r['questions']} | {cells} |")
        sys.stdout.flush()
    for name, rows in curves.items():
        print(f"\nThreshold curve, {name} ({scorer}, hybrid):\n")
        print("| threshold | snippet_hit@1 | false_abstain_rate | abstain_recall |")
        print("|---|---|---|---|")
        for t, hit, false, recall in rows:
            cells = " | ".join("-" if np.isnan(v) else f"{v:.4f}" for v in (hit, false, recall))
            print(f"| {t:.2f} | {cells} |")
    if args.scores:
        args.scores.write_text(json.dumps(all_scores), encoding="utf-8")
    if args.plot and args.curve_set in curves:
        _plot(curves[args.curve_set], args.curve_set, args.plot, default_threshold(reader))
    return 0


def _plot(rows: list[tuple[float, ...]], name: str, path: Path, default: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t, hit, false, recall = (np.asarray(c) for c in zip(*rows, strict=True))
    figure, axis = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    axis.plot(t, recall, label="abstain_recall (holes)", marker="o", markersize=3)
    axis.plot(t, false, label="false_abstain_rate", marker="o", markersize=3)
    axis.plot(t, hit, label="snippet_hit@1", marker="o", markersize=3)
    axis.axvline(default, color="grey", linestyle="--", linewidth=1)
    axis.set_xlabel("CITEBOT_THRESHOLD (the combined probability that the sentence answers)")
    axis.set_ylim(0, 1)
    axis.set_title(f"{name}: the reader's threshold")
    axis.grid(alpha=0.3)
    axis.legend(loc="center left")
    figure.tight_layout()
    figure.savefig(path)


if __name__ == "__main__":
    sys.exit(main())
