"""The reader's latency benchmark reports the issue's figure: the ratio of p50s, with the reader
to without, from the medians of the runs."""

from __future__ import annotations

from benchmarks.reader_latency import table


def _run(p50: float, p95: float) -> dict[str, float]:
    return {"p50_ms": p50, "p95_ms": p95, "passages": 100_034}


def test_the_table_gives_each_configurations_median_and_its_ratio_to_the_first() -> None:
    runs = {
        "without the reader": [_run(10.0, 20.0), _run(12.0, 22.0), _run(11.0, 21.0)],
        "with the reader": [_run(33.0, 66.0), _run(40.0, 70.0), _run(30.0, 60.0)],
    }
    lines = table(runs, "a test CPU (AVX2)").splitlines()
    assert lines[0] == "CPU: a test CPU (AVX2); 100,034 passages; medians of 3 runs"
    assert "| without the reader | 11.0 | 21.0 | 10.0 / 12.0 / 11.0 | 1.00× |" in lines
    # The ratio of the medians, 33 to 11: not of the means (34.3 to 11) nor of any one run.
    assert "| with the reader | 33.0 | 66.0 | 33.0 / 40.0 / 30.0 | 3.00× |" in lines
