"""What the command line prints: reports, verifications and answers as a person reads them in
a terminal, and answers as JSON."""

from __future__ import annotations

import unicodedata
from dataclasses import asdict

from retrieval import Answer, ReindexReport, Source, Verification

# Bidirectional embeddings, overrides and isolates: they reorder what follows them as shown.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def shown(text: str, *, lines: bool = False) -> str:
    """`text` safe to print on one line (or on several, with `lines`): control characters (an
    escape code, a newline in a file name) and bidirectional overrides are written as escapes
    ("\\x1b", "\\n", "\\u202e") rather than acted on by the terminal."""
    return "".join(
        ascii(ch)[1:-1]
        if (unicodedata.category(ch) == "Cc" and not (lines and ch == "\n")) or ch in _BIDI
        else ch
        for ch in text
    )


def _where(source: Source) -> str:
    return shown(source.url or source.path)


def format_report(report: ReindexReport) -> str:
    s = report.stats
    lines = [
        f"Indexed {s.articles} articles, {s.passages} passages ({s.model}).",
        f"  added {len(report.added)}, changed {len(report.changed)}, removed "
        f"{len(report.removed)}, unchanged {report.unchanged}; "
        f"{report.embedded_passages} new passage vectors",
    ]
    if report.full_rebuild:
        lines.append(f"  {report.full_rebuild}")
    if report.rewritten:
        lines.append(f"  {report.rewritten}")
    if report.skipped:
        lines.append(f"  skipped {len(report.skipped)}:")
        lines += [f"    {shown(k.path)}: {shown(k.reason)}" for k in report.skipped]
    return "\n".join(lines)


def format_verification(verification: Verification) -> str:
    """What `citebot verify` found, file by file, and what to do about it."""
    v = verification
    lines = [f"  {f.describe()}" for f in v.files]
    if v.ok:
        return "\n".join(
            [f"Version {v.version} is intact: every file matches its checksum.", *lines]
        )
    repair = (
        "Run `citebot index --rewrite` to write those files anew: the vectors match their "
        "checksums and are reused, so nothing is embedded again."
        if v.reusable
        else "Run `citebot index --full` to rebuild it from the articles."
    )
    return "\n".join(
        [
            f"Version {v.version} is damaged:",
            *lines,
            f"{repair} The damaged version is served until the new one is ready.",
        ]
    )


def format_answer(answer: Answer) -> str:
    """The answer as a person reads it in a terminal."""
    lines: list[str] = []
    if answer.citation is None:
        lines.append("Not in the articles: nothing indexed answers that question.")
        if answer.further:
            lines.append("Nearest articles:")
            lines += [f"  - {shown(s.title)} ({_where(s)})" for s in answer.further]
        return "\n".join(lines)
    c = answer.citation
    lines.append(f"“{shown(c.snippet, lines=True)}”")
    lines.append(f"  — {shown(c.source.title)}")
    lines.append(f"    {_where(c.source)}")
    if c.source.published:
        lines.append(f"    published {shown(c.source.published)}")
    if c.resolved_date:
        lines.append(f"    (the time mentioned is {c.resolved_date})")
    if answer.further:
        lines.append("Other sources:")
        lines += [f"  - {shown(s.title)} ({_where(s)})" for s in answer.further]
    return "\n".join(lines)


def answer_json(answer: Answer) -> dict[str, object]:
    return {
        "question": answer.question,
        "abstained": answer.abstained,
        "citation": asdict(answer.citation) if answer.citation else None,
        "further": [asdict(s) for s in answer.further],
    }


def format_sources(sources: list[Source]) -> str:
    """The indexed articles, one title and location each, then how many."""
    lines: list[str] = []
    for s in sources:
        date = f" ({shown(s.published)})" if s.published else ""
        lines.append(f"{shown(s.title)}{date}\n    {_where(s)}")
    lines.append(f"{len(sources)} articles")
    return "\n".join(lines)
