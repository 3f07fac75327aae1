"""The Markdown table docs/performance.md shows, from the figures `benchmarks.run` gathers."""

from __future__ import annotations

import statistics
from typing import Any

BASELINE = "torch"
# The label of citebot's indexing with pooled passage vectors (retrieval/pooling.py).
POOLED = "pooled"
# The ask latency with the reader (CITEBOT_READER=on) is measured at this size only.
READER = "reader"
READER_SIZE = "100k"


def median(values: list[float]) -> float:
    return statistics.median(values)


def render(results: dict[str, Any], backend: str) -> str:
    """The Markdown table docs/performance.md shows."""
    rows: list[tuple[str, str, str, str, str]] = []

    def ratio(base: float, ours: float, higher_is_better: bool) -> str:
        if not base or not ours:
            return "-"
        value = ours / base if higher_is_better else base / ours
        return f"{value:.1f}×"

    index = results["indexing"]
    base_ps = median([r["passages_per_s"] for r in index[BASELINE]])
    ours_ps = median([r["passages_per_s"] for r in index[backend]])
    first = index[backend][0]
    rows.append(
        (
            f"indexing, passages/s ({first['passages']} passages of "
            f"~{results['passage_tokens']:.0f} tokens, files to built index)",
            f"{base_ps:.0f}",
            f"{ours_ps:.0f}",
            ratio(base_ps, ours_ps, True),
            "≥ 200",
        )
    )
    pooled_ps = median([r["passages_per_s"] for r in index[POOLED]])
    rows.append(
        (
            "  with CITEBOT_PASSAGE_VECTORS=pooled",
            "",
            f"{pooled_ps:.0f}",
            ratio(base_ps, pooled_ps, True),
            "",
        )
    )
    rows.append(
        (
            "indexing, peak memory MiB (model loaded: torch / ONNX)",
            f"{median([r['peak_mib'] for r in index[BASELINE]]):.0f}"
            f" ({index[BASELINE][0]['model_mib']:.0f})",
            f"{median([r['peak_mib'] for r in index[backend]]):.0f}"
            f" ({index[backend][0]['model_mib']:.0f})",
            "",
            "",
        )
    )
    targets = {"10k": "", "100k": "≤ 5 / ≤ 15", "1M": "p95 ≤ 25"}
    for label, by_name in results["ask"].items():
        base, ours = by_name[BASELINE], by_name[backend]
        rows.append(
            (
                f"ask p50 / p95 ms, {ours['passages']:,} passages ({ours['dense']} vs exact)",
                f"{base['p50_ms']:.1f} / {base['p95_ms']:.1f}",
                f"{ours['p50_ms']:.1f} / {ours['p95_ms']:.1f}",
                ratio(base["p50_ms"], ours["p50_ms"], False),
                targets.get(label, ""),
            )
        )
        rows.append(
            (
                f"  of which encode / dense search p50 ms, {label}",
                f"{base['encode_p50_ms']:.1f} / {base['search_p50_ms']:.2f}",
                f"{ours['encode_p50_ms']:.1f} / {ours['search_p50_ms']:.2f}",
                "",
                "",
            )
        )
        if READER in by_name:
            read = by_name[READER]
            rows.append(
                (
                    f"  with the reader (CITEBOT_READER=on): ask p50 / p95 ms, {label}; "
                    "ratio: with ÷ without",
                    "",
                    f"{read['p50_ms']:.1f} / {read['p95_ms']:.1f}",
                    f"{read['p50_ms'] / ours['p50_ms']:.1f}×",
                    "≤ 3×",
                )
            )
        rows.append(
            (
                f"  serving memory beside the model, bytes/passage, {label}",
                f"{base['bytes_per_passage']}",
                f"{ours['bytes_per_passage']}",
                "",
                "≤ 2048",
            )
        )
    recall = results["recall"]
    rows.append(
        (
            f"recall@10 vs exact, {recall['n']:,} synthetic vectors (search p50 ms)",
            f"1.0 ({recall['exact']['p50_ms']:.1f})",
            f"{recall['recall_at_10']:.3f} ({recall['ivf']['p50_ms']:.2f})",
            "",
            "≥ 0.95",
        )
    )
    startup = results["startup"]
    base_s = median(startup["runs"][BASELINE])
    ours_s = median(startup["runs"][backend])
    torch_note = ", imports torch" if startup["torch_imported"] else ", no torch"
    rows.append(
        (
            f"start-up to first answer, s ({startup['index']} index{torch_note})",
            f"{base_s:.2f}",
            f"{ours_s:.2f}",
            ratio(base_s, ours_s, False),
            "≤ 1.5",
        )
    )
    reindex = results["reindex"]
    rows.append(
        (
            f"unchanged reindex, s ({reindex[0]['articles']:,} articles, "
            f"{reindex[0]['passages']:,} passages)",
            "",
            f"{median([r['seconds'] for r in reindex]):.2f}",
            "",
            "≤ 2",
        )
    )
    rows.append(
        (
            "  its peak memory, bytes/passage",
            "",
            f"{median([r['bytes_per_passage'] for r in reindex]):.0f}",
            "",
            "≤ 2048",
        )
    )
    header = (
        "figure (medians)",
        "baseline: torch, exact",
        f"citebot: {backend}",
        "ratio",
        "target",
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
