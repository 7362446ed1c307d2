"""What every part of the SQL store shares: its engine and clock, and the small pieces of its statements."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import CursorResult, Table, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import ChannelRef, Workspace
from bot.ports import Clock
from storage.sql.transactions import GroupCommit, transaction

T = TypeVar("T")
Model = TypeVar("Model", bound=SQLModel)

# Ids per SELECT … IN (…): far below the bind limits of SQLite (32766) and asyncpg (32767).
CHUNK = 2000
# Channels per query: three binds each.
CHANNELS_PER_QUERY = 500


class SystemClock:
    """UTC now, when no clock is given."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)


class StorePart:
    """The engine, clock and write path that each part of `SqlStore` (papers, channels, votes …) works with."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock | None = None) -> None:
        self.engine = engine
        self._clock: Clock = clock or SystemClock()
        self._dialect = engine.dialect.name
        self._group_commit = GroupCommit(engine) if self._dialect == "sqlite" else None

    async def _write(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """One small write of the delivery path: grouped with others into one transaction on SQLite."""
        if self._group_commit is not None:
            return await self._group_commit.run(work)
        async with transaction(self.engine, write=True) as conn:
            return await work(conn)

    async def _get(self, model: type[Model], key: object) -> Model | None:
        """One row by its primary key (a tuple for a composite key), as its model; None when there is none."""
        async with AsyncSession(self.engine) as session:
            return await session.get(model, key)

    def _now(self) -> datetime:
        """The clock's time in UTC."""
        return self._clock.now().astimezone(UTC)

    def _insert(self, table: Table) -> Any:
        """An INSERT that knows ON CONFLICT on this store's dialect."""
        # Each dialect is imported where it is used: the engine has loaded this store's already, and loading
        # PostgreSQL's (asyncpg's) too would cost every command on SQLite a few dozen milliseconds at start.
        if self._dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(table)
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def affected(result: Any) -> int:
    """Rows an INSERT, UPDATE or DELETE touched."""
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def ref_values(channel: ChannelRef) -> dict[str, str]:
    """A channel reference as the three columns it is stored in."""
    return {"platform": channel.platform, "workspace": channel.workspace, "channel": channel.channel}


def ref_key(channel: ChannelRef) -> tuple[str, str, str]:
    """A channel reference as the leading part of a primary key."""
    return (channel.platform, channel.workspace, channel.channel)


def of_channel(table: Table, channel: ChannelRef) -> Any:
    """A WHERE clause naming all three parts of the channel, so workspaces never see each other."""
    return (
        (table.c.platform == channel.platform)
        & (table.c.workspace == channel.workspace)
        & (table.c.channel == channel.channel)
    )


def of_channels(table: Table, channels: Sequence[ChannelRef]) -> Any:
    """A WHERE clause naming any of several channels, all three parts of each."""
    return tuple_(table.c.platform, table.c.workspace, table.c.channel).in_([ref_key(c) for c in channels])


def of_workspace(table: Table, workspace: Workspace) -> Any:
    """A WHERE clause naming platform and workspace."""
    return (table.c.platform == workspace.platform) & (table.c.workspace == workspace.workspace)
