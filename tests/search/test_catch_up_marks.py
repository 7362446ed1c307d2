"""Index catch-up against real stores (SQLite and PostgreSQL): nothing new costs one indexed query and no paper,
and nothing another writer commits is ever missed, whatever the order of commits and the writers' clocks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import asyncpg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

import storage.search.index as search_index
from adapters.sources.snapshot import ingest_snapshot
from bot.domain import Paper, UpsertCounts
from bot.ports import PaperRepository
from storage.search.index import open_index
from storage.sql import SqlStore, open_store
from tests.clock import FixedClock
from tests.search.conftest import ids_for
from tests.storage.factories import fixed_clock, make_paper


class CountingReads:
    """The store as catch-up sees it, counting the papers its reads return; `between` runs after each batch."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.papers_returned = 0
        self.between: Callable[[], Awaitable[None]] | None = None

    async def papers_changed_after(
        self, mark: datetime | None, batch: int
    ) -> AsyncGenerator[list[Paper], None]:
        """The store's read, counted."""
        async with _closing(self.store.papers_changed_after(mark, batch)) as batches:
            async for papers in batches:
                self.papers_returned += len(papers)
                yield papers
                if self.between is not None:
                    await self.between()

    def repository(self) -> PaperRepository:
        """This stand-in where the index takes a store (it only reads changes)."""
        return cast(PaperRepository, self)


class _closing:
    """`contextlib.aclosing` for an async generator, typed for this file."""

    def __init__(self, generator: AsyncGenerator[list[Paper], None]) -> None:
        self.generator = generator

    async def __aenter__(self) -> AsyncGenerator[list[Paper], None]:
        return self.generator

    async def __aexit__(self, *exc: object) -> None:
        await self.generator.aclose()


@contextmanager
def statements_of(store: SqlStore) -> Iterator[list[str]]:
    """The SQL queries the store's engine sends while the block runs."""
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # Transaction control (SQLite's explicit BEGIN) is not a query.
        if statement.split(None, 1)[0].upper() not in {"BEGIN", "COMMIT", "ROLLBACK"}:
            seen.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", note)


def library(first: int, count: int) -> list[Paper]:
    """`count` papers with distinct words in their titles."""
    return [make_paper(f"2501.{n:05d}", title=f"Paper about topic{n}") for n in range(first, first + count)]


async def test_a_catch_up_with_nothing_new_is_one_indexed_query_that_returns_no_paper(
    database_url: str, tmp_path: Path
) -> None:
    clock = fixed_clock()
    store = await open_store(database_url, clock=clock)
    index = await open_index(tmp_path / "index")
    reads = CountingReads(store)
    try:
        for first in range(0, 1200, 400):
            await store.upsert_papers(library(first, 400))
        assert await index.catch_up(reads.repository()) == 1200
        assert reads.papers_returned == 1200

        # The last write is as recent as it gets (the clock has not moved): still nothing is read again.
        with statements_of(store) as statements:
            assert await index.catch_up(reads.repository()) == 0
        assert reads.papers_returned == 1200
        assert len(statements) == 1
        if database_url.startswith("sqlite"):
            plan = await _sqlite_plan(store, statements[0])
            assert "USING INDEX ix_papers_updated_at (updated_at>?)" in plan

        # After a restart too: the mark is in the index's state file.
        await index.close()
        index = await open_index(tmp_path / "index")
        assert await index.catch_up(reads.repository()) == 0
        assert reads.papers_returned == 1200
        assert await ids_for(index, "topic1199") == ["2501.01199"]
    finally:
        await index.close()
        await store.close()


async def _sqlite_plan(store: SqlStore, statement: str) -> str:
    """SQLite's plan for a statement of the store (its parameters bound to placeholders' stand-ins)."""
    async with store.engine.connect() as conn:
        count = statement.count("?")
        rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", tuple([""] * count))
        return " | ".join(str(row[-1]) for row in rows)


