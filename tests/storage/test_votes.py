"""Chat votes on SQLite and PostgreSQL: one per person, paper and workspace; cast and retract idempotent."""

from __future__ import annotations

import asyncio

from bot.domain import Vote, Workspace
from storage.sql.store import SqlStore

ADA = Vote("slack", "T1", "U-ada", "2501.00001")


async def test_casting_twice_counts_once(store: SqlStore) -> None:
    assert await store.cast_vote(ADA) is True
    assert await store.cast_vote(ADA) is False

    assert await store.vote_counts(["2501.00001"], Workspace("slack", "T1")) == {"2501.00001": 1}


async def test_retracting_twice_removes_once(store: SqlStore) -> None:
    await store.cast_vote(ADA)

    assert await store.retract_vote(ADA) is True
    assert await store.retract_vote(ADA) is False
    assert await store.has_vote(ADA) is False
    assert await store.vote_counts(["2501.00001"], None) == {}


async def test_has_vote_names_person_paper_and_workspace(store: SqlStore) -> None:
    await store.cast_vote(ADA)

    assert await store.has_vote(ADA) is True
    assert await store.has_vote(Vote("slack", "T1", "U-bob", "2501.00001")) is False
    assert await store.has_vote(Vote("slack", "T2", "U-ada", "2501.00001")) is False
    assert await store.has_vote(Vote("discord", "T1", "U-ada", "2501.00001")) is False


async def test_concurrent_casts_of_one_vote_record_it_once_without_errors(store: SqlStore) -> None:
    results = await asyncio.gather(*(store.cast_vote(ADA) for _ in range(8)))

    assert sorted(results) == [False] * 7 + [True]
    assert await store.vote_counts(["2501.00001"], None) == {"2501.00001": 1}


async def test_counts_are_per_workspace_or_everywhere(store: SqlStore) -> None:
    for vote in (
        Vote("slack", "T1", "U1", "2501.00001"),
        Vote("slack", "T1", "U2", "2501.00001"),
        Vote("slack", "T1", "U1", "2501.00002"),
        Vote("slack", "T2", "U1", "2501.00001"),
        Vote("discord", "T1", "U3", "2501.00001"),
        Vote("slack", "T1", "U1", "2501.00099"),
    ):
        await store.cast_vote(vote)
    asked = ["2501.00001", "2501.00002", "2501.00003"]

    assert await store.vote_counts(asked, Workspace("slack", "T1")) == {"2501.00001": 2, "2501.00002": 1}
    assert await store.vote_counts(asked, Workspace("slack", "T2")) == {"2501.00001": 1}
    assert await store.vote_counts(asked, Workspace("slack", "T3")) == {}
    assert await store.vote_counts(asked, None) == {"2501.00001": 4, "2501.00002": 1}
    assert await store.vote_counts([], None) == {}
