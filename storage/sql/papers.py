"""Papers in the SQL store: bulk upserts that merge what each source knows, and reads for search and digests."""

from __future__ import annotations

import asyncio
import json
import operator
from collections.abc import AsyncGenerator, Callable, Collection, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any

import orjson
from sqlalchemy import Row, func, select, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import JSON, NullType

from bot.domain import Paper, UpsertCounts
from storage.sql.base import StorePart, chunks
from storage.sql.tables import PaperRow, papers
from storage.sql.transactions import transaction

# Key of the pg_advisory_xact_lock an upsert holds. One writer of papers at a time keeps `updated_at` in commit
# order (the search index catches up by it) and makes the read-merge-write of an upsert safe.
_PAPERS_LOCK = 0x70617065  # "pape"
# The smallest step between two stamps that both databases keep (microseconds).
_STAMP_STEP = timedelta(microseconds=1)

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


# Lists of strings the fast JSON encoder and decoder are checked on against SQLAlchemy's own processors.
_JSON_SAMPLES: tuple[list[str], ...] = (
    [],
    ["a"],
    ["Ada Lovelace", "é ü 中", 'q"\\/', "\x00\n\t", "\U0001f600"],
)
_encode_json_string: Callable[[str], str] = json.encoder.encode_basestring_ascii


def _json_strings(items: list[str]) -> str:
    """A list of strings as json.dumps writes it, made by its C string encoder alone (several times faster)."""
    return "[" + ", ".join(map(_encode_json_string, items)) + "]"


Processor = Callable[[Any], Any]


def _fast_json_encoder(processor: Processor) -> Processor:
    """The JSON column's bind processor, or a faster one for lists of strings when it writes the same text."""
    if any(processor(sample) != _json_strings(sample) for sample in _JSON_SAMPLES):
        return processor
    slow = processor

    def encode(value: Any) -> Any:
        if type(value) is list:
            try:
                return _json_strings(value)
            except TypeError:  # an item that is no string
                pass
        return slow(value)

    return encode


def _fast_date_encoder(processor: Processor) -> Processor:
    """A bind processor, or date.isoformat when it is one for dates that writes the same (SQLite's DATE)."""
    samples = (date(2025, 1, 2), date(999, 12, 31), date(1, 1, 1), date(9999, 12, 31))
    try:
        same = all(processor(sample) == sample.isoformat() for sample in samples)
    except (TypeError, ValueError, AttributeError):  # a processor of something else than dates
        return processor
    if not same:
        return processor
    slow = processor

    def encode(value: Any) -> Any:
        return value.isoformat() if type(value) is date else slow(value)

    return encode


def _fast_json_decoder(processor: Processor) -> Processor:
    """The JSON column's result processor, or orjson when it reads the samples the same (falling back on it)."""
    texts = [_json_strings(sample) for sample in _JSON_SAMPLES]
    if any(processor(text) != orjson.loads(text) for text in texts):
        return processor
    slow = processor

    def decode(value: Any) -> Any:
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:  # what orjson refuses and json takes, such as a lone surrogate
            return slow(value)

    return decode


# The id, the stored fields and `updated_at`, without SQLAlchemy's result processing (the codec decodes them).
_RAW_COLUMNS = [
    type_coerce(papers.c[name], NullType()).label(name) for name in ("arxiv_id", *_PAPER_FIELDS, "updated_at")
]


# A paper's stored fields, and a row dictionary's, as tuples in _PAPER_FIELDS order (read in C).
_fields_of_paper = operator.attrgetter(*_PAPER_FIELDS)
_fields_of_values = operator.itemgetter(*_PAPER_FIELDS)


def _paper_values(paper: Paper) -> dict[str, Any]:
    """The stored fields of a paper, as a row dictionary (without id and updated_at)."""
    return dict(zip(_PAPER_FIELDS, _fields_of_paper(paper), strict=True))


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


