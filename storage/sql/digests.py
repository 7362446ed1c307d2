"""Digests in the SQL store: one digest a channel, kind (daily or weekly recap) and local date, the messages
it must post, and which paper each posted message shows."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Insert, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain import (
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_POSTED,
    PERSON_MARK,
    SHOWN_IN_DIGEST,
    SHOWN_IN_RECAP,
    ChannelRef,
    Delivery,
    DigestPlan,
    PaperShowing,
    WeekRecap,
    Workspace,
)
from storage.sql.base import (
    CHANNELS_PER_QUERY,
    StorePart,
    chunks,
    of_channel,
    of_channels,
    of_workspace,
    ref_values,
)
from storage.sql.tables import deliveries, digests, paper_messages
from storage.sql.transactions import transaction

# Digests per multi-row INSERT: seven binds each.
_PLANS_PER_INSERT = 500
DAILY = "daily"
RECAP = "recap"
_DIGEST_KEY = ["platform", "workspace", "channel", "kind", "local_date"]


def _kind(plan: DigestPlan) -> str:
    return RECAP if plan.recap is not None else DAILY


def _digest_values(plan: DigestPlan) -> dict[str, Any]:
    """The digests row of a plan, its creation time aside."""
    return {
        **ref_values(plan.channel),
        "local_date": plan.local_date,
        "topics": list(plan.topics),
        "kind": _kind(plan),
        "recap": recap_json(plan.recap) if plan.recap is not None else None,
    }


def recap_json(recap: WeekRecap) -> dict[str, Any]:
    """What a recap sums up, as the digests row keeps it."""
    return {
        "since": recap.since.isoformat(),
        "until": recap.until.isoformat(),
        "ranking": [[arxiv_id, votes] for arxiv_id, votes in recap.ranking],
        "shared": recap.shared,
        "voted": recap.voted,
    }


def recap_from_json(data: dict[str, Any]) -> WeekRecap:
    """A WeekRecap from what `recap_json` stored."""
    return WeekRecap(
        since=datetime.fromisoformat(data["since"]),
        until=datetime.fromisoformat(data["until"]),
        ranking=tuple((str(arxiv_id), int(votes)) for arxiv_id, votes in data["ranking"]),
        shared=int(data["shared"]),
        voted=int(data["voted"]),
    )


def delivery_from_row(row: Row[Any]) -> Delivery:
    """A domain Delivery from a deliveries row joined with its digest's local date."""
    return Delivery(
        id=row.id,
        digest_id=row.digest_id,
        channel=ChannelRef(row.platform, row.workspace, row.channel),
        local_date=row.local_date,
        position=row.position,
        arxiv_id=row.arxiv_id,
        state=row.state,
        message_id=row.message_id,
        attempts=row.attempts,
        last_error=row.last_error,
    )


def _delivery_rows(plan: DigestPlan, digest_id: int) -> list[dict[str, Any]]:
    """The deliveries a new digest must post: the parent message first, then one per paper, best first.

    A recap of one paper is its parent message alone (nothing to thread).
    """
    messages: list[str | None] = [None]
    if plan.threaded:
        messages += [scored.paper.arxiv_id for scored in plan.papers]
    return [
        {
            **ref_values(plan.channel),
            "digest_id": digest_id,
            "position": position,
            "arxiv_id": arxiv_id,
            "state": DELIVERY_PENDING,
            "attempts": 0,
        }
        for position, arxiv_id in enumerate(messages)
    ]


