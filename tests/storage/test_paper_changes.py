"""What the index's catch-up reads from SQLite and PostgreSQL: stamps in commit order, papers read back whole."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain import Paper
from storage.sql.store import SqlStore, open_store
from tests.clock import FixedClock
from tests.storage.factories import fixed_clock, full_paper, make_paper


async def _changed_after(store: SqlStore, mark: datetime | None, batch: int = 100) -> list[list[Paper]]:
    return [papers async for papers in store.papers_changed_after(mark, batch)]


def _stamp(paper: Paper) -> datetime:
    assert paper.updated_at is not None
    return paper.updated_at


async def test_papers_read_by_catch_up_are_the_papers_stored_every_field_included(store: SqlStore) -> None:
    paper = full_paper(withdrawn=True)
    await store.upsert_papers([paper, make_paper("2501.00001")])

    [read] = await _changed_after(store, None)

    assert {p.arxiv_id: p for p in read} == await store.get_papers(["2205.13147", "2501.00001"])
    assert all(p.updated_at is not None and p.updated_at.tzinfo is not None for p in read)


async def test_reads_come_oldest_stamp_first_in_batches_and_start_after_the_mark(database_url: str) -> None:
    clock = fixed_clock()
    store = await open_store(database_url, clock=clock)
    try:
        await store.upsert_papers([make_paper(f"2503.{n:05d}") for n in range(5)])
        clock.advance(minutes=5)
        await store.upsert_papers([make_paper("2503.00001", hf_upvotes=2), make_paper("2503.00009")])
        await store.upsert_papers([make_paper("2503.00003")])  # unchanged: not stamped again
        batches = await _changed_after(store, None, batch=2)
        stamps = [_stamp(p) for batch in batches for p in batch]
        first_write = batches[0][0].updated_at
        after_first = await _changed_after(store, first_write)
    finally:
        await store.close()

    assert [len(batch) for batch in batches] == [2, 2, 2]
    assert stamps == sorted(stamps)
    assert [p.arxiv_id for batch in batches for p in batch][-2:] in (
        ["2503.00001", "2503.00009"],
        ["2503.00009", "2503.00001"],
    )
    assert sorted(p.arxiv_id for batch in after_first for p in batch) == ["2503.00001", "2503.00009"]


async def test_every_write_is_stamped_after_the_newest_stored_stamp_even_when_its_clock_lags(
    database_url: str,
) -> None:
    ahead = fixed_clock()
    behind = FixedClock(ahead.now() - timedelta(hours=1))
    first = await open_store(database_url, clock=ahead)
    second = await open_store(database_url, clock=behind)
    try:
        await first.upsert_papers([make_paper("2503.00001")])
        await second.upsert_papers([make_paper("2503.00002")])
        # The same clock twice, not moved: still a later stamp.
        await second.upsert_papers([make_paper("2503.00003")])
        found = await first.get_papers(["2503.00001", "2503.00002", "2503.00003"])
    finally:
        await second.close()
        await first.close()

    stamps = [_stamp(found[arxiv_id]) for arxiv_id in ("2503.00001", "2503.00002", "2503.00003")]
    assert stamps[0] == ahead.now()
    assert stamps[0] < stamps[1] < stamps[2]
    assert stamps[2] - stamps[0] == timedelta(microseconds=2)


async def test_nothing_stamped_after_the_newest_stamp_reads_nothing(store: SqlStore) -> None:
    await store.upsert_papers([make_paper("2503.00001"), make_paper("2503.00002")])
    [read] = await _changed_after(store, None)
    newest = max(_stamp(p) for p in read)

    assert await _changed_after(store, newest) == []
