"""Keyword search: citebot's hand-written BM25 postings against bm25s, a maintained library.

    .venv/bin/pip install -e ".[bench]"
    .venv/bin/python -m benchmarks.keyword_libs [--copies 1 10 50] [--questions 300]

On the benchmark corpora (the evaluation articles, then grown by copies as in corpus.py), for
each size: the build time of each keyword index, p50 and p95 of a question's top 10, and how
many of citebot's top 10 passages bm25s also ranks in its top 10 (overlap@10). citebot's scores
are FTS5's bm25() to the last bit (index/bm25.py), so the overlap says how far a switch would
move the rankings. bm25s has no field weights: a passage is indexed as its title twice, then
its body (citebot counts a title hit twice), with Porter stemming and citebot's stopwords, as
FTS5's `porter unicode61` tokenizer and `terms.keyword_terms` do.

Copies repeat their original's words exactly (corpus.py), so from the second size on many
passages tie; the overlap there measures tie order as much as ranking, and the first size is
the one to read it from.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.corpus import EVAL_DIR, copies, eval_questions, eval_records
from retrieval.build.rows import Rows
from retrieval.index.store import Store
from retrieval.index.terms import _STOPWORDS, keyword_terms
from retrieval.types import Article

K = 10


def articles(copies_each: int) -> list[Article]:
    originals = eval_records(EVAL_DIR)
    return [
        Article(id=r.id, title=r.title, text=r.text, path=r.id, url=r.url, published=r.published)
        for r in copies(originals, len(originals) * copies_each)
    ]


def build_ours(folder: Path, found: list[Article], rows: Rows) -> tuple[Store, float]:
    """The store with only what keyword search reads: articles, passages, postings."""
    started = time.perf_counter()
    store = Store.create(folder / "citebot.sqlite")
    with store.transaction():
        by_article: dict[str, list[int]] = {}
        for p in rows.passages:
            by_article.setdefault(p.article_id, []).append(p.id)
        for article in found:
            store.add_article(article)
            ids = by_article.get(article.id, [])
            store.add_passages(
                [rows.passages[i] for i in ids], article.title, [rows.passage_texts[i] for i in ids]
            )
        store.write_keyword_index()
    store.close()
    seconds = time.perf_counter() - started
    return Store.open(folder / "citebot.sqlite"), seconds


def build_bm25s(found: list[Article], rows: Rows) -> tuple[object, object, float]:
    import bm25s
    import Stemmer

    titles = {a.id: a.title for a in found}
    stemmer = Stemmer.Stemmer("porter")
    started = time.perf_counter()
    texts = [
        f"{titles[p.article_id]} {titles[p.article_id]} {text}"
        for p, text in zip(rows.passages, rows.passage_texts, strict=True)
    ]
    tokens = bm25s.tokenize(
        texts, stopwords=sorted(_STOPWORDS), stemmer=stemmer, show_progress=False
    )
    retriever = bm25s.BM25(k1=1.2, b=0.75)
    retriever.index(tokens, show_progress=False)
    return retriever, stemmer, time.perf_counter() - started


def ask_ours(store: Store, question: str) -> list[int]:
    return [i for i, _ in store.keyword_passages(question, K)]


def ask_bm25s(retriever: object, stemmer: object, question: str) -> list[int]:
    vocab = retriever.vocab_dict  # type: ignore[attr-defined]
    # Words the index never saw (its tokenizer's vocabulary may hold more) match nothing.
    indexed = len(retriever.scores["indptr"]) - 1  # type: ignore[attr-defined]
    stemmed = stemmer.stemWords(keyword_terms(question))  # type: ignore[attr-defined]
    words = [w for w in stemmed if vocab.get(w, indexed) < indexed]
    if not words:
        return []
    k = min(K, retriever.scores["num_docs"])  # type: ignore[attr-defined]
    ids, scores = retriever.retrieve([words], k=k, show_progress=False)  # type: ignore[attr-defined]
    return [int(i) for i, s in zip(ids[0], scores[0], strict=True) if s > 0]


def timed(ask: object, questions: Sequence[str]) -> tuple[list[list[int]], list[float]]:
    found, ms = [], []
    for q in questions:
        started = time.perf_counter()
        found.append(ask(q))  # type: ignore[operator]
        ms.append((time.perf_counter() - started) * 1000)
    return found, ms


def p(ms: list[float], q: float) -> float:
    return statistics.quantiles(ms, n=100)[int(q) - 1] if len(ms) > 1 else ms[0]


def compare(copies_each: int, questions: Sequence[str]) -> str:
    """One row of the table: the corpus with `copies_each` copies of every article."""
    found = articles(copies_each)
    rows = Rows()
    for article in found:
        rows.add(article, None)
    folder = Path(tempfile.mkdtemp(prefix="citebot-keyword-"))
    try:
        store, ours_build = build_ours(folder, found, rows)
        gc.collect()
        retriever, stemmer, theirs_build = build_bm25s(found, rows)
        for q in questions[:20]:  # warm both: caches, the tokenizer's memory
            ask_ours(store, q)
            ask_bm25s(retriever, stemmer, q)
        ours, ours_ms = timed(lambda q: ask_ours(store, q), questions)
        theirs, theirs_ms = timed(lambda q: ask_bm25s(retriever, stemmer, q), questions)
        store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    overlaps = [len(set(a) & set(b)) / len(a) for a, b in zip(ours, theirs, strict=True) if a]
    return (
        f"| {len(rows.passages):,} | {ours_build:.1f} / {theirs_build:.1f} "
        f"| {p(ours_ms, 50):.2f} / {p(theirs_ms, 50):.2f} "
        f"| {p(ours_ms, 95):.2f} / {p(theirs_ms, 95):.2f} "
        f"| {statistics.fmean(overlaps):.3f} |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args(argv)
    questions = eval_questions(EVAL_DIR)[:: max(1, len(eval_questions(EVAL_DIR)) // args.questions)]
    questions = questions[: args.questions]
    print(
        "| passages | build s: citebot / bm25s | p50 ms: citebot / bm25s "
        "| p95 ms: citebot / bm25s | overlap@10 |"
    )
    print("|---:|---:|---:|---:|---:|")
    for n in args.copies:
        print(compare(n, questions), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
