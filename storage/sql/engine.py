"""Database URLs and engines: which driver a URL needs, SQLite's pragmas, and one-sentence errors."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event, literal, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool

# A database host that drops packets should fail a start within seconds, not asyncpg's default minute.
_CONNECT_TIMEOUT_SECONDS = 10

_SQLITE_PRAGMAS = (
    "PRAGMA busy_timeout=5000",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)


class StoreError(Exception):
    """The database cannot be opened or used; the message is one sentence for the person running Paperboy."""


def _parse_url(url: str) -> URL:
    """Parse a database URL, or raise StoreError saying what a valid one looks like."""
    try:
        return make_url(url.strip())
    except (ArgumentError, ValueError):
        # Never quoted: a URL that does not parse may still hold a password.
        raise StoreError(
            "The URL given is not a database URL (not repeated here: it may hold a password); "
            "use sqlite:///path/to.db or postgresql://user@host:5432/name."
        ) from None


def async_url(url: str) -> str:
    """Turn an ordinary database URL into one naming our async driver (aiosqlite or asyncpg)."""
    parsed = _parse_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
        # libpq's `sslmode` is what operators write; asyncpg takes the same values as `ssl`.
        if "sslmode" in parsed.query and "ssl" not in parsed.query:
            parsed = parsed.update_query_dict({"ssl": parsed.query["sslmode"]}).difference_update_query(
                ["sslmode"]
            )
    else:
        raise StoreError(
            f"Unsupported database {backend!r} in DATABASE_URL; use sqlite:///path/to.db or "
            "postgresql://user@host:5432/name."
        )
    return parsed.render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; None for PostgreSQL and in-memory SQLite."""
    parsed = _parse_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or parsed.query.get("mode") == "memory":
        return None
    return Path(database)


def display_location(url: str) -> str:
    """Where the database is, for messages: the file of SQLite, or the URL without its password."""
    path = sqlite_path(url)
    if path is not None:
        return str(path)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "the configured URL"


def _check_sqlite_location(path: Path) -> None:
    """Raise StoreError when SQLite could not create or write the file, before SQLite says so less clearly."""
    directory = path.absolute().parent
    where = f"Cannot open the database at {path}"
    if not directory.exists():
        raise StoreError(f"{where}: directory {directory} does not exist.")
    if not directory.is_dir():
        raise StoreError(f"{where}: {directory} is not a directory.")
    if path.exists() and path.is_dir():
        raise StoreError(f"{where}: it is a directory, not a database file.")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(f"{where}: the file is not writable.")
    # WAL keeps two side files beside the database: the directory must be writable even when the file exists.
    if not os.access(directory, os.W_OK | os.X_OK):
        raise StoreError(f"{where}: directory is not writable.")


def failure_reason(exc: BaseException) -> str:
    """What went wrong, in the driver's words without SQLAlchemy's wrapping, or in ours for network errors."""
    inner = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    if isinstance(inner, ConnectionRefusedError):
        return "connection refused (no server is listening on that port)"
    if isinstance(inner, socket.gaierror):
        return "the host name does not resolve"
    if isinstance(inner, TimeoutError):
        return "the server did not answer in time"
    text = str(inner).strip()
    return text.splitlines()[0].rstrip(".") if text else type(inner).__name__


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """Set the pragmas every SQLite connection needs, and let SQLAlchemy rather than sqlite3 emit BEGIN."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    """BEGIN IMMEDIATE for writes, so two writers wait for each other instead of failing as locked."""
    connection.exec_driver_sql(connection.get_execution_options().get("paperboy_begin", "BEGIN"))


def create_engine_for(url: str) -> AsyncEngine:
    """An async engine for an ordinary database URL, SQLite pragmas set; StoreError on a bad path."""
    path = sqlite_path(url)
    if path is not None:
        _check_sqlite_location(path)
    driver_url = async_url(url)
    if make_url(driver_url).get_backend_name() == "sqlite":
        # The most recently used connection first: one at a time, the same one or two answer everything, and the
        # pool's other connections stay cold instead of each filling its 2 MB page cache (SQLite's default).
        parsed = make_url(driver_url)
        # Older SQLAlchemy releases give a file database NullPool (a new connection each time), which has no
        # order to choose (and refuses the option); the queue pool of newer ones takes it.
        # (The SQLite dialects' get_pool_class is not in SQLAlchemy's Dialect type, hence getattr.)
        pool_class = getattr(parsed.get_dialect(), "get_pool_class")(parsed)  # noqa: B009
        pooled = isinstance(pool_class, type) and issubclass(pool_class, QueuePool)
        engine = create_async_engine(driver_url, **({"pool_use_lifo": True} if pooled else {}))
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
        return engine
    # Replicas live for months beside a database that may restart: test a pooled connection before using it.
    return create_async_engine(
        driver_url, pool_pre_ping=True, connect_args={"timeout": _CONNECT_TIMEOUT_SECONDS}
    )


def _probe_sqlite(path: Path) -> None:
    """Open the file with plain sqlite3 and read its header (creating it when new)."""
    connection = sqlite3.connect(path, timeout=5)
    try:
        connection.execute("PRAGMA schema_version").fetchone()
    finally:
        connection.close()


async def ping(engine: AsyncEngine, url: str) -> None:
    """Open one connection, turning a refusal into StoreError."""
    path = sqlite_path(url)
    if path is not None:
        # A refusal seen by aiosqlite leaves its worker thread posting to the event loop after the failure;
        # asking plain sqlite3 first keeps that path for databases that really open.
        try:
            await asyncio.to_thread(_probe_sqlite, path)
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open the database at {path}: {failure_reason(exc)}.") from exc
    try:
        async with engine.connect() as conn:
            await conn.execute(select(literal(1)))
    except (OSError, SQLAlchemyError, TimeoutError) as exc:
        raise StoreError(
            f"Cannot open the database at {display_location(url)}: {failure_reason(exc)}."
        ) from exc
