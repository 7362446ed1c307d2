"""The arXiv metadata snapshot: one JSON object a line, streamed into the store and the index in batches."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import gzip
import io
import json
import logging
import os
import pickle
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import orjson
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bot.bulk import young_garbage_only
from bot.domain import Paper, UpsertCounts
from bot.ids import InvalidPaperId, normalize_arxiv_id
from bot.ports import PaperRepository, SearchIndex

log = logging.getLogger(__name__)

# Broken lines are logged one by one up to this many; the counts tell the rest.
_LOGGED_BROKEN_LINES = 10
# Bulk loads commit the index about this often rather than after every batch: a commit flushes a segment.
INDEX_COMMIT_EVERY = 100_000
# Snapshots from this size on are parsed by a worker process, on another core than the store and the index;
# smaller ones are parsed here (a worker takes about half a second to start).
PARSE_IN_WORKER_BYTES = 16_000_000


class SnapshotLineInvalid(ValueError):
    """A snapshot line that is not a usable paper record."""


@runtime_checkable
class BulkIndex(Protocol):
    """An index that can take papers now and make them visible later, in one commit."""

    async def stage_papers(self, papers: Sequence[Paper]) -> None:
        """Index papers without committing."""
        ...

    async def stage_stored(self, counts: UpsertCounts) -> bool:
        """Index what one store write stored, without committing; its stamps let the index move its mark."""
        ...

    async def commit(self) -> None:
        """Make everything staged visible."""
        ...


def _text(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    # split/join collapses white space several times faster than a regular expression.
    return " ".join(value.split())


def _optional_text(value: Any) -> str | None:
    return _text(value) or None


def _name(parts: Any) -> str:
    """'First Last Suffix' from a snapshot `authors_parsed` entry [last, first, suffix]."""
    if not isinstance(parts, list) or not parts:
        return ""
    last = parts[0] if isinstance(parts[0], str) else ""
    first = parts[1] if len(parts) > 1 and isinstance(parts[1], str) else ""
    suffix = parts[2] if len(parts) > 2 and isinstance(parts[2], str) else ""
    return " ".join(f"{first} {last} {suffix}".split())


def _authors(record: dict[str, Any]) -> list[str]:
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        return [name for name in map(_name, parsed) if name]
    # Older dumps lack authors_parsed: fall back on the free-text list.
    raw = _text(record.get("authors"))
    return [name.strip() for name in re.split(r",|\band\b", raw) if name.strip()]


_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1
    )
}


def _rfc2822_day(text: str) -> date | None:
    """The date of an RFC 2822 time such as 'Mon, 2 Apr 2007 19:18:42 GMT'."""
    # The snapshot always writes this one shape; reading it by hand is several times faster than email.utils.
    parts = text.split()
    if len(parts) >= 4 and parts[2] in _MONTHS and parts[1].isdigit() and parts[3].isdigit():
        with contextlib.suppress(ValueError):
            return date(int(parts[3]), _MONTHS[parts[2]], int(parts[1]))
    with contextlib.suppress(TypeError, ValueError, IndexError):
        return parsedate_to_datetime(text).date()
    return None


def _published(record: dict[str, Any]) -> date | None:
    versions = record.get("versions")
    if isinstance(versions, list) and versions and isinstance(versions[0], dict):
        created = versions[0].get("created")
        if isinstance(created, str) and (day := _rfc2822_day(created)) is not None:
            return day
    update_date = record.get("update_date")
    if isinstance(update_date, str):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(update_date.strip())
    return None


def paper_from_record(record: Any) -> Paper:
    """Map one snapshot record to a Paper; raise SnapshotLineInvalid when it has no id or title."""
    if not isinstance(record, dict):
        raise SnapshotLineInvalid("not a JSON object")
    raw_id = record.get("id")
    title = _text(record.get("title"))
    if not isinstance(raw_id, str) or not title:
        raise SnapshotLineInvalid("no id or title")
    try:
        # The same normal form as every other way a paper comes in, so a re-ingest meets the same row.
        arxiv_id = normalize_arxiv_id(raw_id)
    except InvalidPaperId as exc:
        raise SnapshotLineInvalid(f"{raw_id[:40]!r} is not an arXiv id") from exc
    categories = record.get("categories")
    return Paper(
        arxiv_id=arxiv_id,
        title=title,
        authors=_authors(record),
        abstract=_text(record.get("abstract")),
        published=_published(record),
        categories=categories.split() if isinstance(categories, str) else [],
        comment=_optional_text(record.get("comments")),
        journal_ref=_optional_text(record.get("journal-ref")),
        doi=_optional_text(record.get("doi")),
    )


def parse_line(line: str | bytes) -> Paper | None:
    """A paper from one snapshot line; None for a blank line; SnapshotLineInvalid when broken."""
    if not line.strip():
        return None
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        # The standard parser is slower but takes a little more (a lone surrogate, NaN): lines it read stay read.
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise SnapshotLineInvalid(f"not JSON ({exc})") from exc
    return paper_from_record(record)


@dataclass(slots=True)
class _Batch:
    papers: list[Paper]
    skipped: int
    bytes_read: int
    # What to log about the broken lines of this batch (the reader may be another process).
    warnings: list[str]


def _open(path: Path) -> io.BufferedIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def _batches(handle: io.BufferedIOBase, size: int) -> Iterator[_Batch]:
    """Batches of up to `size` papers, deduplicated by id (the last line wins), with broken lines counted."""
    papers: dict[str, Paper] = {}
    warnings: list[str] = []
    skipped = read = line_number = broken = 0
    for line in handle:
        line_number += 1
        read += len(line)
        try:
            paper = parse_line(line)
        except SnapshotLineInvalid as exc:
            skipped += 1
            broken += 1
            if broken <= _LOGGED_BROKEN_LINES:
                warnings.append(f"Snapshot line {line_number} skipped: {exc}.")
            continue
        if paper is None:
            continue
        papers.pop(paper.arxiv_id, None)
        papers[paper.arxiv_id] = paper
        if len(papers) >= size:
            yield _Batch(list(papers.values()), skipped, read, warnings)
            papers, skipped, read, warnings = {}, 0, 0, []
    if broken > _LOGGED_BROKEN_LINES:
        warnings.append(
            f"{broken} snapshot lines skipped in all (the first {_LOGGED_BROKEN_LINES} are logged)."
        )
    if papers or skipped or read or warnings:
        yield _Batch(list(papers.values()), skipped, read, warnings)


class _BatchSource(Protocol):
    """Where the ingest takes the snapshot's batches from, in order."""

    def next(self) -> _Batch | None:
        """The next batch, None at the end (blocking: call it in a thread)."""
        ...

    def close(self) -> None:
        """Let go of the file (and of the worker)."""
        ...


