"""Digest delivery: every message posted once, channels at the same time, each platform at its own pace.

The database is the truth. A digest is one row per (channel, local date); each message it posts is a delivery
row. A worker claims whole digests (every unposted delivery of one, so that a thread is posted in order by one
worker), posts them and records each platform message id. A claim is a lease: the worker renews it while it
works, and a crashed worker's claims run out so that another worker takes them over. Before each message the
worker counts an attempt in the database; a message whose earlier attempt may have reached the platform is
looked up there first (when the publisher can) and adopted instead of posted again. docs/exactly-once.md
explains the whole design.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain import (
    DELIVERY_CLAIMED,
    DELIVERY_POSTED,
    ChannelRef,
    Delivery,
    DigestPlan,
    ScoredPaper,
    Workspace,
)
from bot.ports import Clock, NullTelemetry, Store, Telemetry
from bot.services.channels import ChannelSchedules
from bot.services.pacing import DeliveryPolicy, RateGate
from bot.services.publishing import (
    ChannelUnavailable,
    CheckingPublisher,
    DigestPublisher,
)
from bot.services.recaps import rebuild_recap_plan

log = logging.getLogger(__name__)


# Event-loop turns deliver_now waits for a background claim of the same digest to register its job.
_REGISTER_TURNS = 100


class ClaimLost(Exception):
    """Another worker took over a digest whose lease ran out; this worker leaves it alone."""


class DeliveryStopped(Exception):
    """The engine is stopping; the digest's remaining deliveries are released to other workers."""


class _UtcClock:
    """The real clock: leases are real time even when a test moves the schedule's clock."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)


@dataclass(eq=False)
class _Job:
    """One digest being delivered by this engine."""

    digest_id: int
    channel: ChannelRef
    task: asyncio.Task[Any] | None = None
    in_flight: bool = False


def _describe(error: BaseException) -> str:
    """An error in one line, for the database and the logs."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}"[:500] if text else type(error).__name__


def new_worker_id(prefix: str = "worker") -> str:
    """A worker id nobody else has."""
    return f"{prefix}:{secrets.token_hex(6)}"


