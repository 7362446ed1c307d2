"""The delivery engine on a loopback platform: once per message, leases, take-overs, failures, pacing, stop."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest

from bot.commands import CommandContext, ReactionVote
from bot.domain import ChannelRef, Delivery, DigestPlan
from bot.ports import Store
from bot.replies import VoteReply
from bot.services.delivery import DeliveryEngine
from storage.sql import SqlStore
from tests.scheduler.conftest import LoopbackPlatform, World, paced, policy

DAY = date(2026, 3, 27)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


async def due_channels(world: World, count: int, **settings: object) -> list[ChannelRef]:
    """`count` channels due now (09:00 UTC daily, 3 papers), the clock at 09:00 on DAY."""
    world.clock.set(utc(2026, 3, 27, 9, 0))
    return [await world.channel(f"c{n:03d}", **settings) for n in range(count)]


class FreezingStore:
    """The shared store as one worker sees it: the worker freezes right after its `freeze_at_attempt`-th
    attempt was counted (and its lease renewed), until the test thaws it."""

    def __init__(self, store: SqlStore, freeze_at_attempt: int) -> None:
        self._store = store
        self._freeze_at = freeze_at_attempt
        self._attempts = 0
        self.frozen = asyncio.Event()
        self.thaw = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def begin_attempt(
        self, delivery_id: int, digest_id: int, worker: str, until: datetime
    ) -> int | None:
        """The store's begin_attempt, then the freeze when this is the chosen attempt."""
        earlier = await self._store.begin_attempt(delivery_id, digest_id, worker, until)
        self._attempts += 1
        if self._attempts == self._freeze_at:
            self.frozen.set()
            await self.thaw.wait()
        return earlier


def assert_each_once(platform: LoopbackPlatform, channels: list[ChannelRef], papers: int = 3) -> None:
    """Every channel: one parent, then `papers` papers in its thread, no delivery twice."""
    for channel in channels:
        messages = platform.in_channel(channel)
        parents = [m for m in messages if m.thread_id is None]
        assert len(parents) == 1, f"{channel}: {len(parents)} parents"
        replies = [m for m in messages if m.thread_id is not None]
        assert [m.thread_id for m in replies] == [parents[0].message_id] * papers
        assert len({m.arxiv_id for m in replies}) == papers
        assert len({m.delivery_id for m in messages}) == len(messages)


async def test_each_message_is_posted_once_and_its_id_recorded_for_votes(world: World) -> None:
    channels = await due_channels(world, 5)
    assert await world.tick() == 20
    assert_each_once(world.platform, channels)
    digest = world.platform.in_channel(channels[0])
    for posted in digest:
        assert await world.store.paper_for_message(channels[0], posted.message_id) == posted.arxiv_id
    reaction = ReactionVote(digest[1].message_id, cast=True)
    vote = await world.paperboy.execute(CommandContext(channel=channels[0], user="ada"), reaction)
    assert isinstance(vote, VoteReply) and vote.arxiv_id == digest[1].arxiv_id and vote.votes_here == 1


async def test_an_answer_lost_after_posting_is_found_and_adopted_not_posted_again(world: World) -> None:
    [channel] = await due_channels(world, 1)
    world.platform.lost_answers[str(channel)] = (
        2  # the parent and the first paper reach the platform unanswered
    )
    assert await world.tick() == 4
    assert_each_once(world.platform, [channel])
    assert world.platform.events.count(f"look {channel}") == 2
    recorded = {
        d.position: d.message_id
        for d in await world.store.deliveries_of(world.platform.posted[0].delivery_id)
    }
    assert recorded == {0: "m1", 1: "m2", 2: "m3", 3: "m4"}


