"""The rows of a version being built: its sentences and passages, their texts, and where each
row's vector comes from.

Ids are positions in these lists. An article whose text is unchanged keeps the spans of the
served version and points at its old rows, so its vectors are copied rather than embedded again;
a new or changed article is split anew and its rows are marked for embedding, unless a served
row was made from the same text (`reuse_by_text`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from retrieval.build.pooling import embedding_text
from retrieval.index.store import PassageRow, SentenceRow
from retrieval.index.version import IndexVersion
from retrieval.ingest.chunking import make_passages, split_sentences
from retrieval.types import Article

# A row's source when it has no vector to reuse: it is embedded.
EMBED = -1

# A passage's sentences, as offsets into the passage.
Spans = tuple[tuple[int, int], ...]


def _passage_key(
    title: str, passage: str, start: int, sentences: Sequence[SentenceRow]
) -> tuple[str, Spans]:
    """What a passage's vector is made from, under either recipe: its text with its title as
    embedded, and its sentences."""
    spans = tuple((s.start - start, s.end - start) for s in sentences)
    return embedding_text(title, passage), spans


@dataclass
class Rows:
    """Rows and texts of the version being built; ids are positions in these lists."""

    passages: list[PassageRow] = field(default_factory=list)
    sentences: list[SentenceRow] = field(default_factory=list)
    passage_texts: list[str] = field(default_factory=list)
    sentence_texts: list[str] = field(default_factory=list)
    # Where each row's vector comes from: a row of the old version, or EMBED to embed anew.
    passage_source: list[int] = field(default_factory=list)
    sentence_source: list[int] = field(default_factory=list)

    def add(self, article: Article, old: IndexVersion | None) -> None:
        """Append `article`'s rows: reused from `old` (which must hold this very text), or,
        without `old`, split anew and marked for embedding."""
        text = article.text
        base_s = len(self.sentences)
        if old is not None:
            old_sentences = old.store.sentences_of_article(article.id)
            old_passages = old.store.passages_of_article(article.id)
            spans = [(s.start, s.end) for s in old_sentences]
            s_sources = [s.id for s in old_sentences]
            old_base = old_sentences[0].id if old_sentences else 0
            windows = [
                (p.start, p.end, p.first_sentence - old_base, p.last_sentence - old_base, p.id)
                for p in old_passages
            ]
        else:
            # The title the text starts with, if any, is never a sentence to quote.
            story = article.body_start
            spans = [(story + a, story + b) for a, b in split_sentences(text[story:])]
            s_sources = [EMBED] * len(spans)
            index_of = {span: i for i, span in enumerate(spans)}
            windows = [
                (
                    p.start,
                    p.end,
                    index_of[p.sentences[0]],
                    index_of[p.sentences[-1]],
                    EMBED,
                )
                for p in make_passages(article.id, text, spans)
            ]
        for ordinal, ((start, end), source) in enumerate(zip(spans, s_sources, strict=True)):
            self.sentences.append(SentenceRow(len(self.sentences), article.id, ordinal, start, end))
            self.sentence_texts.append(text[start:end])
            self.sentence_source.append(source)
        for start, end, first, last, source in windows:
            self.passages.append(
                PassageRow(
                    len(self.passages), article.id, start, end, base_s + first, base_s + last
                )
            )
            self.passage_texts.append(text[start:end])
            self.passage_source.append(source)

    def reuse_by_text(
        self, old: IndexVersion, old_ids: Sequence[str], titles: dict[str, str]
    ) -> None:
        """Point each row still to embed at a row of `old` that was embedded from the very same
        text, among the rows of `old`'s articles `old_ids` (those whose id is gone or whose text
        changed): a renamed file, or a JSON Lines record moved to another line, keeps its
        vectors. A passage's vector also depends on its title (`embedding_text`) and on how it
        splits into sentences (pooled), so both are part of what must match; `titles` gives
        each new article's."""
        sentences: dict[str, int] = {}
        passages: dict[tuple[str, Spans], int] = {}
        for article in old.store.articles(old_ids):
            text = article.text
            rows = {s.id: s for s in old.store.sentences_of_article(article.id)}
            for row in rows.values():
                sentences.setdefault(text[row.start : row.end], row.id)
            for p in old.store.passages_of_article(article.id):
                inner = [rows[i] for i in range(p.first_sentence, p.last_sentence + 1)]
                key = _passage_key(article.title, text[p.start : p.end], p.start, inner)
                passages.setdefault(key, p.id)
        for i, source in enumerate(self.sentence_source):
            if source == EMBED:
                self.sentence_source[i] = sentences.get(self.sentence_texts[i], EMBED)
        for i, source in enumerate(self.passage_source):
            if source == EMBED:
                p = self.passages[i]
                inner = self.sentences[p.first_sentence : p.last_sentence + 1]
                key = _passage_key(titles[p.article_id], self.passage_texts[i], p.start, inner)
                self.passage_source[i] = passages.get(key, EMBED)

    def renew_passage_vectors(self) -> None:
        """Reuse no passage vector: they are all made again (sentence vectors are kept)."""
        self.passage_source = [EMBED] * len(self.passages)

    def to_embed(self) -> int:
        """How many rows (passages and sentences) have no vector to reuse."""
        return self.passage_source.count(EMBED) + self.sentence_source.count(EMBED)
