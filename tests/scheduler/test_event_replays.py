"""Platform events acted on once across replicas: a late retry of a reaction never undoes what came after it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import select

from bot.commands import CommandContext, ReactionVote
from bot.core import EVENT_MEMORY, Paperboy
from bot.domain import ChannelRef, Vote, Workspace
from bot.ports import Store
from bot.replies import ErrorReply, Notice, VoteReply
from storage.search.index import TantivyIndex, open_index
from storage.sql import SqlStore, open_store
from storage.sql.tables import event_keys
from tests.clock import FixedClock
from tests.scheduler.conftest import synthetic_papers

CHANNEL = ChannelRef("slack", "T1", "C1")
WORKSPACE = Workspace("slack", "T1")
MESSAGE = "1700000000.000200"
PAPER = "2611.00001"
ADA = CommandContext(channel=CHANNEL, user="U1")


@dataclass
class Replicas:
    """Two replicas of the core, each on its own connection pool to the one database, and a shared clock."""

    one: Paperboy
    two: Paperboy
    clock: FixedClock

    async def votes(self) -> int:
        return (await self.one.store.vote_counts([PAPER], WORKSPACE)).get(PAPER, 0)


@pytest.fixture
async def replicas(store: SqlStore, database_url: str, tmp_path: Path) -> AsyncIterator[Replicas]:
    clock = FixedClock(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    other_store = await open_store(database_url)
    indexes: list[TantivyIndex] = []
    try:
        cores = []
        for number, replica_store in enumerate((store, other_store)):
            index = await open_index(tmp_path / f"index-{number}")
            indexes.append(index)
            cores.append(Paperboy(replica_store, index, clock))
        await cores[0].ingest(synthetic_papers(clock.now().date(), 2))
        await store.remember_message(CHANNEL, MESSAGE, PAPER)
        yield Replicas(cores[0], cores[1], clock)
    finally:
        for index in indexes:
            await index.close()
        await other_store.close()


def reaction(cast: bool, event_id: str) -> ReactionVote:
    return ReactionVote(MESSAGE, cast, event_key=event_id)


async def test_a_late_retry_of_an_add_on_another_replica_does_not_bring_the_vote_back(
    replicas: Replicas,
) -> None:
    await replicas.one.execute(ADA, reaction(True, "Ev1"))
    assert await replicas.votes() == 1
    await replicas.one.execute(ADA, reaction(False, "Ev2"))
    assert await replicas.votes() == 0

    replicas.clock.advance(minutes=5)  # Slack's last retry comes about five minutes later
    late = await replicas.two.execute(ADA, reaction(True, "Ev1"))

    assert isinstance(late, Notice) and "already" in late.text
    assert await replicas.votes() == 0


async def test_the_same_event_on_two_replicas_at_once_is_acted_on_once(replicas: Replicas) -> None:
    answers = await asyncio.gather(
        replicas.one.execute(ADA, reaction(True, "Ev1")), replicas.two.execute(ADA, reaction(True, "Ev1"))
    )
    assert sorted(type(a).__name__ for a in answers) == ["Notice", "VoteReply"]
    assert await replicas.votes() == 1


async def test_every_new_event_is_acted_on_and_a_reaction_without_a_key_as_before(replicas: Replicas) -> None:
    for number, cast_vote in enumerate([True, False, True]):
        answer = await replicas.two.execute(ADA, reaction(cast_vote, f"Ev{number}"))
        assert isinstance(answer, VoteReply) and answer.changed
    assert await replicas.votes() == 1
    await replicas.one.execute(ADA, ReactionVote(MESSAGE, False))
    await replicas.one.execute(ADA, ReactionVote(MESSAGE, False))
    assert await replicas.votes() == 0


async def test_a_key_is_remembered_for_the_retry_window_then_forgotten(replicas: Replicas) -> None:
    await replicas.one.execute(ADA, reaction(True, "Ev1"))
    await replicas.one.execute(ADA, reaction(False, "Ev2"))
    replicas.clock.advance(EVENT_MEMORY)
    replicas.clock.advance(seconds=1)
    # Long after any retry: the keys are gone from the table, and an event with such a key would be acted on.
    await replicas.two.execute(ADA, reaction(True, "Ev1"))
    assert await replicas.votes() == 1
    async with cast(SqlStore, replicas.two.store).engine.connect() as conn:
        assert list((await conn.execute(select(event_keys.c.key))).scalars()) == ["slack:Ev1"]


class FailingOnce:
    """The store as a replica sees it when its first vote write fails (a dropped connection)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.failures = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def cast_vote(self, vote: Vote) -> bool:
        """Fail once, then write."""
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the database went away")
        return await self._store.cast_vote(vote)


async def test_an_event_whose_handling_failed_is_acted_on_when_retried(replicas: Replicas) -> None:
    flaky = Paperboy(cast(Store, FailingOnce(replicas.one.store)), replicas.one.index, replicas.clock)
    assert isinstance(await flaky.execute(ADA, reaction(True, "Ev1")), ErrorReply)
    assert await replicas.votes() == 0

    retried = await replicas.two.execute(ADA, reaction(True, "Ev1"))
    assert isinstance(retried, VoteReply) and retried.changed
    assert await replicas.votes() == 1