async def test_a_failing_channel_is_retried_then_paused_with_the_reason_while_others_post(
    world: World,
) -> None:
    # Real backoff, long enough that the healthy channels' twelve posts fit in it on a busy machine: the
    # engine sleeps in real time between attempts, and what is tested is that it posts elsewhere meanwhile.
    world.restart(max_attempts=3, first_backoff=1.0, max_backoff=1.0)
    channels = await due_channels(world, 4)
    broken = channels[0]
    world.platform.failures[str(broken)] = 100

    await world.tick()

    assert_each_once(world.platform, channels[1:])
    assert world.platform.in_channel(broken) == []
    settings = await world.paperboy.schedules.get(broken)
    assert settings.paused
    assert "failed 3 times in a row" in (settings.pause_reason or "")
    assert "the platform is down" in (settings.pause_reason or "")
    assert await world.store.delivery_counts(broken, DAY) == {"failed": 4}
    # The healthy channels were done before the broken one even made its second attempt.
    events = world.platform.events
    last_healthy = max(i for i, e in enumerate(events) if e.startswith("post"))
    second_failure = [i for i, e in enumerate(events) if e == f"fail {broken}"][1]
    assert last_healthy < second_failure


async def test_a_channel_that_recovers_within_its_retries_gets_every_message_once(world: World) -> None:
    [channel] = await due_channels(world, 1)
    world.platform.failures[str(channel)] = 2
    assert await world.tick() == 4
    assert_each_once(world.platform, [channel])
    assert not (await world.paperboy.schedules.get(channel)).paused


async def test_a_crashed_worker_s_digest_is_taken_over_when_its_lease_runs_out(world: World) -> None:
    [channel] = await due_channels(world, 1)
    await world.scheduler.tick({"console"})
    # A worker claims the digest for 30 s, posts the parent, and dies before recording it.
    lease_end = world.clock.now() + timedelta(seconds=30)
    [parent, *_] = await world.store.claim_deliveries(
        "crashed:1:aa", world.clock.now(), lease_end, platforms=["console"], limit=10
    )
    assert await world.store.begin_attempt(parent.id, parent.digest_id, "crashed:1:aa", lease_end) == 0
    plan = await world.engine._rebuild_plan([parent])
    await world.platform.post_parent(plan, parent)

    survivor = world.new_engine()
    # While the lease holds, the digest is not another worker's to take, even a second before it ends.
    world.clock.advance(seconds=29)
    assert await survivor.run({"console": world.platform}, until_idle=True) == 0
    world.clock.advance(seconds=2)
    assert await survivor.run({"console": world.platform}, until_idle=True) == 4
    assert_each_once(world.platform, [channel])
    assert world.platform.events.count(f"look {channel}") == 1  # only the parent had been attempted


async def test_claims_of_a_dead_process_on_this_host_are_taken_over_at_once(world: World) -> None:
    [channel] = await due_channels(world, 1)
    await world.scheduler.tick({"console"})
    now = world.clock.now()
    await world.store.claim_deliveries(
        "dead:1:aa", now, now + timedelta(hours=1), platforms=["console"], limit=10
    )
    survivor = DeliveryEngine(
        world.store, policy=policy(), clock=world.clock, worker_alive=lambda worker: worker != "dead:1:aa"
    )
    assert await survivor.run({"console": world.platform}, until_idle=True) == 4
    assert_each_once(world.platform, [channel])


async def test_a_worker_that_lost_its_lease_stops_at_its_next_message(world: World) -> None:
    [channel] = await due_channels(world, 1)
    await world.scheduler.tick({"console"})
    # A worker that freezes (a stalled process, cut off from the database) right after it took its lease for
    # the first paper, so that nothing renews the lease.
    store = FreezingStore(world.store, freeze_at_attempt=2)
    frozen = DeliveryEngine(
        cast(Store, store), policy=policy(heartbeat_seconds=3600.0, poll_seconds=3600.0), clock=world.clock
    )
    old = asyncio.create_task(frozen.run({"console": world.platform}, until_idle=True))
    await store.frozen.wait()
    world.clock.advance(seconds=31)  # the 30 s lease it took has run out

    survivor = world.new_engine()
    assert await survivor.run({"console": world.platform}, until_idle=True) == 3
    store.thaw.set()
    assert await old == 1  # the old worker posted the parent, then found its claim gone
    assert_each_once(world.platform, [channel])