class _ParsedHere:
    """The snapshot's batches, parsed in a thread of this process."""

    def __init__(self, path: Path, size: int) -> None:
        self._handle = _open(path)
        self._batches = _batches(self._handle, size)

    def next(self) -> _Batch | None:
        """The next batch, None at the end (blocking: call it in a thread)."""
        return next(self._batches, None)

    def close(self) -> None:
        """Close the file (no batch may be in the making)."""
        self._handle.close()


class SnapshotReadFailed(OSError):
    """The worker process could not read the snapshot."""


# A batch crosses from the worker as its pickle's length (8 bytes, big-endian) and the pickle; the last item is
# None, or the exception that stopped the worker.
_LENGTH_BYTES = 8


def parse_to_stdout(path: Path, size: int) -> None:
    """The worker process: write the snapshot's batches to standard output, then None (or what went wrong)."""
    out = os.fdopen(os.dup(1), "wb")
    # Nothing else may write to the stream the batches travel on.
    sys.stdout = sys.stderr

    def send(item: object) -> None:
        data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(len(data).to_bytes(_LENGTH_BYTES, "big"))
        out.write(data)

    try:
        with _open(path) as handle:
            for batch in _batches(handle, size):
                send(batch)
    except Exception as exc:  # the reader raises it: a worker has nobody else to tell
        send(SnapshotReadFailed(f"Reading {path} failed: {exc!r}"))
    else:
        send(None)
    out.close()