class DigestRows(StorePart):
    """The digests, deliveries and paper_messages tables: the store's `DigestRepository`, and digests in bulk
    for the scheduler's tick (Core statements throughout: the tick plans for thousands of channels at once)."""

    async def posted_paper_ids(self, channel: ChannelRef) -> set[str]:
        """Every paper a digest of this channel carried or is about to carry (failed deliveries aside)."""
        statement = (
            select(deliveries.c.arxiv_id)
            .distinct()
            .where(
                of_channel(deliveries, channel),
                deliveries.c.arxiv_id.is_not(None),
                deliveries.c.state != DELIVERY_FAILED,
            )
        )
        async with self.engine.connect() as conn:
            return set((await conn.execute(statement)).scalars().all())

    async def create_digest(self, plan: DigestPlan) -> int | None:
        """Record a digest, its parent delivery and one per paper; None when that date has one of its kind."""
        digest = (
            self._insert(digests)
            .values(**_digest_values(plan), created_at=self._now())
            .on_conflict_do_nothing(index_elements=_DIGEST_KEY)
            .returning(digests.c.id)
        )
        try:
            async with transaction(self.engine, write=True) as conn:
                digest_id = (await conn.execute(digest)).scalar_one_or_none()
                if digest_id is None:
                    return None
                await conn.execute(insert(deliveries), _delivery_rows(plan, digest_id))
        except IntegrityError:
            # ON CONFLICT covers the race on both databases; this is the last line should another path appear.
            return None
        return int(digest_id)

    async def deliveries_of(self, digest_id: int) -> list[Delivery]:
        """The deliveries of one digest, parent first."""
        statement = (
            select(deliveries, digests.c.local_date)
            .join(digests, digests.c.id == deliveries.c.digest_id)
            .where(deliveries.c.digest_id == digest_id)
            .order_by(deliveries.c.position)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(statement)).all()
        return [delivery_from_row(row) for row in rows]

    async def mark_posted(self, delivery_id: int, message_id: str) -> None:
        """Record the platform message a delivery became, and which paper that message shows."""
        now = self._now()
        statement = (
            update(deliveries)
            .where(deliveries.c.id == delivery_id)
            .values(state=DELIVERY_POSTED, message_id=message_id, posted_at=now, claimed_until=None)
            .returning(
                deliveries.c.platform,
                deliveries.c.workspace,
                deliveries.c.channel,
                deliveries.c.arxiv_id,
                deliveries.c.digest_id,
            )
        )

        async def write(conn: AsyncConnection) -> None:
            row = (await conn.execute(statement)).first()
            # A workspace deleted mid-delivery leaves nothing to mark; that is not an error.
            if row is None:
                return
            digest = (
                await conn.execute(
                    select(digests.c.kind, digests.c.recap).where(digests.c.id == row.digest_id)
                )
            ).first()
            recap = digest is not None and digest.kind == RECAP
            arxiv_id = row.arxiv_id
            if arxiv_id is None and recap and digest is not None and digest.recap:
                # A recap of one paper is a single message: reactions on it vote for that paper.
                ranking = digest.recap.get("ranking") or []
                arxiv_id = str(ranking[0][0]) if len(ranking) == 1 else None
            if arxiv_id is not None:
                channel = ChannelRef(row.platform, row.workspace, row.channel)
                remember = self._remember(channel, message_id, arxiv_id)
                await conn.execute(remember.values(via=SHOWN_IN_RECAP if recap else SHOWN_IN_DIGEST))

        await self._write(write)

    def _remember(self, channel: ChannelRef, message_id: str, arxiv_id: str) -> Insert:
        """INSERT of a message->paper link that keeps the first one when told twice (a message may show several
        papers: a shared message with several links)."""
        statement: Insert = (
            self._insert(paper_messages)
            .values(**ref_values(channel), message_id=message_id, arxiv_id=arxiv_id, created_at=self._now())
            .on_conflict_do_nothing(
                index_elements=["platform", "workspace", "channel", "message_id", "arxiv_id"]
            )
        )
        return statement

    async def remember_message(
        self, channel: ChannelRef, message_id: str, arxiv_id: str, *, via: str | None = None
    ) -> None:
        """Remember that a message shows a paper, so that reactions on it count as votes.

        `via` says how the paper came there (bot.domain's SHOWN_… words); None leaves the column's default,
        a link someone posted.
        """
        statement = self._remember(channel, message_id, arxiv_id)
        if via is not None:
            statement = statement.values(via=via)
        async with transaction(self.engine, write=True) as conn:
            await conn.execute(statement)

    async def paper_for_message(self, channel: ChannelRef, message_id: str) -> str | None:
        """The paper a bot message shows (the first remembered), or None when the message is not one of ours."""
        papers = await self.papers_for_message(channel, message_id)
        return papers[0] if papers else None

    async def papers_for_message(self, channel: ChannelRef, message_id: str) -> list[str]:
        """Every paper a message shows, oldest link first; [] when it shows none."""
        statement = (
            select(paper_messages.c.arxiv_id)
            .where(of_channel(paper_messages, channel), paper_messages.c.message_id == message_id)
            .order_by(paper_messages.c.created_at, paper_messages.c.arxiv_id)
        )
        async with self.engine.connect() as conn:
            return list((await conn.execute(statement)).scalars())

    async def has_digest(self, channel: ChannelRef, local_date: date) -> bool:
        """True when the channel has a daily digest for that local date."""
        statement = select(digests.c.id).where(
            of_channel(digests, channel), digests.c.local_date == local_date, digests.c.kind == DAILY
        )
        async with self.engine.connect() as conn:
            return (await conn.execute(statement.limit(1))).first() is not None

    async def last_posted_at(self, channel: ChannelRef) -> datetime | None:
        """When a digest message was last posted to the channel, or None."""
        statement = select(func.max(deliveries.c.posted_at)).where(of_channel(deliveries, channel))
        async with self.engine.connect() as conn:
            posted: datetime | None = (await conn.execute(statement)).scalar_one_or_none()
            return posted

    async def digest_topics(self, digest_id: int) -> tuple[str, ...]:
        """The topics a digest was planned for."""
        async with self.engine.connect() as conn:
            found = (await conn.execute(select(digests.c.topics).where(digests.c.id == digest_id))).scalar()
        return tuple(found or ())

    async def delivery_counts(self, channel: ChannelRef, local_date: date) -> dict[str, int]:
        """Deliveries of the channel's daily digest for that date, counted by state."""
        statement = (
            select(deliveries.c.state, func.count())
            .join(digests, digests.c.id == deliveries.c.digest_id)
            .where(of_channel(digests, channel), digests.c.local_date == local_date, digests.c.kind == DAILY)
            .group_by(deliveries.c.state)
        )
        async with self.engine.connect() as conn:
            return {str(state): int(count) for state, count in await conn.execute(statement)}

    # Many channels at once, for the scheduler's tick

    async def digest_keys(self, local_dates: Collection[date]) -> set[tuple[ChannelRef, date]]:
        """The (channel, local date) pairs that have a daily digest, among those dates."""
        if not local_dates:
            return set()
        statement = select(
            digests.c.platform, digests.c.workspace, digests.c.channel, digests.c.local_date
        ).where(digests.c.local_date.in_(sorted(local_dates)), digests.c.kind == DAILY)
        async with self.engine.connect() as conn:
            rows = await conn.execute(statement)
            return {(ChannelRef(r.platform, r.workspace, r.channel), r.local_date) for r in rows}

    async def create_digests(self, plans: Sequence[DigestPlan]) -> list[int | None]:
        """Record many digests and their deliveries in one transaction; None where the date had one of its kind."""
        created: dict[tuple[ChannelRef, str, date], int] = {}
        now = self._now()
        # Multi-row INSERTs of a few hundred digests each, rather than one statement a digest.
        async with transaction(self.engine, write=True) as conn:
            for chunk in chunks(plans, _PLANS_PER_INSERT):
                rows = [{**_digest_values(p), "created_at": now} for p in chunk]
                statement = (
                    self._insert(digests)
                    .values(rows)
                    .on_conflict_do_nothing(index_elements=_DIGEST_KEY)
                    .returning(
                        digests.c.id,
                        digests.c.platform,
                        digests.c.workspace,
                        digests.c.channel,
                        digests.c.kind,
                        digests.c.local_date,
                    )
                )
                for row in await conn.execute(statement):
                    key = (ChannelRef(row.platform, row.workspace, row.channel), row.kind, row.local_date)
                    created[key] = int(row.id)
            messages: list[dict[str, Any]] = []
            for plan in plans:
                digest_id = created.get((plan.channel, _kind(plan), plan.local_date))
                if digest_id is not None:
                    messages += _delivery_rows(plan, digest_id)
            if messages:
                await conn.execute(insert(deliveries), messages)
        return [created.get((plan.channel, _kind(plan), plan.local_date)) for plan in plans]

    async def posted_paper_ids_of(
        self, channels: Collection[ChannelRef], among: Collection[str]
    ) -> dict[ChannelRef, set[str]]:
        """Which of the papers `among` each channel's digests carried or are about to carry."""
        found: dict[ChannelRef, set[str]] = {}
        ids = list(dict.fromkeys(among))
        if not ids:
            return found
        refs = list(dict.fromkeys(channels))
        async with self.engine.connect() as conn:
            for chunk in chunks(refs, CHANNELS_PER_QUERY):
                for id_chunk in chunks(ids, CHANNELS_PER_QUERY):
                    statement = (
                        select(
                            deliveries.c.platform,
                            deliveries.c.workspace,
                            deliveries.c.channel,
                            deliveries.c.arxiv_id,
                        )
                        .distinct()
                        .where(
                            of_channels(deliveries, chunk),
                            deliveries.c.arxiv_id.in_(list(id_chunk)),
                            deliveries.c.state != DELIVERY_FAILED,
                        )
                    )
                    for row in await conn.execute(statement):
                        found.setdefault(ChannelRef(row.platform, row.workspace, row.channel), set()).add(
                            row.arxiv_id
                        )
        return found

    # Weekly recaps and the leaderboard

    async def recap_keys(
        self, first: date, last: date, *, channel: ChannelRef | None = None
    ) -> set[tuple[ChannelRef, date]]:
        """The (channel, local date) pairs of weekly recaps from `first` to `last` inclusive (of one channel)."""
        statement = select(
            digests.c.platform, digests.c.workspace, digests.c.channel, digests.c.local_date
        ).where(digests.c.kind == RECAP, digests.c.local_date.between(first, last))
        if channel is not None:
            statement = statement.where(of_channel(digests, channel))
        async with self.engine.connect() as conn:
            rows = await conn.execute(statement)
            return {(ChannelRef(r.platform, r.workspace, r.channel), r.local_date) for r in rows}

    async def digest_recap(self, digest_id: int) -> WeekRecap | None:
        """What a weekly recap sums up, as it was planned; None for a daily digest or an unknown one."""
        statement = select(digests.c.recap).where(digests.c.id == digest_id, digests.c.kind == RECAP)
        async with self.engine.connect() as conn:
            found = (await conn.execute(statement)).scalar_one_or_none()
        return recap_from_json(found) if found else None

    async def shared_counts(
        self, channels: Collection[ChannelRef], since: datetime, until: datetime
    ) -> dict[ChannelRef, int]:
        """How many papers each channel was shown from `since` until before `until`, recaps aside.

        Digest replies are remembered in their channel when posted, cards and links when shown, so the
        messages that show papers say it all (a Discord digest's thread rows aside: they are another channel).
        """
        counts: dict[ChannelRef, int] = {}
        refs = list(dict.fromkeys(channels))
        async with self.engine.connect() as conn:
            for chunk in chunks(refs, CHANNELS_PER_QUERY):
                statement = (
                    select(
                        paper_messages.c.platform,
                        paper_messages.c.workspace,
                        paper_messages.c.channel,
                        func.count(paper_messages.c.arxiv_id.distinct()),
                    )
                    .where(
                        of_channels(paper_messages, chunk),
                        paper_messages.c.created_at >= since,
                        paper_messages.c.created_at < until,
                        paper_messages.c.via != SHOWN_IN_RECAP,
                    )
                    .group_by(paper_messages.c.platform, paper_messages.c.workspace, paper_messages.c.channel)
                )
                for row in await conn.execute(statement):
                    counts[ChannelRef(row[0], row[1], row[2])] = int(row[3])
        return counts

    async def showings_of(
        self, workspace: Workspace, arxiv_ids: Collection[str]
    ) -> dict[str, list[PaperShowing]]:
        """Where each paper was shown in a workspace (digests, cards, links; not recaps), first shown first.

        One message can be remembered twice (a Discord digest reply, in its thread and in the channel the
        digest was posted to): when one of its rows says digest, that row alone counts.
        """
        ids = list(dict.fromkeys(arxiv_ids))
        rows: list[Any] = []
        async with self.engine.connect() as conn:
            for chunk in chunks(ids):
                statement = (
                    select(
                        paper_messages.c.arxiv_id,
                        paper_messages.c.channel,
                        paper_messages.c.message_id,
                        paper_messages.c.via,
                        paper_messages.c.created_at,
                    )
                    .where(
                        of_workspace(paper_messages, workspace),
                        paper_messages.c.arxiv_id.in_(chunk),
                        # A person's own digest is theirs: the team's "where shown" never names a DM.
                        ~paper_messages.c.channel.startswith(PERSON_MARK, autoescape=True),
                    )
                    .order_by(paper_messages.c.created_at, paper_messages.c.channel)
                )
                rows += (await conn.execute(statement)).all()
        bot_posted = {(r.arxiv_id, r.message_id) for r in rows if r.via in (SHOWN_IN_DIGEST, SHOWN_IN_RECAP)}
        found: dict[str, list[PaperShowing]] = {}
        for row in rows:
            if row.via == SHOWN_IN_RECAP:
                continue
            if row.via != SHOWN_IN_DIGEST and (row.arxiv_id, row.message_id) in bot_posted:
                continue
            showing = PaperShowing(row.channel, row.via)
            places = found.setdefault(row.arxiv_id, [])
            if showing not in places:
                places.append(showing)
        return found
