"""Leases in the database: one holder at a time, taken over once they run out, never by two at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from storage.sql import SqlStore, open_store

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


async def test_a_lease_has_one_holder_until_it_runs_out(store: SqlStore) -> None:
    assert await store.take_lease("refresh", "a", NOW, NOW + 30 * MINUTE)
    assert not await store.take_lease("refresh", "b", NOW + 29 * MINUTE, NOW + 59 * MINUTE)
    assert await store.take_lease("refresh", "a", NOW + 29 * MINUTE, NOW + 59 * MINUTE)  # renewed
    assert not await store.take_lease("refresh", "b", NOW + 58 * MINUTE, NOW + 88 * MINUTE)
    assert await store.take_lease("refresh", "b", NOW + 59 * MINUTE, NOW + 89 * MINUTE)  # ran out
    assert not await store.take_lease("refresh", "a", NOW + 60 * MINUTE, NOW + 90 * MINUTE)
    assert await store.take_lease("other job", "a", NOW, NOW + MINUTE)


async def test_a_released_lease_is_free_at_once_and_only_its_holder_releases_it(store: SqlStore) -> None:
    assert await store.take_lease("refresh", "a", NOW, NOW + 30 * MINUTE)
    assert not await store.release_lease("refresh", "b")
    assert await store.release_lease("refresh", "a")
    assert await store.take_lease("refresh", "b", NOW + MINUTE, NOW + 31 * MINUTE)


async def test_of_replicas_asking_at_once_exactly_one_gets_the_lease(
    store: SqlStore, database_url: str
) -> None:
    others = [await open_store(database_url) for _ in range(3)]
    try:
        for round_start in (NOW, NOW + 31 * MINUTE):  # a free lease, then one that ran out
            replicas = [store, *others] * 3
            taken = await asyncio.gather(
                *(
                    replica.take_lease("refresh", f"r{n}", round_start, round_start + 30 * MINUTE)
                    for n, replica in enumerate(replicas)
                )
            )
            assert sum(taken) == 1
    finally:
        for other in others:
            await other.close()