def paper_from_row(row: PaperRow | Row[Any]) -> Paper:
    """A domain Paper from a papers row, read as its model or as Core's row."""
    return Paper(
        arxiv_id=row.arxiv_id,
        updated_at=row.updated_at,
        **{name: getattr(row, name) for name in _PAPER_FIELDS},
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
        types = {name: papers.c[name].type.dialect_impl(dialect) for name in ("arxiv_id", *written)}
        json_fields = {name for name, column in types.items() if isinstance(column, JSON)}
        binds = {name: types[name].bind_processor(dialect) for name in written}
        self._stamp_encoder = binds["updated_at"]
        # Only the fields whose values need encoding, by their place in _PAPER_FIELDS.
        self._field_encoders = [
            (place, _fast_json_encoder(bind) if name in json_fields else _fast_date_encoder(bind))
            for place, name in enumerate(_PAPER_FIELDS)
            if (bind := binds[name]) is not None
        ]
        # Only the fields whose values need decoding, so that a row's other values are taken as they are.
        self._decoders = [
            (name, _fast_json_decoder(decode) if name in json_fields else decode)
            for name in _PAPER_FIELDS
            if (decode := types[name].result_processor(dialect, None)) is not None
        ]
        self._stamp_decoder = papers.c.updated_at.type.dialect_impl(dialect).result_processor(dialect, None)

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
        row = list(_fields_of_values(values))
        for place, encode in self._field_encoders:
            value = row[place]
            if value is not None:
                row[place] = encode(value)
        return row

    def papers(self, rows: Sequence[Sequence[Any]]) -> list[Paper]:
        """Papers from rows of `raw_columns` (the id, the stored fields, `updated_at`), as the driver gave them."""
        decode_stamp = self._stamp_decoder
        found = []
        for row in rows:
            arxiv_id, values = self.decode(row[:-1])
            stamp = row[-1] if decode_stamp is None or row[-1] is None else decode_stamp(row[-1])
            found.append(Paper(arxiv_id=arxiv_id, updated_at=stamp, **values))
        return found

    def decode(self, row: Sequence[Any]) -> tuple[str, dict[str, Any]]:
        """An id and its stored fields from a row of select_sql."""
        values = dict(zip(_PAPER_FIELDS, row[1:], strict=True))
        for name, decode in self._decoders:
            value = values[name]
            if value is not None:
                values[name] = decode(value)
        values["withdrawn"] = bool(values["withdrawn"])
        return row[0], values


class PaperRows(StorePart):
    """The papers table: the store's `PaperRepository`.

    One paper is read as its model; many (a digest's candidates, the search index's catch-up, thousands at a
    time) as Core rows, which skip the ORM's per-object bookkeeping.
    """

    @cached_property
    def _paper_codec(self) -> _PaperCodec:
        """The driver-level statements of upserts, built once for this store's dialect."""
        return _PaperCodec(self.engine.dialect)

    async def upsert_papers(self, papers: Sequence[Paper]) -> UpsertCounts:
        """Insert new papers and merge known ones in one transaction; report new, updated and unchanged, the
        stamp of the write, the newest stamp before it, and the papers it stored."""
        batch: dict[str, dict[str, Any]] = {}
        # Each id's paper as given, or None when several were merged: a new paper given once is stored as is.
        given: dict[str, Paper | None] = {}
        for paper in papers:
            values = _paper_values(paper)
            known = batch.get(paper.arxiv_id)
            if known is None:
                batch[paper.arxiv_id] = values
                given[paper.arxiv_id] = paper
            else:
                batch[paper.arxiv_id] = _merge(known, values)
                given[paper.arxiv_id] = None
        if not batch:
            return UpsertCounts()

        codec = self._paper_codec
        new_rows: list[tuple[Any, ...]] = []
        changed_rows: list[tuple[Any, ...]] = []
        stored: list[Paper] = []
        unchanged = 0
        async with transaction(self.engine, write=True, lock=_PAPERS_LOCK) as conn:
            stamp, previous = await self._next_stamp(conn)
            encoded_stamp = codec.timestamp(stamp)
            for chunk in chunks(list(batch)):
                result = await conn.exec_driver_sql(codec.select_sql(len(chunk)), codec.select_params(chunk))
                found = dict(codec.decode(row) for row in result)
                for arxiv_id in chunk:
                    incoming = batch[arxiv_id]
                    before = found.get(arxiv_id)
                    if before is None:
                        new_rows.append((arxiv_id, *codec.encode(incoming), encoded_stamp))
                        stored.append(given[arxiv_id] or Paper(arxiv_id=arxiv_id, **incoming))
                        continue
                    after = _merge(before, incoming)
                    if after == before:
                        unchanged += 1
                    else:
                        changed_rows.append((*codec.encode(after), encoded_stamp, arxiv_id))
                        stored.append(Paper(arxiv_id=arxiv_id, **after))
            if new_rows:
                await conn.exec_driver_sql(codec.insert_sql, new_rows)
            if changed_rows:
                await conn.exec_driver_sql(codec.update_sql, changed_rows)
        return UpsertCounts(
            new=len(new_rows),
            updated=len(changed_rows),
            unchanged=unchanged,
            stamp=stamp,
            previous=previous,
            stored=tuple(stored),
        )

    async def _next_stamp(self, conn: AsyncConnection) -> tuple[datetime, datetime | None]:
        """The `updated_at` of this write, and the newest stamp before it (None when no paper is stored).

        The stamp is now, or just after the newest when a clock lags behind it. Taken under the writers' lock
        (PostgreSQL's advisory lock, SQLite's write lock), so every transaction that commits later is stamped
        later than any committed row, whatever the clocks of the processes and replicas that write. Index
        catch-up relies on it: what it has not seen is stamped after its mark.
        """
        newest: datetime | None = (await conn.execute(select(func.max(papers.c.updated_at)))).scalar_one()
        now = self._now()
        if newest is None:
            return now, None
        newest = newest.astimezone(UTC)
        return max(now, newest + _STAMP_STEP), newest

    async def get_paper(self, arxiv_id: str) -> Paper | None:
        """One paper by its bare arXiv id, or None."""
        row = await self._get(PaperRow, arxiv_id)
        return paper_from_row(row) if row is not None else None

    async def get_papers(self, arxiv_ids: Collection[str]) -> dict[str, Paper]:
        """Papers by id; unknown ids are left out."""
        found: dict[str, Paper] = {}
        async with self.engine.connect() as conn:
            for chunk in chunks(list(dict.fromkeys(arxiv_ids))):
                result = await conn.execute(select(papers).where(papers.c.arxiv_id.in_(chunk)))
                for row in result:
                    found[row.arxiv_id] = paper_from_row(row)
        return found

    async def papers_featured_between(self, first: date, last: date) -> list[Paper]:
        """Papers featured from `first` to `last` inclusive, withdrawn ones left out, oldest day first."""
        statement = (
            select(papers)
            .where(papers.c.featured_on.between(first, last), papers.c.withdrawn.is_(False))
            .order_by(papers.c.featured_on, papers.c.arxiv_id)
        )
        async with self.engine.connect() as conn:
            return [paper_from_row(row) for row in await conn.execute(statement)]

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
            return [paper_from_row(row) for row in await conn.execute(statement)]

    async def papers_changed_after(
        self, mark: datetime | None, batch: int
    ) -> AsyncGenerator[list[Paper], None]:
        """Papers stamped after `mark` (all when None), oldest stamp first, `batch` at a time.

        One query, read as one snapshot of the store: every paper committed later is stamped after the newest
        stamp it returns (see `_next_stamp`), so that stamp is a mark the next read can start from. The range
        on `updated_at` is its index's, so a read with nothing new finds nothing in one indexed lookup. Rows
        come as the driver gives them and become papers in a worker thread: a large read (a new replica's
        index) must not hold the event loop while a batch is decoded.
        """
        codec = self._paper_codec
        statement = select(*_RAW_COLUMNS).order_by(papers.c.updated_at)
        if mark is not None:
            statement = statement.where(papers.c.updated_at > mark)
        async with self.engine.connect() as conn:
            result = await conn.stream(statement.execution_options(yield_per=batch))
            async for rows in result.partitions(batch):
                yield await asyncio.to_thread(codec.papers, rows)
