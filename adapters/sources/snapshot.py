"""The arXiv metadata snapshot: one JSON object a line, streamed into the store and the index in batches."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bot.domain import Paper, UpsertCounts
from bot.ports import PaperRepository, SearchIndex

log = logging.getLogger(__name__)

_SPACES = re.compile(r"\s+")
_VERSION = re.compile(r"v\d+$")
# Bulk loads commit the index about this often rather than after every batch: a commit flushes a segment.
INDEX_COMMIT_EVERY = 100_000


class SnapshotLineInvalid(ValueError):
    """A snapshot line that is not a usable paper record."""


@runtime_checkable
class BulkIndex(Protocol):
    """An index that can take papers now and make them visible later, in one commit."""

    async def stage_papers(self, papers: Sequence[Paper]) -> None:
        """Index papers without committing."""
        ...

    async def commit(self) -> None:
        """Make everything staged visible."""
        ...


def _text(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    return _SPACES.sub(" ", value).strip()


def _optional_text(value: Any) -> str | None:
    return _text(value) or None


def _name(parts: Any) -> str:
    """'First Last Suffix' from a snapshot `authors_parsed` entry [last, first, suffix]."""
    if not isinstance(parts, list):
        return ""
    last = _text(parts[0]) if len(parts) > 0 else ""
    first = _text(parts[1]) if len(parts) > 1 else ""
    suffix = _text(parts[2]) if len(parts) > 2 else ""
    return " ".join(part for part in (first, last, suffix) if part)


def _authors(record: dict[str, Any]) -> list[str]:
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        return [name for name in (_name(entry) for entry in parsed) if name]
    # Older dumps lack authors_parsed: fall back on the free-text list.
    raw = _text(record.get("authors"))
    return [name.strip() for name in re.split(r",|\band\b", raw) if name.strip()]


def _published(record: dict[str, Any]) -> date | None:
    versions = record.get("versions")
    if isinstance(versions, list) and versions and isinstance(versions[0], dict):
        created = versions[0].get("created")
        if isinstance(created, str):
            with contextlib.suppress(TypeError, ValueError, IndexError):
                return parsedate_to_datetime(created).date()
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
    if not isinstance(raw_id, str) or not raw_id.strip() or not title:
        raise SnapshotLineInvalid("no id or title")
    categories = record.get("categories")
    return Paper(
        arxiv_id=_VERSION.sub("", raw_id.strip()),
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
        record = json.loads(line)
    except ValueError as exc:
        raise SnapshotLineInvalid(f"not JSON ({exc})") from exc
    return paper_from_record(record)


@dataclass(slots=True)
class _Batch:
    papers: list[Paper]
    skipped: int
    bytes_read: int


def _open(path: Path) -> io.BufferedIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def _batches(handle: io.BufferedIOBase, size: int) -> Iterator[_Batch]:
    """Batches of up to `size` papers, deduplicated by id (the last line wins), with broken lines counted."""
    papers: dict[str, Paper] = {}
    skipped = 0
    read = 0
    line_number = 0
    for line in handle:
        line_number += 1
        read += len(line)
        try:
            paper = parse_line(line)
        except SnapshotLineInvalid as exc:
            skipped += 1
            log.warning("Snapshot line %d skipped: %s.", line_number, exc)
            continue
        if paper is None:
            continue
        papers.pop(paper.arxiv_id, None)
        papers[paper.arxiv_id] = paper
        if len(papers) >= size:
            yield _Batch(list(papers.values()), skipped, read)
            papers, skipped, read = {}, 0, 0
    if papers or skipped or read:
        yield _Batch(list(papers.values()), skipped, read)


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


async def ingest_snapshot(
    path: Path,
    store: PaperRepository,
    index: SearchIndex,
    *,
    batch_size: int = 5000,
    progress: bool = True,
) -> UpsertCounts:
    """Stream an arXiv metadata snapshot into the store and the index; broken lines are counted, skipped."""
    counts = UpsertCounts()
    bulk = index if isinstance(index, BulkIndex) else None
    handle = await asyncio.to_thread(_open, path)
    total_bytes = None if path.suffix == ".gz" else (await asyncio.to_thread(path.stat)).st_size
    indexing: asyncio.Task[None] | None = None
    uncommitted = 0
    try:
        with _progress(progress) as bar:
            task = bar.add_task("ingest", total=total_bytes, papers=0)
            batches = _batches(handle, batch_size)
            done = 0
            while True:
                # Reading and parsing is CPU work: keep it off the event loop.
                batch = await asyncio.to_thread(next, batches, None)
                if batch is None:
                    break
                counts = counts + UpsertCounts(skipped=batch.skipped)
                if batch.papers:
                    counts = counts + await store.upsert_papers(batch.papers)
                    # The index of one batch overlaps the store write of the next; one at a time keeps order.
                    if indexing is not None:
                        await indexing
                    if bulk is not None:
                        indexing = asyncio.create_task(bulk.stage_papers(batch.papers))
                        uncommitted += len(batch.papers)
                        if uncommitted >= INDEX_COMMIT_EVERY:
                            await indexing
                            indexing = asyncio.create_task(bulk.commit())
                            uncommitted = 0
                    else:
                        indexing = asyncio.create_task(index.add_papers(batch.papers))
                done += len(batch.papers)
                bar.update(task, advance=batch.bytes_read, papers=done)
            if indexing is not None:
                await indexing
                indexing = None
    finally:
        if indexing is not None:
            # A failed store write stops the run; the index keeps what it was given (catch-up fixes the rest).
            with contextlib.suppress(Exception):
                await indexing
        if bulk is not None:
            await bulk.commit()
        await asyncio.to_thread(handle.close)
    return counts