async def test_two_replicas_share_the_work_and_post_each_message_once(world: World) -> None:
    channels = await due_channels(world, 40)
    replicas = [world.new_engine(), world.new_engine()]
    schedulers = [
        type(world.scheduler)(world.store, world.paperboy.planner, engine, world.clock) for engine in replicas
    ]
    posted = await asyncio.gather(
        *(
            engine.run({"console": world.platform}, until_idle=True, producer=s.tick({"console"}))
            for engine, s in zip(replicas, schedulers, strict=True)
        )
    )
    assert sum(posted) == 160
    assert_each_once(world.platform, channels)


async def test_a_digest_queued_while_a_claim_is_on_its_way_is_posted_before_an_idle_run_ends(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under load the tick commits its digest while a claim's query runs: that claim answers nothing, and the
    # tick is done by the time the answer is back. `digest --due` must not end there, leaving the digest.
    channels = await due_channels(world, 1)
    claim = world.store.claim_deliveries
    claim_ran, queued = asyncio.Event(), asyncio.Event()

    async def claim_answered_late(*args: Any, **kwargs: Any) -> list[Delivery]:
        found = await claim(*args, **kwargs)
        if not claim_ran.is_set():
            claim_ran.set()
            await queued.wait()
        return found

    async def produce() -> None:
        await claim_ran.wait()
        await world.scheduler.tick({"console"})
        queued.set()

    monkeypatch.setattr(world.store, "claim_deliveries", claim_answered_late)
    assert await world.engine.run({"console": world.platform}, until_idle=True, producer=produce()) == 4
    assert_each_once(world.platform, channels)


async def test_stopping_releases_what_was_not_posted_and_a_later_run_finishes_it_once(world: World) -> None:
    world.restart(paces=paced(0.2).paces)
    channels = await due_channels(world, 3)
    posts = asyncio.Event()
    world.platform.on_post = lambda message: posts.set() if len(world.platform.posted) >= 3 else None
    running = asyncio.create_task(world.tick())
    await posts.wait()
    released = await world.engine.stop(grace=2)
    await running
    assert released > 0
    states: dict[str, int] = {}
    for channel in channels:
        for state, count in (await world.store.delivery_counts(channel, DAY)).items():
            states[state] = states.get(state, 0) + count
    assert set(states) <= {"posted", "pending"}
    assert states["pending"] == released

    world.restart()
    await world.tick()
    assert_each_once(world.platform, channels)


async def test_stop_lets_a_message_already_on_its_way_finish_and_records_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    [channel] = await due_channels(world, 1)
    on_its_way = asyncio.Event()
    answer = asyncio.Event()
    original = world.platform.post_parent

    async def slow_parent(plan: DigestPlan, delivery: Delivery) -> str:
        on_its_way.set()
        await answer.wait()
        return await original(plan, delivery)

    monkeypatch.setattr(world.platform, "post_parent", slow_parent)
    running = asyncio.create_task(world.tick())
    await on_its_way.wait()
    stopping = asyncio.create_task(world.engine.stop(grace=5))
    # One turn of the event loop (a yield, not a wait): stop() runs up to waiting for the message on its way.
    await asyncio.sleep(0)
    assert world.engine.stopping
    answer.set()
    released = await stopping
    await running
    assert released == 3
    assert await world.store.delivery_counts(channel, DAY) == {"posted": 1, "pending": 3}


async def test_messages_in_one_channel_are_spaced_by_the_channel_interval(world: World) -> None:
    world.restart(paces=paced(0.15).paces)
    channels = await due_channels(world, 3)
    await world.tick()
    assert_each_once(world.platform, channels)
    for channel in channels:
        times = [m.at for m in world.platform.in_channel(channel)]
        assert all(b - a >= 0.15 - 0.005 for a, b in itertools.pairwise(times))


async def test_the_digest_command_and_the_background_loop_never_post_one_digest_twice(world: World) -> None:
    channels = await due_channels(world, 6)
    background = asyncio.create_task(world.engine.run({"console": world.platform}))
    replies = await asyncio.gather(*(world.paperboy.post_digest(c) for c in channels))
    assert all(r.posted for r in replies)
    await world.engine.stop()
    await background
    assert_each_once(world.platform, channels)