async def test_a_paper_another_store_writes_right_after_is_found_at_the_next_catch_up(
    database_url: str, tmp_path: Path
) -> None:
    here = fixed_clock()
    # Another replica whose clock is five minutes behind this one's.
    there = FixedClock(here.now() - timedelta(minutes=5))
    store = await open_store(database_url, clock=here)
    other = await open_store(database_url, clock=there)
    index = await open_index(tmp_path / "index")
    try:
        await store.upsert_papers(library(0, 10))
        assert await index.catch_up(store) == 10
        await other.upsert_papers(
            [make_paper("2502.00001", title="Quokka vision"), make_paper("2501.00003", title="Wombat update")]
        )
        assert await index.catch_up(store) == 2
        assert await ids_for(index, "quokka") == ["2502.00001"]
        assert await ids_for(index, "wombat") == ["2501.00003"]
        assert await ids_for(index, "topic3") == []
        stamps = [
            paper.updated_at for paper in (await store.get_papers(["2501.00000", "2502.00001"])).values()
        ]
        # The lagging clock did not stamp the later write earlier.
        assert stamps[0] is not None and stamps[1] is not None and stamps[1] > stamps[0]
    finally:
        await index.close()
        await other.close()
        await store.close()


async def test_writes_committed_while_catch_up_reads_are_found_by_the_next_one(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_index, "CATCH_UP_BATCH", 3)
    store = await open_store(database_url, clock=fixed_clock())
    other = await open_store(database_url, clock=fixed_clock())
    index = await open_index(tmp_path / "index")
    reads = CountingReads(store)
    try:
        await store.upsert_papers(library(0, 10))
        written: list[str] = []

        async def write_elsewhere() -> None:
            if written:
                return
            # After the first batch: a paper already read changes, a new one comes before and one after it.
            await other.upsert_papers(
                [
                    make_paper("2501.00001", title="Echidna revisited"),
                    make_paper("2401.00001", title="Platypus early"),
                    make_paper("2601.00001", title="Bilby late"),
                ]
            )
            written.append("done")

        reads.between = write_elsewhere
        await index.catch_up(reads.repository())
        reads.between = None
        assert written
        await index.catch_up(reads.repository())
        assert await ids_for(index, "echidna") == ["2501.00001"]
        assert await ids_for(index, "platypus") == ["2401.00001"]
        assert await ids_for(index, "bilby") == ["2601.00001"]
        assert await ids_for(index, "topic1") == []
        returned = reads.papers_returned
        assert await index.catch_up(reads.repository()) == 0
        assert reads.papers_returned == returned
    finally:
        await index.close()
        await other.close()
        await store.close()