class DeliveryEngine:
    """Claims digests, posts their messages in order, records each message id; many engines share one store.

    `run()` delivers whatever is claimable until stopped (the scheduler service of `paperboy run`);
    `deliver_now()` posts one digest inline (`/papers digest`), raising what went wrong; `stop()` ends both.
    """

    def __init__(
        self,
        store: Store,
        *,
        worker: str | None = None,
        policy: DeliveryPolicy | None = None,
        clock: Clock | None = None,
        telemetry: Telemetry | None = None,
        worker_alive: Callable[[str], bool] | None = None,
    ) -> None:
        self.store = store
        self.worker = worker or new_worker_id()
        self.policy = policy or DeliveryPolicy()
        self.clock: Clock = clock or _UtcClock()
        self.telemetry: Telemetry = telemetry or NullTelemetry()
        self.worker_alive = worker_alive
        self.posted = 0
        self.failed = 0
        self._schedules = ChannelSchedules(store)
        self._publishers: Mapping[str, DigestPublisher] = {}
        self._plans: dict[int, DigestPlan] = {}
        self._jobs: dict[int, _Job] = {}
        self._gates: dict[str, RateGate] = {}
        self._last_sent: dict[str, float] = {}
        self._wake: asyncio.Event | None = None
        self._limited = False
        self._stopping = False

    # ----- what the scheduler and the commands call -----

    @property
    def stopping(self) -> bool:
        """True once `stop()` was called."""
        return self._stopping

    @property
    def active(self) -> int:
        """Digests this engine is delivering right now."""
        return len(self._jobs)

    def offer(self, digest_id: int, plan: DigestPlan) -> None:
        """A digest was just created here: keep its plan (no need to rebuild it) and look for work at once."""
        if len(self._plans) < 50_000:
            self._plans[digest_id] = plan
        self.wake()

    def wake(self) -> None:
        """Look for claimable work now rather than at the next poll."""
        if self._wake is not None:
            self._wake.set()

    async def deliver_now(self, digest_id: int, plan: DigestPlan, publisher: DigestPublisher) -> int:
        """Claim one digest and post it now; return the messages posted. Errors reach the caller."""
        running = self._jobs.get(digest_id)
        if running is not None and running.task is not None and running.task is not asyncio.current_task():
            # The background loop claimed it first: wait for it rather than report nothing.
            return int(await asyncio.shield(running.task))
        if self._stopping:
            return 0
        deliveries = await self._claim([plan.channel.platform], digest_ids=[digest_id], limit=1)
        if not deliveries:
            # This worker's background loop may have claimed the digest while we asked: its claim returns and
            # registers the job within a few turns of the event loop. Wait for that job rather than answer
            # before the digest is out; a digest claimed by another replica is that replica's to post.
            for _ in range(_REGISTER_TURNS):
                running = self._jobs.get(digest_id)
                if running is not None and running.task is not None:
                    return int(await asyncio.shield(running.task))
                await asyncio.sleep(0)
            return 0
        job = _Job(digest_id, plan.channel, asyncio.current_task())
        self._jobs[digest_id] = job
        self._plans.pop(digest_id, None)
        try:
            # Someone asked for this digest explicitly: post it even in a paused channel (the error says why).
            return await self._deliver(job, deliveries, plan, publisher, honour_pause=False)
        finally:
            self._jobs.pop(digest_id, None)

    async def run(
        self,
        publishers: Mapping[str, DigestPublisher],
        *,
        until_idle: bool = False,
        producer: Coroutine[Any, Any, Any] | None = None,
    ) -> int:
        """Deliver claimable digests of the given platforms until stopped; return the messages posted.

        With `until_idle`, return once `producer` (e.g. a scheduler tick creating digests) has finished and
        nothing claimable is left: what `paperboy digest --due` does. The producer's error is raised then.
        """
        self._publishers = publishers
        self._wake = asyncio.Event()
        produced = asyncio.ensure_future(producer) if producer is not None else None
        heartbeat = asyncio.create_task(self._heartbeat(), name="delivery-heartbeat")
        started = self.posted
        try:
            await self._release_dead_workers()
            await self.resume_held_digests()
            while not self._stopping:
                self._wake.clear()
                # Read before the claim: a digest the producer commits while the claim's query runs may be
                # missing from its answer, so a producer seen done only afterwards must not end an idle run.
                producing = produced is not None and not produced.done()
                claimed = await self._claim_batch()
                if claimed and self._limited:
                    continue  # more may be waiting beyond the batch
                if until_idle and not producing and not self._jobs and claimed == 0:
                    break
                await self._idle(produced if producing else None)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            if produced is not None and not produced.done():
                produced.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await produced
        if produced is not None and produced.done() and not produced.cancelled():
            produced.result()
        return self.posted - started

    async def stop(self, grace: float = 5.0) -> int:
        """Take no more work, let messages already on their way finish (up to `grace` s), release the rest.

        Returns how many deliveries were handed back for other workers (or a later run) to post.
        """
        self._stopping = True
        self.wake()
        jobs = list(self._jobs.values())
        current = asyncio.current_task()
        for job in jobs:
            if job.task is not None and not job.in_flight and job.task is not current:
                job.task.cancel()
        tasks = [j.task for j in jobs if j.task is not None and not j.task.done() and j.task is not current]
        if tasks:
            _done, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        try:
            released = await self.store.release_claims(self.worker)
        except Exception:
            log.exception("could not release claimed deliveries; their leases will run out instead")
            return 0
        if released:
            log.info("released %d claimed deliveries for other workers", released)
        return released

    # ----- claiming -----

    async def _claim(
        self, platforms: Sequence[str], *, limit: int, digest_ids: Sequence[int] | None = None
    ) -> list[Delivery]:
        now = self.clock.now()
        return await self.store.claim_deliveries(
            self.worker,
            now,
            now + timedelta(seconds=self.policy.lease_seconds),
            platforms=platforms,
            limit=limit,
            digest_ids=digest_ids,
        )

    async def _claim_batch(self) -> int:
        """Claim what fits and start a task per digest; return how many digests were claimed."""
        free = self.policy.max_digests - len(self._jobs)
        platforms = sorted(self._publishers)
        limit = min(free, self.policy.claim_batch)
        self._limited = free <= 0
        if free <= 0 or not platforms:
            return 0
        try:
            deliveries = await self._claim(platforms, limit=limit)
        except Exception:
            log.exception("could not claim deliveries; trying again shortly")
            return 0
        count = 0
        for digest_id, group in groupby(deliveries, key=lambda d: d.digest_id):
            rows = list(group)
            if digest_id in self._jobs:
                # Our own lease ran out and we claimed it again: the job already on it carries on.
                continue
            publisher = self._publishers[rows[0].channel.platform]
            job = _Job(digest_id, rows[0].channel)
            self._jobs[digest_id] = job
            job.task = asyncio.create_task(self._background(job, rows, publisher), name=f"digest-{digest_id}")
            count += 1
        # A full batch, or a batch cut short by the digest limit, may leave claimable work behind.
        self._limited = count >= limit
        self._prune_last_sent()
        return count

    def _job_finished(self) -> None:
        """Look again when the last digest is done (an idle `--due` may end) or when room was short."""
        if not self._jobs or self._limited:
            self.wake()

    async def _idle(self, producer: asyncio.Future[Any] | None) -> None:
        """Wait for a wake-up (new work, a finished digest), the producer, or the poll interval."""
        assert self._wake is not None
        waiter = asyncio.ensure_future(self._wake.wait())
        watched: set[asyncio.Future[Any]] = {waiter}
        if producer is not None:
            watched.add(producer)
        try:
            await asyncio.wait(watched, timeout=self.policy.poll_seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()

    async def _heartbeat(self) -> None:
        """Renew this worker's leases, and now and then free the claims of local workers that died."""
        every = self.policy.heartbeat_seconds or max(0.5, self.policy.lease_seconds / 3)
        rounds = 0
        while True:
            await asyncio.sleep(every)
            rounds += 1
            try:
                if self._jobs:
                    until = self.clock.now() + timedelta(seconds=self.policy.lease_seconds)
                    await self.store.renew_claims(self.worker, until)
                if rounds % 3 == 0:
                    await self._release_dead_workers()
                    if await self.resume_held_digests():
                        self.wake()
            except Exception:
                log.exception("could not renew delivery leases")

    async def _release_dead_workers(self) -> None:
        """Hand back at once the claims of workers known to be dead; every other claim waits for its lease.

        `worker_alive` may know a worker dead only where it can truly tell (a process of this very PID
        namespace that is gone): this only ever speeds up what the leases would do anyway.
        """
        if self.worker_alive is None:
            return
        try:
            holders = await self.store.claim_holders()
            for holder in holders:
                if holder != self.worker and not self.worker_alive(holder):
                    released = await self.store.release_claims(holder)
                    log.info("worker %s is gone; released its %d claimed deliveries", holder, released)
        except Exception:
            log.exception("could not look for claims of dead workers")

    async def resume_held_digests(self) -> int:
        """Finish today's digests that were given up when their channel was paused, now that it is not.

        `/papers schedule on` (or access coming back) leaves today's thread where it stopped: its given-up
        deliveries become pending again, to be posted in the same thread, the ones that may have reached the
        platform looked for there first. Another day's digest stays as it was: it would come late and out of turn.
        Returns the deliveries made pending.
        """
        now = self.clock.now()
        day = now.astimezone(UTC).date()
        resumed = 0
        try:
            # Every zone's today is within a day of UTC's.
            for held in await self.store.held_digests(day - timedelta(days=1), day + timedelta(days=1)):
                try:
                    today = now.astimezone(ZoneInfo(held.timezone)).date()
                except (ZoneInfoNotFoundError, ValueError):
                    continue  # a zone this machine cannot load: the scheduler says so for that channel
                if held.local_date != today:
                    continue
                count = await self.store.resume_digest(held.digest_id)
                if count:
                    log.info(
                        "resuming today's digest for %s: %d message(s) left to post", held.channel, count
                    )
                    resumed += count
        except Exception:
            log.exception("could not look for given-up digests to resume; trying again later")
        return resumed

    # ----- delivering one digest -----

    async def _background(self, job: _Job, deliveries: list[Delivery], publisher: DigestPublisher) -> int:
        """A digest delivered by the loop: failures are logged (and paused), never raised."""
        try:
            return await self._deliver(job, deliveries, self._plans.pop(job.digest_id, None), publisher)
        except (ClaimLost, DeliveryStopped):
            return 0
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self.failed += 1
            log.warning("digest %s for %s not delivered: %s", job.digest_id, job.channel, _describe(error))
            return 0
        finally:
            self._jobs.pop(job.digest_id, None)
            self._job_finished()

    async def _deliver(
        self,
        job: _Job,
        deliveries: list[Delivery],
        plan: DigestPlan | None,
        publisher: DigestPublisher,
        *,
        honour_pause: bool = True,
    ) -> int:
        """Post this worker's claimed deliveries of one digest in order; return how many were posted."""
        channel = deliveries[0].channel
        settings = await self.store.get_settings(channel) if honour_pause else None
        if settings is not None and settings.paused:
            reason = settings.pause_reason or "The channel's digests are paused."
            await self.store.fail_claimed(job.digest_id, self.worker, reason)
            return 0
        plan = plan or await self._rebuild_plan(deliveries)
        items = {item.paper.arxiv_id: item for item in plan.papers}
        thread_id: str | None = None
        previous: str | None = None
        posted = 0
        for delivery in deliveries:
            if delivery.state == DELIVERY_POSTED:
                thread_id = delivery.message_id if delivery.is_parent else thread_id
                previous = delivery.message_id
                continue
            if delivery.state != DELIVERY_CLAIMED:
                continue
            item = items.get(delivery.arxiv_id or "")
            if not delivery.is_parent and (thread_id is None or item is None):
                why = "the digest's parent message was not posted" if thread_id is None else "paper not found"
                await self.store.mark_failed([delivery.id], why)
                self.telemetry.delivery_finished(channel, "skipped")
                continue
            message_id = await self._post(job, delivery, plan, publisher, item, thread_id, previous)
            if delivery.is_parent:
                thread_id = message_id
            previous = message_id
            posted += 1
        return posted

    async def _rebuild_plan(self, deliveries: list[Delivery]) -> DigestPlan:
        """The plan of a digest created elsewhere (or before a restart), from what its deliveries carry."""
        first = deliveries[0]
        recap = await self.store.digest_recap(first.digest_id)
        if recap is not None:
            # A weekly recap: its papers and the week's votes are what it was planned with.
            return await rebuild_recap_plan(self.store, first.channel, first.local_date, recap)
        ids = [d.arxiv_id for d in deliveries if d.arxiv_id is not None]
        papers = await self.store.get_papers(ids)
        votes = await self.store.vote_counts(ids, Workspace(first.channel.platform, first.channel.workspace))
        topics = await self.store.digest_topics(first.digest_id)
        items = tuple(ScoredPaper(papers[i], 0.0, votes.get(i, 0)) for i in ids if i in papers)
        return DigestPlan(first.channel, first.local_date, topics, items)

    async def _post(
        self,
        job: _Job,
        delivery: Delivery,
        plan: DigestPlan,
        publisher: DigestPublisher,
        item: ScoredPaper | None,
        thread_id: str | None,
        previous: str | None,
    ) -> str:
        """Post one message (or adopt the one an earlier attempt posted), retrying with backoff."""
        policy = self.policy
        for attempt in range(1, policy.max_attempts + 1):
            if self._stopping:
                raise DeliveryStopped
            until = self.clock.now() + timedelta(seconds=policy.lease_seconds)
            earlier = await self.store.begin_attempt(delivery.id, delivery.digest_id, self.worker, until)
            if earlier is None:
                raise ClaimLost(f"delivery {delivery.id} was taken over by another worker")
            # The pace is kept last, right before the request, so that a slow database write in between
            # cannot bunch messages up into a burst the platform would refuse.
            await self._wait_turn(delivery.channel)
            if self.clock.now() > until - timedelta(seconds=policy.lease_seconds / 2):
                # The wait ate half the lease this attempt took: make sure the claim is still ours.
                until = self.clock.now() + timedelta(seconds=policy.lease_seconds)
                if (
                    await self.store.begin_attempt(delivery.id, delivery.digest_id, self.worker, until)
                    is None
                ):
                    raise ClaimLost(f"delivery {delivery.id} was taken over by another worker")
            job.in_flight = True
            self._sending(delivery.channel)
            try:
                message_id: str | None = None
                if earlier > 0 and isinstance(publisher, CheckingPublisher):
                    # An earlier attempt may have reached the platform before the crash: adopt its message.
                    # No message of the digest is older than the digest: the look-up reads back that far.
                    since = await self.store.digest_created_at(delivery.digest_id)
                    message_id = await publisher.find_posted(
                        plan, delivery, thread_id, after=previous, since=since
                    )
                    if message_id is not None:
                        log.info("delivery %s was already posted as %s; adopted", delivery.id, message_id)
                if message_id is None:
                    if delivery.is_parent:
                        message_id = await publisher.post_parent(plan, delivery)
                    else:
                        assert item is not None and thread_id is not None
                        message_id = await publisher.post_paper(plan, delivery, item, thread_id)
                await self.store.mark_posted(delivery.id, message_id)
            except Exception as error:
                job.in_flight = False
                await self._after_failure(delivery, error, attempt)
                continue
            finally:
                job.in_flight = False
            self.posted += 1
            self.telemetry.delivery_finished(delivery.channel, "posted")
            return message_id
        raise AssertionError("unreachable: the last failed attempt raises")

    async def _after_failure(self, delivery: Delivery, error: Exception, attempt: int) -> None:
        """Give up (pausing the channel) or wait before the next attempt; re-raise when giving up."""
        policy = self.policy
        if isinstance(error, ChannelUnavailable):
            # The platform refuses the channel (gone, archived, no permission): pause it with the platform's
            # reason, so that nothing is tried again until someone acts on it.
            log.warning("pausing %s: %s", delivery.channel, error)
            await self._schedules.pause(delivery.channel, str(error))
        settings = await self.store.get_settings(delivery.channel)
        if settings is not None and settings.paused:
            # The publisher paused the channel (gone, archived, no permission): nothing passes until someone acts.
            await self.store.fail_claimed(
                delivery.digest_id, self.worker, settings.pause_reason or _describe(error)
            )
            self.telemetry.delivery_finished(delivery.channel, "failed")
            raise error
        await self.store.record_error(delivery.id, _describe(error))
        if attempt >= policy.max_attempts:
            # A person reads the reason in their own answers, and resumes with their own command.
            resume = (
                "your digest is paused until you write /papers me schedule on."
                if delivery.channel.is_person
                else "digests are paused until someone runs /papers schedule on."
            )
            reason = (
                f"Posting the digest failed {attempt} times in a row ({_describe(error)[:200]}); {resume}"
            )
            log.warning("pausing %s: %s", delivery.channel, reason)
            await self._schedules.pause(delivery.channel, reason)
            await self.store.fail_claimed(delivery.digest_id, self.worker, reason)
            self.telemetry.delivery_finished(delivery.channel, "failed")
            raise error
        delay = min(policy.max_backoff, policy.first_backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
        log.warning(
            "delivery %s to %s failed (attempt %d of %d): %s; retrying in %.1f s",
            delivery.id,
            delivery.channel,
            attempt,
            policy.max_attempts,
            _describe(error),
            delay,
        )
        await asyncio.sleep(delay)

    async def _wait_turn(self, channel: ChannelRef) -> None:
        """Space messages in one channel, then keep the platform under its global rate."""
        pace = self.policy.pace(channel.platform)
        if pace.channel_interval > 0:
            last = self._last_sent.get(str(channel))
            if last is not None:
                delay = last + pace.channel_interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
        if pace.rate:
            gate = self._gates.get(channel.platform)
            if gate is None:
                gate = self._gates[channel.platform] = RateGate(pace.rate, pace.burst)
            await gate.wait()

    def _sending(self, channel: ChannelRef) -> None:
        """Note that a message to the channel leaves now (the next one waits from here)."""
        if self.policy.pace(channel.platform).channel_interval > 0:
            self._last_sent[str(channel)] = time.monotonic()

    def _prune_last_sent(self) -> None:
        """Forget channels whose last message is long past (the spacing no longer matters)."""
        if len(self._last_sent) < 10_000:
            return
        horizon = time.monotonic() - 60.0
        for key in [k for k, at in self._last_sent.items() if at < horizon]:
            del self._last_sent[key]
