"""`paperboy bench unfurl` runs end to end through the real Slack app on a few events and reports its numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.bench.unfurl import bench_unfurl


@pytest.mark.slow
async def test_the_benchmark_times_every_event_from_link_shared_to_chat_unfurl(tmp_path: Path) -> None:
    result = await bench_unfurl(10, 2, workdir=tmp_path / "bench")

    report = result.report()
    print(report)
    assert len(result.unfurl_ms) == len(result.ack_ms) == 10
    assert all(0 < ms < 10_000 for ms in result.unfurl_ms)
    assert "10 events one after another, 2 stored paper link(s) each (SQLite)" in report
    assert "p50" in report and "p99" in report and "target p99 <= 100 ms" in report
