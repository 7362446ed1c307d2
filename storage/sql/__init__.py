"""The SQL store: every table of Paperboy on SQLite or PostgreSQL, through SQLAlchemy's async Core."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sqlite3
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    CursorResult,
    Insert,
    Table,
    case,
    delete,
    event,
    func,
    insert,
    literal,
    select,
    tuple_,
    union,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.domain import (
    DELIVERY_CLAIMED,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_POSTED,
    ChannelRef,
    ChannelSettings,
    Delivery,
    DigestPlan,
    Paper,
    Topic,
    UpsertCounts,
    Vote,
    Workspace,
)
from bot.ports import Clock
from storage.sql.tables import (
    channel_settings,
    deliveries,
    digests,
    paper_messages,
    papers,
    topics,
    votes,
)
from storage.vectors.embeddings import EmbeddingRows

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
T = TypeVar("T")

# Keys of pg_advisory_xact_lock. One writer of papers at a time keeps `updated_at` in commit order (the
# search index catches up by it) and makes the read-merge-write of an upsert safe; one migrator at a time
# lets replicas start together.
_PAPERS_LOCK = 0x70617065  # "pape"
_MIGRATION_LOCK = 0x6D696772  # "migr"

# Ids per SELECT … IN (…): far below the bind limits of SQLite (32766) and asyncpg (32767).
_CHUNK = 2000
# Channels per query (three binds each) and digests per multi-row INSERT (five binds each).
_CHANNELS_PER_QUERY = 500
_PLANS_PER_INSERT = 500

# A database host that drops packets should fail a start within seconds, not asyncpg's default minute.
_CONNECT_TIMEOUT_SECONDS = 10

_SQLITE_PRAGMAS = (
    "PRAGMA busy_timeout=5000",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)

# Paper fields a later record replaces only when it carries a value: None, "", [] and a count of 0 mean
# "this source does not know", so an arXiv record never blanks what Hugging Face said, nor the reverse.
_KEPT_WHEN_FALSY = (
    "title",
    "authors",
    "abstract",
    "published",
    "featured_on",
    "hf_upvotes",
    "num_comments",
    "ai_summary",
    "ai_keywords",
    "github_repo",
    "project_page",
    "organization",
    "thumbnail",
    "categories",
    "comment",
    "journal_ref",
    "doi",
)
# 0 stars is a real value of a known repository; only None means unknown.
_KEPT_WHEN_NONE = ("github_stars",)
_PAPER_FIELDS = (*_KEPT_WHEN_FALSY, *_KEPT_WHEN_NONE, "withdrawn")


class StoreError(Exception):
    """The database cannot be opened or used; the message is one sentence for the person running Paperboy."""


def _parse_url(url: str) -> URL:
    """Parse a database URL, or raise StoreError saying what a valid one looks like."""
    try:
        return make_url(url.strip())
    except ArgumentError as exc:
        raise StoreError(
            f"{url!r} is not a database URL; use sqlite:///path/to.db or postgresql://user@host:5432/name."
        ) from exc


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


def _display(url: str) -> str:
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


def _reason(exc: BaseException) -> str:
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
        engine = create_async_engine(driver_url)
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
        return engine
    # Replicas live for months beside a database that may restart: test a pooled connection before using it.
    return create_async_engine(
        driver_url, pool_pre_ping=True, connect_args={"timeout": _CONNECT_TIMEOUT_SECONDS}
    )


@asynccontextmanager
async def _transaction(
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


def _alembic_config(url: str) -> Config:
    """An Alembic configuration that needs no alembic.ini: the scripts are found beside this module."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = url
    return config


async def _run_migration(engine: AsyncEngine, url: str, revision: str, *, downgrade: bool = False) -> None:
    """Run Alembic on one of our connections, inside one locked transaction."""
    config = _alembic_config(url)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        if downgrade:
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)

    async with _transaction(engine, write=True, lock=_MIGRATION_LOCK) as conn:
        await conn.run_sync(run)


