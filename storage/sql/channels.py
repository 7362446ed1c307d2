"""Channels in the SQL store: each channel's digest settings and topics, and forgetting a whole workspace."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, union

from bot.domain import ChannelRef, ChannelSettings, Topic, Workspace
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
    )


class ChannelRows(StorePart):
    """The channel_settings and topics tables: the store's `ChannelRepository`, and topics for the tick."""

    async def get_settings(self, channel: ChannelRef) -> ChannelSettings | None:
        """The channel's settings, or None when it never set anything."""
        row = await self._get(ChannelSettingsRow, ref_key(channel))
        return _settings_from_row(row) if row is not None else None

    async def save_settings(self, settings: ChannelSettings) -> None:
        """Create or replace the channel's settings."""
        values = {
            "hour": settings.hour,
            "minute": settings.minute,
            "timezone": settings.timezone,
            "weekdays_only": settings.weekdays_only,
            "digest_size": settings.digest_size,
            "lookback_days": settings.lookback_days,
            "paused": settings.paused,
            "pause_reason": settings.pause_reason,
            "updated_at": self._now(),
        }
        statement = (
            self._insert(channel_settings)
            .values(**ref_values(settings.channel), **values)
            .on_conflict_do_update(index_elements=["platform", "workspace", "channel"], set_=values)
        )
        async with transaction(self.engine, write=True) as conn:
            await conn.execute(statement)

    async def list_topics(self, channel: ChannelRef) -> list[Topic]:
        """The channel's topics in the order they were added, numbered from 1."""
        statement = select(topics.c.query).where(of_channel(topics, channel)).order_by(topics.c.id)
        async with self.engine.connect() as conn:
            queries = (await conn.execute(statement)).scalars().all()
        return [Topic(channel, query, position) for position, query in enumerate(queries, start=1)]

    async def add_topic(self, channel: ChannelRef, query: str) -> None:
        """Add a topic at the end of the channel's list."""
        statement = insert(topics).values(**ref_values(channel), query=query, created_at=self._now())
        async with transaction(self.engine, write=True) as conn:
            await conn.execute(statement)

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
