"""Transactions of the SQL store: SQLite's one writer at a time, PostgreSQL's advisory locks, group commit."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

T = TypeVar("T")


@asynccontextmanager
async def transaction(
    engine: AsyncEngine, *, write: bool = False, lock: int | None = None
) -> AsyncIterator[AsyncConnection]:
    """One transaction; writes take SQLite's write lock up front, `lock` a PostgreSQL advisory lock."""
    sqlite_writer = write and engine.dialect.name == "sqlite"
    async with (
        _sqlite_writers(engine) if sqlite_writer else contextlib.nullcontext(),
        engine.connect() as conn,
    ):
        if sqlite_writer:
            await conn.execution_options(paperboy_begin="BEGIN IMMEDIATE")
        async with conn.begin():
            if lock is not None and engine.dialect.name == "postgresql":
                await conn.execute(select(func.pg_advisory_xact_lock(literal(lock))))
            yield conn


_WRITER_LOCKS: weakref.WeakKeyDictionary[AsyncEngine, tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _sqlite_writers(engine: AsyncEngine) -> asyncio.Lock:
    """One SQLite writer at a time within this process, waiting in turn.

    SQLite takes one writer anyway; without this, hundreds of concurrent deliveries would meet in SQLite's
    busy handler, which sleeps and polls (and gives up after busy_timeout). Other processes still wait there.
    """
    loop = asyncio.get_running_loop()
    known = _WRITER_LOCKS.get(engine)
    if known is None or known[0] is not loop:
        known = (loop, asyncio.Lock())
        _WRITER_LOCKS[engine] = known
    return known[1]


class GroupCommit:
    """Runs small writes of many tasks in one SQLite transaction (group commit), in the order they came.

    SQLite takes one writer at a time and each transaction costs several round trips through aiosqlite's
    thread; a fan-out of hundreds of channels makes two writes a message. Writes that arrive while one
    transaction runs go together in the next. Each caller's await returns once its write is committed.
    Should the grouped transaction fail, each write is tried again alone, so that one bad write fails alone.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._waiting: list[tuple[Callable[[AsyncConnection], Awaitable[Any]], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Queue one write and wait until it is committed; return what it returned."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((work, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                async with transaction(self._engine, write=True) as conn:
                    results = [await work(conn) for work, _ in batch]
            except Exception:
                await self._one_by_one(batch)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _one_by_one(
        self, batch: list[tuple[Callable[[AsyncConnection], Awaitable[Any]], asyncio.Future[Any]]]
    ) -> None:
        for work, future in batch:
            try:
                async with transaction(self._engine, write=True) as conn:
                    result = await work(conn)
            except Exception as error:
                if not future.done():
                    future.set_exception(error)
            else:
                if not future.done():
                    future.set_result(result)
