"""Channels in the SQL store: each channel's digest settings and topics, and forgetting a whole workspace."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict
from typing import Any

from sqlalchemy import Row, delete, func, select, union, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain import ChannelRef, ChannelSettings, Topic, Workspace, default_settings
from bot.ports import PersonalData, SettingsChange, TopicSubscription
from storage.sql.base import (
    CHANNELS_PER_QUERY,
    StorePart,
    affected,
    chunks,
    of_channel,
    of_channels,
    of_workspace,
    ref_key,
    ref_values,
)
from storage.sql.tables import (
    ChannelSettingsRow,
    channel_settings,
    deliveries,
    digests,
    paper_messages,
    topics,
    votes,
)
from storage.sql.transactions import transaction


def _settings_from_row(row: ChannelSettingsRow | Row[Any]) -> ChannelSettings:
    """A domain ChannelSettings from a channel_settings row, read as its model or as Core's row."""
    return ChannelSettings(
        channel=ChannelRef(row.platform, row.workspace, row.channel),
        hour=row.hour,
        minute=row.minute,
        timezone=row.timezone,
        weekdays_only=row.weekdays_only,
        digest_size=row.digest_size,
        lookback_days=row.lookback_days,
        paused=row.paused,
        pause_reason=row.pause_reason,
        recap_day=row.recap_day,
    )


def topic_key(query: str) -> str:
    """What two topics are compared by: their text case-folded, so "Diffusion" and "diffusion" are one topic."""
    return query.casefold()


def _settings_values(settings: ChannelSettings) -> dict[str, Any]:
    """Every stored field of a channel's settings, the channel itself aside."""
    values = asdict(settings)
    del values["channel"]
    return values


