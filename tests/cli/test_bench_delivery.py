"""`paperboy bench delivery` end to end on a few channels and people: every digest arrives once, a person's in
their direct messages, and the report says so with the numbers (which it prints, and this test does not judge)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from adapters.bench.delivery import OPEN_BURST, bench_delivery


async def test_the_benchmark_delivers_channels_and_people_once_and_reports_the_dms(tmp_path: Path) -> None:
    result = await bench_delivery(3, 2, people=4, workdir=tmp_path / "bench")
    report = result.report()
    print(report)

    assert result.problems == [] and "lost or doubled: none" in report
    assert (result.channels, result.people, result.messages_expected) == (3, 4, 7 * 3)
    assert result.messages_posted == result.messages_expected
    # Each person's digest went to their own direct messages, opened once each, within the fake's limits.
    assert (result.dm_conversations, result.opens, result.open_rate_limited) == (4, 4, 0)
    assert result.opens <= OPEN_BURST and result.rate_limited == 0
    assert "direct messages: 4 DMs received digests; conversations.open: 4 calls" in report
    assert "in one DM: " in report and "in one DM: n/a" not in report


async def test_a_next_day_run_delivers_again_on_the_store_an_earlier_run_left(tmp_path: Path) -> None:
    workdir = tmp_path / "bench"
    first = await bench_delivery(1, 2, people=2, workdir=workdir)

    again = await bench_delivery(1, 2, people=2, workdir=workdir, next_day=True)
    report = again.report()
    print(report)

    assert first.day is not None and again.day == first.day + timedelta(days=1)
    assert again.problems == [] and again.messages_posted == again.messages_expected == 3 * 3
    assert again.dm_conversations == 2
    # The first run stored each person's conversation: this new process opens none.
    assert (first.opens, again.opens) == (2, 0)
    assert "conversations.open: 0 calls" in report
    assert "(the next day, on the store an earlier run left)" in report

    with pytest.raises(
        ValueError, match=r"the same --channels and --people; this one has 3 targets, not 4\.$"
    ):
        await bench_delivery(1, 2, people=3, workdir=workdir, next_day=True)
    with pytest.raises(ValueError, match=r"needs the store of an earlier run in .*; run once without it\.$"):
        await bench_delivery(1, 2, people=2, workdir=tmp_path / "nothing", next_day=True)