def head_revision() -> str | None:
    """The newest migration this code ships."""
    return ScriptDirectory.from_config(_alembic_config("")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The migration the database is at; None when it was never migrated."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)


def _probe_sqlite(path: Path) -> None:
    """Open the file with plain sqlite3 and read its header (creating it when new)."""
    connection = sqlite3.connect(path, timeout=5)
    try:
        connection.execute("PRAGMA schema_version").fetchone()
    finally:
        connection.close()


async def _ping(engine: AsyncEngine, url: str) -> None:
    """Open one connection, turning a refusal into StoreError."""
    path = sqlite_path(url)
    if path is not None:
        # A refusal seen by aiosqlite leaves its worker thread posting to the event loop after the failure;
        # asking plain sqlite3 first keeps that path for databases that really open.
        try:
            await asyncio.to_thread(_probe_sqlite, path)
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open the database at {path}: {_reason(exc)}.") from exc
    try:
        async with engine.connect() as conn:
            await conn.execute(select(literal(1)))
    except (OSError, SQLAlchemyError, TimeoutError) as exc:
        raise StoreError(f"Cannot open the database at {_display(url)}: {_reason(exc)}.") from exc


async def _migrate(engine: AsyncEngine, url: str, revision: str, *, downgrade: bool = False) -> None:
    """Ping, then migrate; any failure becomes one StoreError sentence (the cause stays chained)."""
    await _ping(engine, url)
    try:
        await _run_migration(engine, url, revision, downgrade=downgrade)
    except (OSError, SQLAlchemyError, TimeoutError) as exc:
        raise StoreError(f"Cannot migrate the database at {_display(url)}: {_reason(exc)}.") from exc


async def upgrade_database(url: str, revision: str = "head") -> None:
    """Apply the migrations up to `revision` (the newest by default); `paperboy db upgrade` calls this."""
    engine = create_engine_for(url)
    try:
        await _migrate(engine, url, revision)
    finally:
        await engine.dispose()


async def downgrade_database(url: str, revision: str) -> None:
    """Undo migrations down to `revision` ("base" removes every table)."""
    engine = create_engine_for(url)
    try:
        await _migrate(engine, url, revision, downgrade=True)
    finally:
        await engine.dispose()


async def open_store(url: str, *, migrate: bool = True, clock: Clock | None = None) -> SqlStore:
    """Open the store at `url`, migrating it first unless told not to; raise StoreError with a sentence."""
    engine = create_engine_for(url)
    try:
        if migrate:
            await _migrate(engine, url, "head")
        else:
            await _ping(engine, url)
            at, head = await current_revision(engine), await asyncio.to_thread(head_revision)
            if at != head:
                raise StoreError(
                    f"The database at {_display(url)} is at migration {at or 'none'}, not {head}; "
                    "run `paperboy db upgrade`."
                )
    except BaseException:
        await engine.dispose()
        raise
    return SqlStore(engine, clock=clock)


class _SystemClock:
    """UTC now, when no clock is given."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _paper_values(paper: Paper) -> dict[str, Any]:
    """The stored fields of a paper, as a row dictionary (without id and updated_at)."""
    return {name: getattr(paper, name) for name in _PAPER_FIELDS}


def _merge(base: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """`base` updated with what `later` actually carries; withdrawn, once true, stays true."""
    merged = dict(base)
    for name in _KEPT_WHEN_FALSY:
        value = later[name]
        if value:
            merged[name] = value
    for name in _KEPT_WHEN_NONE:
        value = later[name]
        if value is not None:
            merged[name] = value
    merged["withdrawn"] = bool(base["withdrawn"] or later["withdrawn"])
    return merged


def _paper_from_row(row: Any) -> Paper:
    """A domain Paper from a papers row."""
    mapping = row._mapping
    return Paper(
        arxiv_id=mapping["arxiv_id"],
        updated_at=mapping["updated_at"],
        **{name: mapping[name] for name in _PAPER_FIELDS},
    )


def _settings_from_row(row: Any) -> ChannelSettings:
    """A domain ChannelSettings from a channel_settings row."""
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


def _ref_values(channel: ChannelRef) -> dict[str, str]:
    """A channel reference as the three columns it is stored in."""
    return {"platform": channel.platform, "workspace": channel.workspace, "channel": channel.channel}


def _of_channel(table: Table, channel: ChannelRef) -> Any:
    """A WHERE clause naming all three parts of the channel, so workspaces never see each other."""
    return (
        (table.c.platform == channel.platform)
        & (table.c.workspace == channel.workspace)
        & (table.c.channel == channel.channel)
    )


def _of_channels(table: Table, channels: Sequence[ChannelRef]) -> Any:
    """A WHERE clause naming any of several channels, all three parts of each."""
    return tuple_(table.c.platform, table.c.workspace, table.c.channel).in_(
        [(c.platform, c.workspace, c.channel) for c in channels]
    )


def _of_workspace(table: Table, workspace: Workspace) -> Any:
    """A WHERE clause naming platform and workspace."""
    return (table.c.platform == workspace.platform) & (table.c.workspace == workspace.workspace)


def _affected(result: Any) -> int:
    """Rows an INSERT, UPDATE or DELETE touched."""
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def _delivery_from_row(row: Any) -> Delivery:
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


def _claimable(now: datetime) -> Any:
    """Deliveries a worker may claim: pending ones, and claimed ones whose lease ran out."""
    return (deliveries.c.state == DELIVERY_PENDING) | (
        (deliveries.c.state == DELIVERY_CLAIMED)
        & (deliveries.c.claimed_until.is_(None) | (deliveries.c.claimed_until < now))
    )


class _PaperCodec:
    """The papers table at the driver level, for bulk upserts.

    SQLAlchemy's per-row statement machinery costs more than SQLite's own work on a 5,000-paper batch, so
    the bulk path hands tuples straight to the driver's executemany. The values still go through each
    column type's own bind and result processors, so they are stored exactly as SQLAlchemy stores them.
    """

    def __init__(self, dialect: Dialect) -> None:
        self._sqlite = dialect.name == "sqlite"
        quote = dialect.identifier_preparer.quote
        written = (*_PAPER_FIELDS, "updated_at")
        encoders = [papers.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in written]
        self._field_encoders, self._stamp_encoder = encoders[:-1], encoders[-1]
        read_types = [papers.c[name].type.dialect_impl(dialect) for name in _PAPER_FIELDS]
        self._decoders = [t.result_processor(dialect, None) for t in read_types]

        def marks(count: int, first: int = 1) -> list[str]:
            return ["?"] * count if self._sqlite else [f"${n}" for n in range(first, first + count)]

        table = quote(papers.name)
        all_columns = ", ".join(quote(name) for name in ("arxiv_id", *written))
        self.insert_sql = f"INSERT INTO {table} ({all_columns}) VALUES ({', '.join(marks(len(written) + 1))})"
        assignments = ", ".join(
            f"{quote(name)} = {mark}" for name, mark in zip(written, marks(len(written)), strict=True)
        )
        self.update_sql = (
            f"UPDATE {table} SET {assignments} WHERE {quote('arxiv_id')} = {marks(1, len(written) + 1)[0]}"
        )
        read_columns = ", ".join(quote(name) for name in ("arxiv_id", *_PAPER_FIELDS))
        self._select_sql = f"SELECT {read_columns} FROM {table} WHERE {quote('arxiv_id')}"

    def select_sql(self, count: int) -> str:
        """SELECT of the stored fields of `count` ids."""
        if self._sqlite:
            return f"{self._select_sql} IN ({', '.join('?' * count)})"
        return f"{self._select_sql} = ANY($1)"

    def select_params(self, ids: Sequence[str]) -> tuple[Any, ...]:
        """The parameters of select_sql."""
        return tuple(ids) if self._sqlite else (list(ids),)

    def timestamp(self, moment: datetime) -> Any:
        """`updated_at` as the driver takes it."""
        encode = self._stamp_encoder
        return encode(moment) if encode is not None else moment

    def encode(self, values: dict[str, Any]) -> list[Any]:
        """The stored fields, in _PAPER_FIELDS order, as the driver takes them."""
        return [
            value if encode is None or value is None else encode(value)
            for encode, value in zip(
                self._field_encoders, [values[name] for name in _PAPER_FIELDS], strict=True
            )
        ]

    def decode(self, row: Sequence[Any]) -> tuple[str, dict[str, Any]]:
        """An id and its stored fields from a row of select_sql."""
        values = {
            name: value if decode is None or value is None else decode(value)
            for name, decode, value in zip(_PAPER_FIELDS, self._decoders, row[1:], strict=True)
        }
        values["withdrawn"] = bool(values["withdrawn"])
        return row[0], values


class _GroupCommit:
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
                async with _transaction(self._engine, write=True) as conn:
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
                async with _transaction(self._engine, write=True) as conn:
                    result = await work(conn)
            except Exception as error:
                if not future.done():
                    future.set_exception(error)
            else:
                if not future.done():
                    future.set_result(result)


class SqlStore(EmbeddingRows):
    """The `bot.ports.Store` on SQLite or PostgreSQL (and, for the semantic extra, paper embeddings)."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock | None = None) -> None:
        self.engine = engine
        self._clock: Clock = clock or _SystemClock()
        self._dialect = engine.dialect.name
        self._paper_codec = _PaperCodec(engine.dialect)
        self._group_commit = _GroupCommit(engine) if self._dialect == "sqlite" else None

    async def _write(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """One small write of the delivery path: grouped with others into one transaction on SQLite."""
        if self._group_commit is not None:
            return await self._group_commit.run(work)
        async with _transaction(self.engine, write=True) as conn:
            return await work(conn)

    def _now(self) -> datetime:
        """The clock's time in UTC."""
        return self._clock.now().astimezone(UTC)

    def _insert(self, table: Table) -> Any:
        """An INSERT that knows ON CONFLICT on this store's dialect."""
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    async def close(self) -> None:
        """Release every pooled connection."""
        await self.engine.dispose()

    # Papers

    async def upsert_papers(self, papers: Sequence[Paper]) -> UpsertCounts:
        """Insert new papers and merge known ones in one transaction; report new, updated and unchanged."""
        batch: dict[str, dict[str, Any]] = {}
        for paper in papers:
            values = _paper_values(paper)
            known = batch.get(paper.arxiv_id)
            batch[paper.arxiv_id] = values if known is None else _merge(known, values)
        if not batch:
            return UpsertCounts()

        codec = self._paper_codec
        new_rows: list[tuple[Any, ...]] = []
        changed_rows: list[tuple[Any, ...]] = []
        unchanged = 0
        async with _transaction(self.engine, write=True, lock=_PAPERS_LOCK) as conn:
            # Taken under the lock, so `updated_at` grows in commit order and index catch-up misses nothing.
            stamp = codec.timestamp(self._now())
            for chunk in _chunks(list(batch)):
                result = await conn.exec_driver_sql(codec.select_sql(len(chunk)), codec.select_params(chunk))
                stored = dict(codec.decode(row) for row in result)
                for arxiv_id in chunk:
                    incoming = batch[arxiv_id]
                    before = stored.get(arxiv_id)
                    if before is None:
                        new_rows.append((arxiv_id, *codec.encode(incoming), stamp))
                        continue
                    after = _merge(before, incoming)
                    if after == before:
                        unchanged += 1
                    else:
                        changed_rows.append((*codec.encode(after), stamp, arxiv_id))
            if new_rows:
                await conn.exec_driver_sql(codec.insert_sql, new_rows)
            if changed_rows:
                await conn.exec_driver_sql(codec.update_sql, changed_rows)
        return UpsertCounts(new=len(new_rows), updated=len(changed_rows), unchanged=unchanged)

    async def get_paper(self, arxiv_id: str) -> Paper | None:
        """One paper by its bare arXiv id, or None."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(papers).where(papers.c.arxiv_id == arxiv_id))).first()
        return _paper_from_row(row) if row is not None else None

    async def get_papers(self, arxiv_ids: Collection[str]) -> dict[str, Paper]:
        """Papers by id; unknown ids are left out."""
        found: dict[str, Paper] = {}
        async with self.engine.connect() as conn:
            for chunk in _chunks(list(dict.fromkeys(arxiv_ids))):
                result = await conn.execute(select(papers).where(papers.c.arxiv_id.in_(chunk)))
                for row in result:
                    found[row.arxiv_id] = _paper_from_row(row)
        return found

    async def papers_featured_between(self, first: date, last: date) -> list[Paper]:
        """Papers featured from `first` to `last` inclusive, withdrawn ones left out, oldest day first."""
        statement = (
            select(papers)
            .where(papers.c.featured_on.between(first, last), papers.c.withdrawn.is_(False))
            .order_by(papers.c.featured_on, papers.c.arxiv_id)
        )
        async with self.engine.connect() as conn:
            return [_paper_from_row(row) for row in await conn.execute(statement)]

    async def count_papers(self) -> int:
        """How many papers are stored."""
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(papers))).scalar_one())

    async def papers_changed_since(self, since: datetime | None, after_id: str, limit: int) -> list[Paper]:
        """Papers updated at or after `since` (all when None), ids after `after_id`, by id, up to `limit`."""
        statement = select(papers).where(papers.c.arxiv_id > after_id)
        if since is not None:
            statement = statement.where(papers.c.updated_at >= since)
        statement = statement.order_by(papers.c.arxiv_id).limit(limit)
        async with self.engine.connect() as conn:
            return [_paper_from_row(row) for row in await conn.execute(statement)]

    # Channels and topics

    async def get_settings(self, channel: ChannelRef) -> ChannelSettings | None:
        """The channel's settings, or None when it never set anything."""
        statement = select(channel_settings).where(_of_channel(channel_settings, channel))
        async with self.engine.connect() as conn:
            row = (await conn.execute(statement)).first()
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
            .values(**_ref_values(settings.channel), **values)
            .on_conflict_do_update(index_elements=["platform", "workspace", "channel"], set_=values)
        )
        async with _transaction(self.engine, write=True) as conn:
            await conn.execute(statement)

    async def list_topics(self, channel: ChannelRef) -> list[Topic]:
        """The channel's topics in the order they were added, numbered from 1."""
        statement = select(topics.c.query).where(_of_channel(topics, channel)).order_by(topics.c.id)
        async with self.engine.connect() as conn:
            queries = (await conn.execute(statement)).scalars().all()
        return [Topic(channel, query, position) for position, query in enumerate(queries, start=1)]

    async def add_topic(self, channel: ChannelRef, query: str) -> None:
        """Add a topic at the end of the channel's list."""
        statement = insert(topics).values(**_ref_values(channel), query=query, created_at=self._now())
        async with _transaction(self.engine, write=True) as conn:
            await conn.execute(statement)

    async def remove_topic(self, channel: ChannelRef, query: str) -> bool:
        """Remove a topic by its exact stored text; True when one was removed."""
        statement = delete(topics).where(_of_channel(topics, channel), topics.c.query == query)
        async with _transaction(self.engine, write=True) as conn:
            return _affected(await conn.execute(statement)) > 0

    async def list_channels(self) -> list[ChannelSettings]:
        """Every channel with settings, in a stable order."""
        statement = select(channel_settings).order_by(
            channel_settings.c.platform, channel_settings.c.workspace, channel_settings.c.channel
        )
        async with self.engine.connect() as conn:
            return [_settings_from_row(row) for row in await conn.execute(statement)]

    async def delete_workspace(self, workspace: Workspace) -> int:
        """Delete everything a workspace left here; return how many channels had settings or topics."""
        known_channels = union(
            select(channel_settings.c.channel).where(_of_workspace(channel_settings, workspace)),
            select(topics.c.channel).where(_of_workspace(topics, workspace)),
        ).subquery()
        async with _transaction(self.engine, write=True) as conn:
            removed = int((await conn.execute(select(func.count()).select_from(known_channels))).scalar_one())
            # Deliveries first: they point at digests.
            for table in (deliveries, digests, paper_messages, votes, topics, channel_settings):
                await conn.execute(delete(table).where(_of_workspace(table, workspace)))
        return removed

    # Votes

    async def cast_vote(self, vote: Vote) -> bool:
        """Record the vote; False when it was already there (also when two casts race)."""
        statement = (
            self._insert(votes)
            .values(
                platform=vote.platform,
                workspace=vote.workspace,
                user_id=vote.user,
                arxiv_id=vote.arxiv_id,
                created_at=self._now(),
            )
            .on_conflict_do_nothing(index_elements=["platform", "workspace", "user_id", "arxiv_id"])
        )
        async with _transaction(self.engine, write=True) as conn:
            return _affected(await conn.execute(statement)) > 0

    def _vote_key(self, vote: Vote) -> Any:
        """WHERE clause of one vote's primary key."""
        return (
            (votes.c.platform == vote.platform)
            & (votes.c.workspace == vote.workspace)
            & (votes.c.user_id == vote.user)
            & (votes.c.arxiv_id == vote.arxiv_id)
        )

    async def retract_vote(self, vote: Vote) -> bool:
        """Remove the vote; False when there was none."""
        async with _transaction(self.engine, write=True) as conn:
            return _affected(await conn.execute(delete(votes).where(self._vote_key(vote)))) > 0

    async def has_vote(self, vote: Vote) -> bool:
        """True when this person has voted for this paper in this workspace."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(literal(1)).where(self._vote_key(vote)))).first()
        return row is not None

    async def vote_counts(self, arxiv_ids: Collection[str], workspace: Workspace | None) -> dict[str, int]:
        """Votes per paper in one workspace, or everywhere when `workspace` is None; zero counts left out."""
        counts: dict[str, int] = {}
        async with self.engine.connect() as conn:
            for chunk in _chunks(list(dict.fromkeys(arxiv_ids))):
                statement = select(votes.c.arxiv_id, func.count()).where(votes.c.arxiv_id.in_(chunk))
                if workspace is not None:
                    statement = statement.where(_of_workspace(votes, workspace))
                for arxiv_id, count in await conn.execute(statement.group_by(votes.c.arxiv_id)):
                    counts[arxiv_id] = int(count)
        return counts

    # Digests and deliveries

    async def posted_paper_ids(self, channel: ChannelRef) -> set[str]:
        """Every paper a digest of this channel carried or is about to carry (failed deliveries aside)."""
        statement = (
            select(deliveries.c.arxiv_id)
            .distinct()
            .where(
                _of_channel(deliveries, channel),
                deliveries.c.arxiv_id.is_not(None),
                deliveries.c.state != DELIVERY_FAILED,
            )
        )
        async with self.engine.connect() as conn:
            return set((await conn.execute(statement)).scalars().all())

    async def create_digest(self, plan: DigestPlan) -> int | None:
        """Record a digest, its parent delivery and one per paper; None when that date has one already."""
        ref = _ref_values(plan.channel)
        digest = (
            self._insert(digests)
            .values(**ref, local_date=plan.local_date, topics=list(plan.topics), created_at=self._now())
            .on_conflict_do_nothing(index_elements=["platform", "workspace", "channel", "local_date"])
            .returning(digests.c.id)
        )
        try:
            async with _transaction(self.engine, write=True) as conn:
                digest_id = (await conn.execute(digest)).scalar_one_or_none()
                if digest_id is None:
                    return None
                messages: list[str | None] = [None, *(scored.paper.arxiv_id for scored in plan.papers)]
                rows = [
                    {
                        **ref,
                        "digest_id": digest_id,
                        "position": position,
                        "arxiv_id": arxiv_id,
                        "state": DELIVERY_PENDING,
                        "attempts": 0,
                    }
                    for position, arxiv_id in enumerate(messages)
                ]
                await conn.execute(insert(deliveries), rows)
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
        return [_delivery_from_row(row) for row in rows]

    async def mark_posted(self, delivery_id: int, message_id: str) -> None:
        """Record the platform message a delivery became, and which paper that message shows."""
        now = self._now()
        statement = (
            update(deliveries)
            .where(deliveries.c.id == delivery_id)
            .values(state=DELIVERY_POSTED, message_id=message_id, posted_at=now, claimed_until=None)
            .returning(
                deliveries.c.platform, deliveries.c.workspace, deliveries.c.channel, deliveries.c.arxiv_id
            )
        )

        async def write(conn: AsyncConnection) -> None:
            row = (await conn.execute(statement)).first()
            # A workspace deleted mid-delivery leaves nothing to mark; that is not an error.
            if row is not None and row.arxiv_id is not None:
                channel = ChannelRef(row.platform, row.workspace, row.channel)
                await conn.execute(self._remember(channel, message_id, row.arxiv_id))

        await self._write(write)

    def _remember(self, channel: ChannelRef, message_id: str, arxiv_id: str) -> Insert:
        """INSERT of a message->paper link that keeps the first link when told twice."""
        statement: Insert = (
            self._insert(paper_messages)
            .values(**_ref_values(channel), message_id=message_id, arxiv_id=arxiv_id, created_at=self._now())
            .on_conflict_do_nothing(index_elements=["platform", "workspace", "channel", "message_id"])
        )
        return statement

    async def remember_message(self, channel: ChannelRef, message_id: str, arxiv_id: str) -> None:
        """Remember that a bot message shows a paper, so that reactions on it count as votes."""
        async with _transaction(self.engine, write=True) as conn:
            await conn.execute(self._remember(channel, message_id, arxiv_id))

    async def paper_for_message(self, channel: ChannelRef, message_id: str) -> str | None:
        """The paper a bot message shows, or None when the message is not one of ours."""
        statement = select(paper_messages.c.arxiv_id).where(
            _of_channel(paper_messages, channel), paper_messages.c.message_id == message_id
        )
        async with self.engine.connect() as conn:
            return (await conn.execute(statement)).scalar_one_or_none()

    async def has_digest(self, channel: ChannelRef, local_date: date) -> bool:
        """True when the channel has a digest for that local date."""
        statement = select(digests.c.id).where(
            _of_channel(digests, channel), digests.c.local_date == local_date
        )
        async with self.engine.connect() as conn:
            return (await conn.execute(statement.limit(1))).first() is not None

    async def last_posted_at(self, channel: ChannelRef) -> datetime | None:
        """When a digest message was last posted to the channel, or None."""
        statement = select(func.max(deliveries.c.posted_at)).where(_of_channel(deliveries, channel))
        async with self.engine.connect() as conn:
            return (await conn.execute(statement)).scalar_one_or_none()

    # Delivery queue: claims, leases and attempts shared by every worker

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
        async with _transaction(self.engine, write=True) as conn:
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
        return [_delivery_from_row(row) for row in rows]

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
        async with _transaction(self.engine, write=True) as conn:
            return _affected(await conn.execute(statement))

    async def release_claims(self, worker: str) -> int:
        """Hand back what `worker` claimed but did not post; the attempts made stay counted."""
        statement = (
            update(deliveries)
            .where(deliveries.c.state == DELIVERY_CLAIMED, deliveries.c.claimed_by == worker)
            .values(state=DELIVERY_PENDING, claimed_by=None, claimed_until=None)
        )
        async with _transaction(self.engine, write=True) as conn:
            return _affected(await conn.execute(statement))

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
        async with _transaction(self.engine, write=True) as conn:
            return _affected(await conn.execute(statement))

    async def mark_failed(self, delivery_ids: Collection[int], reason: str) -> None:
        """Give up these deliveries for good."""
        if not delivery_ids:
            return
        statement = (
            update(deliveries)
            .where(deliveries.c.id.in_(list(delivery_ids)), deliveries.c.state != DELIVERY_POSTED)
            .values(state=DELIVERY_FAILED, last_error=reason[:1000], claimed_until=None)
        )
        async with _transaction(self.engine, write=True) as conn:
            await conn.execute(statement)

    async def record_error(self, delivery_id: int, error: str) -> None:
        """Remember why the last attempt at a delivery failed."""
        statement = update(deliveries).where(deliveries.c.id == delivery_id).values(last_error=error[:1000])
        async with _transaction(self.engine, write=True) as conn:
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

    async def digest_topics(self, digest_id: int) -> tuple[str, ...]:
        """The topics a digest was planned for."""
        async with self.engine.connect() as conn:
            found = (await conn.execute(select(digests.c.topics).where(digests.c.id == digest_id))).scalar()
        return tuple(found or ())

    async def delivery_counts(self, channel: ChannelRef, local_date: date) -> dict[str, int]:
        """Deliveries of the channel's digest for that date, counted by state."""
        statement = (
            select(deliveries.c.state, func.count())
            .join(digests, digests.c.id == deliveries.c.digest_id)
            .where(_of_channel(digests, channel), digests.c.local_date == local_date)
            .group_by(deliveries.c.state)
        )
        async with self.engine.connect() as conn:
            return {str(state): int(count) for state, count in await conn.execute(statement)}

    # Many channels at once, for the scheduler's tick

    async def digest_keys(self, local_dates: Collection[date]) -> set[tuple[ChannelRef, date]]:
        """The (channel, local date) pairs that have a digest, among those dates."""
        if not local_dates:
            return set()
        statement = select(
            digests.c.platform, digests.c.workspace, digests.c.channel, digests.c.local_date
        ).where(digests.c.local_date.in_(sorted(local_dates)))
        async with self.engine.connect() as conn:
            rows = await conn.execute(statement)
            return {(ChannelRef(r.platform, r.workspace, r.channel), r.local_date) for r in rows}

    async def create_digests(self, plans: Sequence[DigestPlan]) -> list[int | None]:
        """Record many digests and their deliveries in one transaction; None where the date had one."""
        created: dict[tuple[ChannelRef, date], int] = {}
        now = self._now()
        async with _transaction(self.engine, write=True) as conn:
            for start in range(0, len(plans), _PLANS_PER_INSERT):
                chunk = plans[start : start + _PLANS_PER_INSERT]
                rows = [
                    {
                        **_ref_values(p.channel),
                        "local_date": p.local_date,
                        "topics": list(p.topics),
                        "created_at": now,
                    }
                    for p in chunk
                ]
                statement = (
                    self._insert(digests)
                    .values(rows)
                    .on_conflict_do_nothing(index_elements=["platform", "workspace", "channel", "local_date"])
                    .returning(
                        digests.c.id,
                        digests.c.platform,
                        digests.c.workspace,
                        digests.c.channel,
                        digests.c.local_date,
                    )
                )
                for row in await conn.execute(statement):
                    created[(ChannelRef(row.platform, row.workspace, row.channel), row.local_date)] = int(
                        row.id
                    )
            messages = []
            for plan in plans:
                digest_id = created.get((plan.channel, plan.local_date))
                if digest_id is None:
                    continue
                papers: list[str | None] = [None, *(scored.paper.arxiv_id for scored in plan.papers)]
                messages += [
                    {
                        **_ref_values(plan.channel),
                        "digest_id": digest_id,
                        "position": position,
                        "arxiv_id": arxiv_id,
                        "state": DELIVERY_PENDING,
                        "attempts": 0,
                    }
                    for position, arxiv_id in enumerate(papers)
                ]
            if messages:
                await conn.execute(insert(deliveries), messages)
        return [created.get((plan.channel, plan.local_date)) for plan in plans]

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
            for start in range(0, len(refs), _CHANNELS_PER_QUERY):
                chunk = refs[start : start + _CHANNELS_PER_QUERY]
                for id_chunk in _chunks(ids, _CHANNELS_PER_QUERY):
                    statement = (
                        select(
                            deliveries.c.platform,
                            deliveries.c.workspace,
                            deliveries.c.channel,
                            deliveries.c.arxiv_id,
                        )
                        .distinct()
                        .where(
                            _of_channels(deliveries, chunk),
                            deliveries.c.arxiv_id.in_(list(id_chunk)),
                            deliveries.c.state != DELIVERY_FAILED,
                        )
                    )
                    for row in await conn.execute(statement):
                        found.setdefault(ChannelRef(row.platform, row.workspace, row.channel), set()).add(
                            row.arxiv_id
                        )
        return found

    async def topics_of(self, channels: Collection[ChannelRef]) -> dict[ChannelRef, list[Topic]]:
        """The topics of many channels, each list in the order they were added, numbered from 1."""
        queries: dict[ChannelRef, list[str]] = {}
        refs = list(dict.fromkeys(channels))
        async with self.engine.connect() as conn:
            for start in range(0, len(refs), _CHANNELS_PER_QUERY):
                chunk = refs[start : start + _CHANNELS_PER_QUERY]
                statement = (
                    select(topics.c.platform, topics.c.workspace, topics.c.channel, topics.c.query)
                    .where(_of_channels(topics, chunk))
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
