"""The Discord benchmark runs end to end on a small store (its numbers are printed, not asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.discord_commands import bench_discord


@pytest.mark.slow
async def test_the_benchmark_reports_the_time_to_the_initial_response(tmp_path: Path) -> None:
    report = await bench_discord(papers=300, interactions=30, concurrency=2, workdir=tmp_path)
    print(report)
    assert "30 /papers search interactions" in report
    assert "time to the initial response: p50" in report
    assert "answered directly: 30, deferred: 0" in report