class ChannelRows(StorePart):
    """The channel_settings and topics tables: the store's `ChannelRepository`, and topics for the tick."""

    async def get_settings(self, channel: ChannelRef) -> ChannelSettings | None:
        """The channel's settings, or None when it never set anything."""
        row = await self._get(ChannelSettingsRow, ref_key(channel))
        return _settings_from_row(row) if row is not None else None

    async def save_settings(self, settings: ChannelSettings) -> None:
        """Create or replace every field of the channel's settings (seeding and tools).

        A command changes settings through `change_settings`, which writes only what it changes.
        """
        values = {**_settings_values(settings), "updated_at": self._now()}
        statement = (
            self._insert(channel_settings)
            .values(**ref_values(settings.channel), **values)
            .on_conflict_do_update(index_elements=["platform", "workspace", "channel"], set_=values)
        )
        async with transaction(self.engine, write=True) as conn:
            await conn.execute(statement)

    async def change_settings(self, channel: ChannelRef, change: SettingsChange) -> ChannelSettings:
        """Enrol the channel when new (default settings), set only the fields in `change`, in one transaction.

        Returns the settings as this change left them.
        """
        async with transaction(self.engine, write=True) as conn:
            await self._enrol(conn, channel)
            if change:
                # The UPDATE holds the row until commit, so the row read back is this change's result.
                await conn.execute(
                    update(channel_settings)
                    .where(of_channel(channel_settings, channel))
                    .values(**change, updated_at=self._now())
                )
            statement = select(channel_settings).where(of_channel(channel_settings, channel))
            return _settings_from_row((await conn.execute(statement)).one())

    async def _enrol(
        self, conn: AsyncConnection, channel: ChannelRef, change: SettingsChange | None = None
    ) -> bool:
        """Give a new target its default settings (and `change`); one that has settings keeps them untouched."""
        values = {**_settings_values(default_settings(channel)), **(change or {})}
        statement = (
            self._insert(channel_settings)
            .values(**ref_values(channel), **values, updated_at=self._now())
            .on_conflict_do_nothing(index_elements=["platform", "workspace", "channel"])
        )
        return affected(await conn.execute(statement)) > 0

    async def enrol(self, channel: ChannelRef, change: SettingsChange) -> bool:
        """Give a new target its default settings with `change` on top; True when it was new."""
        async with transaction(self.engine, write=True) as conn:
            return await self._enrol(conn, channel, change)

    async def address_of(self, target: ChannelRef) -> str | None:
        """Where the platform delivers the target (a Slack person's D… conversation), or None when unknown."""
        statement = select(channel_settings.c.address).where(of_channel(channel_settings, target))
        async with self.engine.connect() as conn:
            address: str | None = (await conn.execute(statement)).scalar_one_or_none()
        return address

    async def remember_address(self, target: ChannelRef, address: str) -> None:
        """Note where the platform delivers the target; a target without settings keeps nothing."""
        # Only this column: the target's settings may be changing at the same moment.
        statement = (
            update(channel_settings)
            .where(of_channel(channel_settings, target), channel_settings.c.address.is_distinct_from(address))
            .values(address=address)
        )
        async with transaction(self.engine, write=True) as conn:
            await conn.execute(statement)

    async def forget_address(self, target: ChannelRef, address: str) -> None:
        """Forget `address` for the target, unless another one replaced it meanwhile."""
        statement = (
            update(channel_settings)
            .where(of_channel(channel_settings, target), channel_settings.c.address == address)
            .values(address=None)
        )
        async with transaction(self.engine, write=True) as conn:
            await conn.execute(statement)

    async def delete_person(self, person: ChannelRef) -> PersonalData:
        """Delete one person's target (settings, topics, digests, remembered messages) and votes, at once."""
        user = person.user or person.channel
        workspace = Workspace(person.platform, person.workspace)
        async with transaction(self.engine, write=True) as conn:
            removed_votes = affected(
                await conn.execute(
                    delete(votes).where(of_workspace(votes, workspace), votes.c.user_id == user)
                )
            )
            removed_topics = affected(await conn.execute(delete(topics).where(of_channel(topics, person))))
            # Deliveries first: they point at digests.
            for table in (deliveries, digests, paper_messages):
                await conn.execute(delete(table).where(of_channel(table, person)))
            had_schedule = affected(
                await conn.execute(delete(channel_settings).where(of_channel(channel_settings, person)))
            )
        return PersonalData(topics=removed_topics, schedule=had_schedule > 0, votes=removed_votes)

    async def list_topics(self, channel: ChannelRef) -> list[Topic]:
        """The channel's topics in the order they were added, numbered from 1."""
        statement = select(topics.c.query).where(of_channel(topics, channel)).order_by(topics.c.id)
        async with self.engine.connect() as conn:
            queries = (await conn.execute(statement)).scalars().all()
        return [Topic(channel, query, position) for position, query in enumerate(queries, start=1)]

    async def subscribe_topic(self, channel: ChannelRef, query: str, *, limit: int) -> TopicSubscription:
        """Enrol the channel when new and add a topic unless it is there already or `limit` are, atomically.

        Subscribes to one channel take turns: on SQLite the write transaction (BEGIN IMMEDIATE) is the only
        writer, on PostgreSQL the channel's settings row is locked before the topics are counted, so no two
        can both see room for the last topic. The unique index refuses a duplicate that slipped past anyway.
        """
        key = topic_key(query)
        async with transaction(self.engine, write=True) as conn:
            await self._enrol(conn, channel)
            if self._dialect == "postgresql":
                await conn.execute(
                    select(channel_settings.c.channel)
                    .where(of_channel(channel_settings, channel))
                    .with_for_update()
                )
            stored = (
                await conn.execute(
                    select(topics.c.query, topics.c.query_key).where(of_channel(topics, channel))
                )
            ).all()
            known = next((row.query for row in stored if row.query_key == key), None)
            if known is not None:
                return TopicSubscription("already_followed", known)
            if len(stored) >= limit:
                return TopicSubscription("list_full", query)
            if await self._insert_topic(conn, channel, query):
                return TopicSubscription("added", query)
            known = (
                await conn.execute(
                    select(topics.c.query).where(of_channel(topics, channel), topics.c.query_key == key)
                )
            ).scalar_one()
            return TopicSubscription("already_followed", known)

    async def add_topic(self, channel: ChannelRef, query: str) -> None:
        """Add a topic at the end of the channel's list, unless it is there already (seeding and tools)."""
        async with transaction(self.engine, write=True) as conn:
            await self._insert_topic(conn, channel, query)

    async def _insert_topic(self, conn: AsyncConnection, channel: ChannelRef, query: str) -> bool:
        """Insert one topic; False when the channel has it already."""
        statement = (
            self._insert(topics)
            .values(**ref_values(channel), query=query, query_key=topic_key(query), created_at=self._now())
            .on_conflict_do_nothing(index_elements=["platform", "workspace", "channel", "query_key"])
        )
        return affected(await conn.execute(statement)) > 0

    async def remove_topic(self, channel: ChannelRef, query: str) -> bool:
        """Remove a topic by its exact stored text; True when one was removed."""
        statement = delete(topics).where(of_channel(topics, channel), topics.c.query == query)
        async with transaction(self.engine, write=True) as conn:
            return affected(await conn.execute(statement)) > 0

    async def list_channels(self) -> list[ChannelSettings]:
        """Every channel with settings, in a stable order."""
        # Core rows, not models: the scheduler reads every channel on each tick.
        statement = select(channel_settings).order_by(
            channel_settings.c.platform, channel_settings.c.workspace, channel_settings.c.channel
        )
        async with self.engine.connect() as conn:
            return [_settings_from_row(row) for row in await conn.execute(statement)]

    async def delete_workspace(self, workspace: Workspace) -> int:
        """Delete everything a workspace left here; return how many channels had settings or topics."""
        known_channels = union(
            select(channel_settings.c.channel).where(of_workspace(channel_settings, workspace)),
            select(topics.c.channel).where(of_workspace(topics, workspace)),
        ).subquery()
        async with transaction(self.engine, write=True) as conn:
            removed = int((await conn.execute(select(func.count()).select_from(known_channels))).scalar_one())
            # Deliveries first: they point at digests.
            for table in (deliveries, digests, paper_messages, votes, topics, channel_settings):
                await conn.execute(delete(table).where(of_workspace(table, workspace)))
        return removed

    async def topics_of(self, channels: Collection[ChannelRef]) -> dict[ChannelRef, list[Topic]]:
        """The topics of many channels, each list in the order they were added, numbered from 1."""
        queries: dict[ChannelRef, list[str]] = {}
        refs = list(dict.fromkeys(channels))
        async with self.engine.connect() as conn:
            for chunk in chunks(refs, CHANNELS_PER_QUERY):
                statement = (
                    select(topics.c.platform, topics.c.workspace, topics.c.channel, topics.c.query)
                    .where(of_channels(topics, chunk))
                    .order_by(topics.c.id)
                )
                for row in await conn.execute(statement):
                    queries.setdefault(ChannelRef(row.platform, row.workspace, row.channel), []).append(
                        row.query
                    )
        return {
            ref: [Topic(ref, query, position) for position, query in enumerate(texts, start=1)]
            for ref, texts in queries.items()
        }
