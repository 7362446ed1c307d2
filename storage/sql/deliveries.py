"""The delivery queue in the SQL store: claims, leases and attempts, shared by every worker of every replica."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, exists, false, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain import (
    DELIVERY_CLAIMED,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_POSTED,
    ChannelRef,
    Delivery,
)
from bot.ports import HeldDigest
from storage.sql.base import StorePart, affected
from storage.sql.digests import delivery_from_row
from storage.sql.tables import channel_settings, deliveries, digests, papers
from storage.sql.transactions import transaction


def _claimable(now: datetime) -> Any:
    """Deliveries a worker may claim: pending ones, and claimed ones whose lease ran out."""
    return (deliveries.c.state == DELIVERY_PENDING) | (
        (deliveries.c.state == DELIVERY_CLAIMED)
        & (deliveries.c.claimed_until.is_(None) | (deliveries.c.claimed_until < now))
    )


def _resumable() -> Any:
    """Failed deliveries that may be posted again: their channel is not paused and their paper is stored.

    A paper no longer stored could never be posted (the engine would give it up again at once), so it stays
    given up; the parent carries no paper.
    """
    # Aliases: a query around this one may read channel_settings itself, and must not be correlated with it.
    settings, paper = channel_settings.alias(), papers.alias()
    channel_runs = exists().where(
        settings.c.platform == deliveries.c.platform,
        settings.c.workspace == deliveries.c.workspace,
        settings.c.channel == deliveries.c.channel,
        settings.c.paused == false(),
    )
    paper_stored = deliveries.c.arxiv_id.is_(None) | exists().where(paper.c.arxiv_id == deliveries.c.arxiv_id)
    return and_(deliveries.c.state == DELIVERY_FAILED, channel_runs, paper_stored)


class DeliveryRows(StorePart):
    """The deliveries table as a queue: the store's `DeliveryQueue` (its bulk reads live in `DigestRows`)."""

    async def claim_deliveries(
        self,
        worker: str,
        now: datetime,
        until: datetime,
        *,
        platforms: Collection[str],
        limit: int,
        digest_ids: Collection[int] | None = None,
    ) -> list[Delivery]:
        """Claim up to `limit` digests with work left for `worker`; return every delivery of those digests.

        PostgreSQL locks the digest rows with FOR UPDATE SKIP LOCKED, so replicas claiming at the same moment
        each get different digests and never wait for one another; SQLite has one writer at a time anyway.
        """
        waiting = select(deliveries.c.digest_id).where(
            _claimable(now), deliveries.c.platform.in_(list(platforms))
        )
        if digest_ids is not None:
            waiting = waiting.where(deliveries.c.digest_id.in_(list(digest_ids)))
        candidates = select(digests.c.id).where(digests.c.id.in_(waiting)).order_by(digests.c.id).limit(limit)
        if self.engine.dialect.name == "postgresql":
            candidates = candidates.with_for_update(of=digests, skip_locked=True)
        async with transaction(self.engine, write=True) as conn:
            locked = list((await conn.execute(candidates)).scalars())
            if not locked:
                return []
            # The claim re-checks each row: a digest locked just after another worker's claim committed has
            # nothing claimable left, and must not be handed out twice.
            claim = (
                update(deliveries)
                .where(deliveries.c.digest_id.in_(locked), _claimable(now))
                .values(state=DELIVERY_CLAIMED, claimed_by=worker, claimed_until=until)
                .returning(deliveries.c.digest_id)
            )
            mine = sorted(set((await conn.execute(claim)).scalars()))
            if not mine:
                return []
            statement = (
                select(deliveries, digests.c.local_date)
                .join(digests, digests.c.id == deliveries.c.digest_id)
                .where(deliveries.c.digest_id.in_(mine))
                .order_by(deliveries.c.digest_id, deliveries.c.position)
            )
            rows = (await conn.execute(statement)).all()
        return [delivery_from_row(row) for row in rows]

    async def begin_attempt(
        self, delivery_id: int, digest_id: int, worker: str, until: datetime
    ) -> int | None:
        """Count an attempt at one delivery and renew the digest's lease, in one statement.

        Returns the attempts made before this one, or None when `worker` no longer holds the claim.
        """
        statement = (
            update(deliveries)
            .where(
                deliveries.c.digest_id == digest_id,
                deliveries.c.claimed_by == worker,
                deliveries.c.state == DELIVERY_CLAIMED,
            )
            .values(
                claimed_until=until,
                attempts=deliveries.c.attempts + case((deliveries.c.id == delivery_id, 1), else_=0),
            )
            .returning(deliveries.c.id, deliveries.c.attempts)
        )

        async def write(conn: AsyncConnection) -> int | None:
            for row in (await conn.execute(statement)).all():
                if row.id == delivery_id:
                    return int(row.attempts) - 1
            return None

        return await self._write(write)

    async def renew_claims(self, worker: str, until: datetime) -> int:
        """Extend every lease `worker` holds to `until`."""
        statement = (
            update(deliveries)
            .where(deliveries.c.state == DELIVERY_CLAIMED, deliveries.c.claimed_by == worker)
            .values(claimed_until=until)
        )
        async with transaction(self.engine, write=True) as conn:
            return affected(await conn.execute(statement))

    async def release_claims(self, worker: str) -> int:
        """Hand back what `worker` claimed but did not post; the attempts made stay counted."""
        statement = (
            update(deliveries)
            .where(deliveries.c.state == DELIVERY_CLAIMED, deliveries.c.claimed_by == worker)
            .values(state=DELIVERY_PENDING, claimed_by=None, claimed_until=None)
        )
        async with transaction(self.engine, write=True) as conn:
            return affected(await conn.execute(statement))

    async def fail_claimed(self, digest_id: int, worker: str, reason: str) -> int:
        """Give up the deliveries of a digest that `worker` still holds."""
        statement = (
            update(deliveries)
            .where(
                deliveries.c.digest_id == digest_id,
                deliveries.c.claimed_by == worker,
                deliveries.c.state == DELIVERY_CLAIMED,
            )
            .values(state=DELIVERY_FAILED, last_error=reason[:1000], claimed_until=None)
        )
        async with transaction(self.engine, write=True) as conn:
            return affected(await conn.execute(statement))

    async def mark_failed(self, delivery_ids: Collection[int], reason: str) -> None:
        """Give up these deliveries for good."""
        if not delivery_ids:
            return
        statement = (
            update(deliveries)
            .where(deliveries.c.id.in_(list(delivery_ids)), deliveries.c.state != DELIVERY_POSTED)
            .values(state=DELIVERY_FAILED, last_error=reason[:1000], claimed_until=None)
        )
        async with transaction(self.engine, write=True) as conn:
            await conn.execute(statement)

    async def record_error(self, delivery_id: int, error: str) -> None:
        """Remember why the last attempt at a delivery failed."""
        statement = update(deliveries).where(deliveries.c.id == delivery_id).values(last_error=error[:1000])
        async with transaction(self.engine, write=True) as conn:
            await conn.execute(statement)

    async def claim_holders(self) -> set[str]:
        """The workers holding claims now."""
        statement = (
            select(deliveries.c.claimed_by)
            .distinct()
            .where(deliveries.c.state == DELIVERY_CLAIMED, deliveries.c.claimed_by.is_not(None))
        )
        async with self.engine.connect() as conn:
            return {str(worker) for worker in (await conn.execute(statement)).scalars()}

    async def digest_created_at(self, digest_id: int) -> datetime | None:
        """When a digest was created (none of its messages is older); None for an unknown digest."""
        statement = select(digests.c.created_at).where(digests.c.id == digest_id)
        async with self.engine.connect() as conn:
            created: datetime | None = (await conn.execute(statement)).scalar_one_or_none()
        return created

    async def held_digests(self, first: date, last: date) -> list[HeldDigest]:
        """Digests of local dates `first`..`last` with deliveries given up in a channel that is not paused."""
        statement = (
            select(
                digests.c.id,
                digests.c.platform,
                digests.c.workspace,
                digests.c.channel,
                digests.c.local_date,
                channel_settings.c.timezone,
            )
            .distinct()
            .join(deliveries, deliveries.c.digest_id == digests.c.id)
            .join(
                channel_settings,
                (channel_settings.c.platform == digests.c.platform)
                & (channel_settings.c.workspace == digests.c.workspace)
                & (channel_settings.c.channel == digests.c.channel),
            )
            .where(digests.c.local_date.between(first, last), _resumable())
            .order_by(digests.c.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(statement)).all()
        return [
            HeldDigest(
                row.id, ChannelRef(row.platform, row.workspace, row.channel), row.local_date, row.timezone
            )
            for row in rows
        ]

    async def resume_digest(self, digest_id: int) -> int:
        """Make a digest's given-up deliveries pending again, unless its channel is paused; return how many.

        Their attempts stay counted: one that may have reached the platform is looked for there first.
        """
        statement = (
            update(deliveries)
            .where(deliveries.c.digest_id == digest_id, _resumable())
            .values(state=DELIVERY_PENDING, claimed_by=None, claimed_until=None)
        )
        async with transaction(self.engine, write=True) as conn:
            return affected(await conn.execute(statement))