class Stalled:
    """Holds a store's next write inside its transaction, just after it took its stamp, until released."""

    def __init__(self, store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.stamped = asyncio.Event()
        self.release = asyncio.Event()
        original = store._next_stamp

        async def stalled_stamp(conn: Any) -> tuple[datetime, datetime | None]:
            stamp = await original(conn)
            self.stamped.set()
            await self.release.wait()
            return stamp

        monkeypatch.setattr(store, "_next_stamp", stalled_stamp)


@pytest.mark.parametrize("offset_minutes", [1, -1], ids=["second-clock-ahead", "second-clock-behind"])
async def test_writes_in_flight_at_once_are_stamped_in_commit_order_and_none_is_missed(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offset_minutes: int
) -> None:
    """A first writer takes its stamp and is slow to commit; a second writer comes meanwhile.

    Were the second one to commit first with a bigger stamp, a catch-up in between would record that stamp as
    its mark and never read the slow one's paper; were the second, committing last, stamped earlier (its clock
    behind), a catch-up between the two commits would never read it. The writers' lock makes the second wait
    for the first's commit, and its stamp follows the first one's whatever its clock says.
    """
    here = fixed_clock()
    first_store = await open_store(database_url, clock=here)
    second_store = await open_store(
        database_url, clock=FixedClock(here.now() + timedelta(minutes=offset_minutes))
    )
    index = await open_index(tmp_path / "index")
    stalls: list[Stalled] = []
    try:
        await first_store.upsert_papers(library(0, 3))
        assert await index.catch_up(first_store) == 3
        first, second = Stalled(first_store, monkeypatch), Stalled(second_store, monkeypatch)
        stalls += [first, second]
        first_write = asyncio.create_task(
            first_store.upsert_papers([make_paper("2502.00001", title="Slow koala")])
        )
        await first.stamped.wait()
        second_write = asyncio.create_task(
            second_store.upsert_papers([make_paper("2502.00002", title="Later kangaroo")])
        )
        if database_url.startswith("postgres"):
            await _until_waiting_for_the_papers_lock(database_url)
            assert not second.stamped.is_set()
        # Neither write has committed: a catch-up now sees neither.
        assert await index.catch_up(first_store) == 0
        first.release.set()
        await first_write
        await second.stamped.wait()
        # The first write has committed, the second is stamped but has not: a catch-up now sees the first only.
        assert await index.catch_up(first_store) == 1
        assert await ids_for(index, "koala") == ["2502.00001"]
        second.release.set()
        await second_write
        assert await index.catch_up(first_store) == 1
        assert await ids_for(index, "kangaroo") == ["2502.00002"]
        found = await first_store.get_papers(["2502.00001", "2502.00002"])
        koala, kangaroo = found["2502.00001"].updated_at, found["2502.00002"].updated_at
        assert koala is not None and kangaroo is not None and koala < kangaroo
    finally:
        for stalled in stalls:
            stalled.release.set()
        await index.close()
        await second_store.close()
        await first_store.close()


async def _until_waiting_for_the_papers_lock(database_url: str) -> None:
    """Return once a session of the test's database waits for an advisory lock (the second writer's)."""
    url = make_url(database_url)
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database=url.database
    )
    try:
        for _ in range(2000):
            waiting = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event = 'advisory'",
                url.database,
            )
            if waiting:
                return
            await asyncio.sleep(0.005)
        raise AssertionError("the second writer never waited for the first one's lock")
    finally:
        await conn.close()


async def test_an_interrupted_catch_up_resumes_from_its_last_commit(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_index, "CATCH_UP_BATCH", 4)
    monkeypatch.setattr(search_index, "CATCH_UP_COMMIT_EVERY", 8)
    store = await open_store(database_url, clock=fixed_clock())
    index = await open_index(tmp_path / "index")
    reads = CountingReads(store)
    try:
        for first in range(0, 20, 5):
            await store.upsert_papers(library(first, 5))

        async def stop_after_twelve() -> None:
            if reads.papers_returned >= 12:
                raise asyncio.CancelledError

        reads.between = stop_after_twelve
        with pytest.raises(asyncio.CancelledError):
            await index.catch_up(reads.repository())
        await index.close()

        # The commit after eight papers recorded a mark at the end of the first write (five papers).
        index = await open_index(tmp_path / "index")
        reads.between = None
        reads.papers_returned = 0
        assert await index.catch_up(reads.repository()) == 20 - 8
        assert reads.papers_returned == 15
        assert len(await ids_for(index, "paper", limit=50)) == 20
    finally:
        await index.close()
        await store.close()


