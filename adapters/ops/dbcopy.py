"""`paperboy db copy --to URL`: every table of the configured database into another one, counts verified.

The usual move is from one process on SQLite to replicas on PostgreSQL, but any direction works. The target
is migrated first and must hold no rows; the copy runs in one transaction on the target, in batches, so a
failure leaves it empty; row counts are compared before that transaction commits. The search index is not
copied: it is derived data, and each replica rebuilds its own from the database when it starts. Slack's
installation tokens are copied as they are stored: encrypted ones stay encrypted, and the processes on the
target need the same PAPERBOY_SECRET_KEY to read them (plain ones are encrypted when `paperboy run` starts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.ops.doctor import display_url
from storage.sql import open_store, upgrade_database
from storage.sql.tables import metadata

DEFAULT_BATCH = 1000


class CopyError(Exception):
    """The copy cannot be made or did not match; the message is one sentence for the operator."""


@dataclass(frozen=True, slots=True)
class CopiedTable:
    """One table copied: rows in the source, rows now in the target."""

    name: str
    source_rows: int
    target_rows: int

    @property
    def matches(self) -> bool:
        """True when the target holds as many rows as the source."""
        return self.source_rows == self.target_rows


async def _count(conn: AsyncConnection, table: Table) -> int:
    return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def _copy_rows(
    source: AsyncEngine,
    target: AsyncConnection,
    table: Table,
    batch_size: int,
    progress: Callable[[str, int], None] | None,
) -> tuple[int, int]:
    """Stream one table into the target in batches, in primary-key order; return (source count, rows copied)."""
    copied = 0
    async with source.connect() as conn:
        expected = await _count(conn, table)
        result = await conn.stream(select(table).order_by(*table.primary_key.columns))
        async for batch in result.partitions(batch_size):
            await target.execute(insert(table), [dict(row._mapping) for row in batch])
            copied += len(batch)
            if progress is not None:
                progress(table.name, copied)
    return expected, copied


async def _advance_sequences(target: AsyncConnection, tables: list[Table]) -> None:
    """On PostgreSQL, move each id sequence past the copied ids, so the next insert does not collide."""
    if target.dialect.name != "postgresql":
        return  # SQLite's rowid ids continue after the largest one by themselves
    for table in tables:
        column = table.autoincrement_column
        if column is None:
            continue
        await target.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                f"COALESCE(MAX({column.name}), 1), MAX({column.name}) IS NOT NULL) FROM {table.name}"
            )
        )


async def copy_database(
    source_url: str,
    target_url: str,
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[str, int], None] | None = None,
) -> list[CopiedTable]:
    """Copy every table from `source_url` into `target_url` (migrated first, empty); CopyError on a mismatch.

    StoreError (from storage) says when either database cannot be opened, or the source is not migrated.
    """
    if source_url.strip() == target_url.strip():
        raise CopyError("The target is the configured database itself; give --to another database.")
    source = await open_store(source_url, migrate=False)
    try:
        await upgrade_database(target_url)
        target = await open_store(target_url, migrate=False)
        try:
            return await _copy_all(source.engine, target.engine, target_url, batch_size, progress)
        finally:
            await target.close()
    finally:
        await source.close()


async def _copy_all(
    source: AsyncEngine,
    target: AsyncEngine,
    target_url: str,
    batch_size: int,
    progress: Callable[[str, int], None] | None,
) -> list[CopiedTable]:
    # Every table the migrations made, Slack's OAuth tables included; parents before the rows pointing at them.
    tables = list(metadata.sorted_tables)
    async with target.begin() as conn:
        occupied = [f"{table.name}: {n}" for table in tables if (n := await _count(conn, table))]
        if occupied:
            raise CopyError(
                f"The target {display_url(target_url)} already holds rows ({', '.join(occupied)}); "
                "copy into a new, empty database."
            )
        copied: list[CopiedTable] = []
        for table in tables:
            expected, rows = await _copy_rows(source, conn, table, batch_size, progress)
            in_target = await _count(conn, table)
            copied.append(CopiedTable(table.name, expected, in_target))
            if rows != expected or in_target != expected:
                raise CopyError(
                    f"{table.name}: the source has {expected} rows but {in_target} arrived; nothing was "
                    "copied. Stop every `paperboy run` on the source database and copy again."
                )
        await _advance_sequences(conn, tables)
    return copied