class _ParsedInWorker:
    """The snapshot's batches, parsed by a worker process while this one stores and indexes (two cores).

    The worker reads the file itself, so only parsed papers cross over (pickled, several times cheaper than
    parsing). It is a new interpreter running this module, not a fork (this process has threads, of the
    database and the index, that a fork would copy mid-work) nor multiprocessing's spawn (which runs the
    caller's main module again).
    """

    def __init__(self, path: Path, size: int) -> None:
        # The worker imports this very code, wherever it was imported from here.
        root = str(Path(__file__).resolve().parents[2])
        paths = [root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from pathlib import Path; from adapters.sources.snapshot import parse_to_stdout; "
                "parse_to_stdout(Path(sys.argv[1]), int(sys.argv[2]))",
                str(path),
                str(size),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            env=env,
        )
        assert self._process.stdout is not None
        self._stream = self._process.stdout

    def next(self) -> _Batch | None:
        """The next batch, None at the end (blocking: call it in a thread)."""
        header = self._stream.read(_LENGTH_BYTES)
        data = self._stream.read(int.from_bytes(header, "big")) if len(header) == _LENGTH_BYTES else b""
        if not data:
            code = self._process.wait()
            raise SnapshotReadFailed(f"The snapshot parser stopped (exit code {code}).")
        item = pickle.loads(data)
        if isinstance(item, BaseException):
            raise item
        return item if isinstance(item, _Batch) else None

    def close(self) -> None:
        """Stop the worker if it still runs, and wait for it."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._stream.close()


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]ingest snapshot"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[papers]:,} papers"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )


class _IndexFeeder:
    """Writes batches to the index in the background, one at a time and in order, committing now and then."""

    def __init__(self, index: SearchIndex) -> None:
        self._index = index
        self._bulk = index if isinstance(index, BulkIndex) else None
        self._running: asyncio.Task[None] | None = None
        self._uncommitted = 0

    async def feed(self, papers: list[Paper], counts: UpsertCounts) -> None:
        """Start indexing a batch (`counts`: what the store did with it) once the previous one is done."""
        await self.wait()
        self._running = asyncio.create_task(self._write(papers, counts))

    async def _write(self, papers: list[Paper], counts: UpsertCounts) -> None:
        if self._bulk is None:
            await self._index.add_papers(papers)
            return
        if counts.stamp is not None:
            # What the store holds now (a merge may differ from the line read), and nothing it left unchanged.
            await self._bulk.stage_stored(counts)
        else:
            await self._bulk.stage_papers(papers)
        self._uncommitted += len(papers)
        if self._uncommitted >= INDEX_COMMIT_EVERY:
            await self._bulk.commit()
            self._uncommitted = 0

    async def wait(self) -> None:
        """Wait for the batch being indexed."""
        running, self._running = self._running, None
        if running is not None:
            await running

    async def finish(self) -> None:
        """Index what is left and make everything visible, even after a failure elsewhere."""
        try:
            await self.wait()
        finally:
            if self._bulk is not None:
                await self._bulk.commit()


async def ingest_snapshot(
    path: Path,
    store: PaperRepository,
    index: SearchIndex,
    *,
    batch_size: int = 5000,
    progress: bool = True,
    parse_in_worker: bool | None = None,
) -> UpsertCounts:
    """Stream an arXiv metadata snapshot into the store and the index; broken lines are counted, skipped.

    `parse_in_worker` (default: for snapshots of PARSE_IN_WORKER_BYTES or more) parses in a worker process.
    """
    counts = UpsertCounts()
    size = (await asyncio.to_thread(path.stat)).st_size
    total_bytes = None if path.suffix == ".gz" else size
    if parse_in_worker is None:
        parse_in_worker = size >= PARSE_IN_WORKER_BYTES
    source: _BatchSource = await asyncio.to_thread(
        _ParsedInWorker if parse_in_worker else _ParsedHere, path, batch_size
    )
    feeder = _IndexFeeder(index)
    # Three stages overlap: parsing batch N+1 (a thread or the worker), storing batch N, indexing batch N-1.
    parsing: asyncio.Future[_Batch | None] = asyncio.ensure_future(asyncio.to_thread(source.next))
    try:
        with _progress(progress) as bar, young_garbage_only():
            task = bar.add_task("ingest", total=total_bytes, papers=0)
            done = 0
            while (batch := await parsing) is not None:
                parsing = asyncio.ensure_future(asyncio.to_thread(source.next))
                for warning in batch.warnings:
                    log.warning("%s", warning)
                counts = counts + UpsertCounts(skipped=batch.skipped)
                if batch.papers:
                    # The store first: the index never holds a paper the store has not taken.
                    written = await store.upsert_papers(batch.papers)
                    counts = counts + written
                    await feeder.feed(batch.papers, written)
                done += len(batch.papers)
                bar.update(task, advance=batch.bytes_read, papers=done)
                gc.collect(1)
    finally:
        with contextlib.suppress(Exception):
            # Let a parse in flight end before the file closes under it.
            await parsing
        try:
            await feeder.finish()
        finally:
            await asyncio.to_thread(source.close)
    return counts