def _snapshot(path: Path, first: int, count: int, title: str = "Snapshot paper about topic{n}") -> Path:
    """A snapshot file of `count` papers from 2501.{first}, with distinct words in their titles."""
    lines = [
        json.dumps({"id": f"2501.{n:05d}", "title": title.format(n=n), "abstract": "An abstract."})
        for n in range(first, first + count)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_a_catch_up_after_a_snapshot_ingest_reads_no_paper_the_ingest_indexed(
    database_url: str, tmp_path: Path
) -> None:
    store = await open_store(database_url, clock=fixed_clock())
    index = await open_index(tmp_path / "index")
    reads = CountingReads(store)
    try:
        await store.upsert_papers(library(1000, 5))
        assert await index.catch_up(reads.repository()) == 5
        reads.papers_returned = 0

        await ingest_snapshot(
            _snapshot(tmp_path / "a.jsonl", 0, 7), store, index, batch_size=3, progress=False
        )
        await index.close()
        # The next start (the ingest ran in another process): the recorded mark covers every write of it.
        index = await open_index(tmp_path / "index")
        with statements_of(store) as statements:
            assert await index.catch_up(reads.repository()) == 0
        assert reads.papers_returned == 0 and len(statements) == 1
        assert await ids_for(index, "topic6") == ["2501.00006"]
        assert await ids_for(index, "topic1004") == ["2501.01004"]
    finally:
        await index.close()
        await store.close()


async def test_a_write_by_another_process_during_a_snapshot_ingest_is_found_by_the_next_catch_up(
    database_url: str, tmp_path: Path
) -> None:
    store = await open_store(database_url, clock=fixed_clock())
    other = await open_store(database_url, clock=fixed_clock())
    index = await open_index(tmp_path / "index")
    reads = CountingReads(store)

    class WriterBetweenBatches:
        """The store as the ingest sees it; another process writes a paper right after its first batch."""

        def __init__(self) -> None:
            self.batches = 0

        async def upsert_papers(self, papers: Sequence[Paper]) -> UpsertCounts:
            counts = await store.upsert_papers(papers)
            self.batches += 1
            if self.batches == 1:
                await other.upsert_papers([make_paper("2502.00001", title="Quokka vision")])
            return counts

    try:
        ingested = cast(PaperRepository, WriterBetweenBatches())
        await ingest_snapshot(
            _snapshot(tmp_path / "a.jsonl", 0, 6), ingested, index, batch_size=3, progress=False
        )
        assert await ids_for(index, "quokka") == []
        # The mark stops at the first batch: the quokka and the second batch are read again, and found.
        assert await index.catch_up(reads.repository()) == 1
        assert reads.papers_returned == 4
        assert await ids_for(index, "quokka") == ["2502.00001"]
        assert await ids_for(index, "topic5") == ["2501.00005"]
    finally:
        await index.close()
        await other.close()
        await store.close()


async def test_a_snapshot_ingest_indexes_papers_as_the_store_merged_them(
    database_url: str, tmp_path: Path
) -> None:
    store = await open_store(database_url, clock=fixed_clock())
    index = await open_index(tmp_path / "index")
    reads = CountingReads(store)
    try:
        # What Hugging Face said of two papers; the snapshot knows neither their organization nor their day.
        featured = [
            make_paper(
                f"2501.0000{n}", title=f"Old title {n}", organization="Google", featured_on=date(2025, 1, 3)
            )
            for n in (1, 2)
        ]
        await store.upsert_papers(featured)
        assert await index.catch_up(reads.repository()) == 2
        reads.papers_returned = 0

        snapshot = _snapshot(tmp_path / "a.jsonl", 1, 2, title="Snapshot title {n}")
        counts = await ingest_snapshot(snapshot, store, index, progress=False)
        again = await ingest_snapshot(snapshot, store, index, progress=False)

        assert (counts.updated, again.unchanged) == (2, 2)
        assert await ids_for(index, "org:Google snapshot") == ["2501.00002", "2501.00001"]
        assert await ids_for(index, "since:2025-01-03 snapshot") == ["2501.00002", "2501.00001"]
        assert await ids_for(index, "old") == []
        assert await index.catch_up(reads.repository()) == 0 and reads.papers_returned == 0
    finally:
        await index.close()
        await store.close()


async def test_a_rebuild_that_another_write_meets_indexes_each_paper_once(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_index, "CATCH_UP_BATCH", 4)
    monkeypatch.setattr(search_index, "CATCH_UP_COMMIT_EVERY", 4)
    store = await open_store(database_url, clock=fixed_clock())
    index = await open_index(tmp_path / "index")
    reads = CountingReads(store)
    try:
        await store.upsert_papers(library(0, 12))
        late = (await store.get_papers(["2501.00010"]))["2501.00010"]

        async def index_a_later_paper_meanwhile() -> None:
            # As `paperboy run` does when an ingest comes in while its new index is being rebuilt.
            if reads.papers_returned == 4:
                await index.add_papers([late])

        reads.between = index_a_later_paper_meanwhile
        assert await index.catch_up(reads.repository()) == 11
        assert await ids_for(index, "topic10") == ["2501.00010"]
        assert len(await ids_for(index, "paper", limit=50)) == 12
    finally:
        await index.close()
        await store.close()
