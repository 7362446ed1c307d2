"""`paperboy bench search`: fill a SQLite store and the index, then time a fixed mix of queries."""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import os
import random
import re
import resource
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.sources.snapshot import ingest_snapshot
from bot.query import parse_query
from storage.search.index import CATCH_UP_MARGIN, TantivyIndex, open_index
from storage.sql import open_store

if TYPE_CHECKING:
    from storage.vectors.store import EmbeddingStore

SEED = 20250901
RESULT_LIMIT = 10
WARM_UP_QUERIES = 20
_WORD = re.compile(r"[A-Za-z][A-Za-z\-]+")
# Categories drawn for synthetic papers, most common first.
_CATEGORIES = ("cs.CL", "cs.LG", "cs.CV", "cs.AI", "stat.ML", "cs.RO", "cs.IR", "eess.AS", "cs.SD", "cs.GR")
# The most frequent words of the vocabulary are mostly function words: queries skip them.
_QUERY_SKIP_TOP = 60


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Words of real titles and abstracts ranked by frequency, and real author names."""

    words: tuple[str, ...]
    authors: tuple[str, ...]


def load_vocabulary() -> Vocabulary:
    """The vocabulary of the demo papers shipped with the package (arXiv metadata, public domain)."""
    demo = resources.files("adapters.sources") / "demo" / "daily_papers_demo.json"
    items = json.loads(demo.read_text(encoding="utf-8"))
    counts: collections.Counter[str] = collections.Counter()
    authors: dict[str, None] = {}
    for item in items:
        paper = item.get("paper", {})
        text = f"{paper.get('title', '')} {paper.get('summary', '')}"
        counts.update(word.lower() for word in _WORD.findall(text))
        for author in paper.get("authors", []):
            if isinstance(author, dict) and author.get("name"):
                authors[author["name"]] = None
    return Vocabulary(tuple(word for word, _ in counts.most_common()), tuple(authors))


class _Zipf:
    """Draws items with probability proportional to 1/rank, reproducibly."""

    def __init__(self, items: Sequence[str], rng: random.Random) -> None:
        self.items = list(items)
        self.cumulative = list(itertools.accumulate(1.0 / rank for rank in range(1, len(items) + 1)))
        self.rng = rng

    def draw(self, count: int) -> list[str]:
        return self.rng.choices(self.items, cum_weights=self.cumulative, k=count)


def synthetic_id(number: int) -> str:
    """A valid new-style arXiv id, unique for each number (20,000 a month from January 2015)."""
    month, serial = divmod(number, 20_000)
    year, month_of_year = divmod(month, 12)
    return f"{15 + year:02d}{month_of_year + 1:02d}.{serial + 1:05d}"


def write_synthetic_snapshot(path: Path, papers: int, vocabulary: Vocabulary, seed: int = SEED) -> None:
    """Write `papers` synthetic snapshot records, their words drawn Zipf-like from the vocabulary."""
    rng = random.Random(seed)
    words = _Zipf(vocabulary.words, rng)
    categories = _Zipf(_CATEGORIES, rng)
    start = datetime(2015, 1, 1, tzinfo=UTC)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        for number in range(papers):
            title = " ".join(words.draw(rng.randint(6, 14))).capitalize()
            abstract = " ".join(words.draw(rng.randint(90, 220)))
            names = rng.sample(vocabulary.authors, k=min(len(vocabulary.authors), rng.randint(1, 6)))
            created = start + timedelta(days=number * 3650 // max(papers, 1), minutes=rng.randint(0, 1440))
            record = {
                "id": synthetic_id(number),
                "title": title,
                "abstract": abstract,
                "authors": ", ".join(names),
                "authors_parsed": [[name.rsplit(" ", 1)[-1], name.rsplit(" ", 1)[0], ""] for name in names],
                "categories": " ".join(dict.fromkeys(categories.draw(rng.randint(1, 3)))),
                "versions": [{"version": "v1", "created": format_datetime(created, usegmt=True)}],
                "update_date": created.date().isoformat(),
            }
            handle.write(json.dumps(record) + "\n")
    temporary.replace(path)


async def synthetic_store(papers: int, workdir: Path, name: str) -> tuple[str, Path, list[str]]:
    """A SQLite store and index in `workdir` holding at least `papers` synthetic papers, filled once and reused.

    Returns the database URL, the index folder and a line for each thing done (snapshot written, store filled).
    """
    notes: list[str] = []
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    url = f"sqlite:///{workdir / f'{name}-{papers}.db'}"
    index_dir = workdir / f"{name}-{papers}.index"
    store = await open_store(url)
    try:
        if await store.count_papers() < papers:
            snapshot = workdir / f"synthetic-{papers}-{SEED}.jsonl"
            if not await asyncio.to_thread(snapshot.exists):
                began = time.perf_counter()
                vocabulary = await asyncio.to_thread(load_vocabulary)
                await asyncio.to_thread(write_synthetic_snapshot, snapshot, papers, vocabulary)
                notes.append(
                    f"synthetic snapshot: {papers:,} papers written in {time.perf_counter() - began:.1f} s"
                )
            index = await open_index(index_dir)
            try:
                began = time.perf_counter()
                await ingest_snapshot(snapshot, store, index, progress=False)
                notes.append(
                    f"filled the store and the index: {await store.count_papers():,} papers "
                    f"in {time.perf_counter() - began:.0f} s"
                )
            finally:
                await index.close()
    finally:
        await store.close()
    return url, index_dir, notes


async def store_random_vectors(
    store: EmbeddingStore, model: str, dimension: int, papers: Sequence[tuple[str, str]], seed: int
) -> int:
    """Store a seeded random unit vector for each (arxiv_id, text_hash) under `model`; how many were stored.

    For benchmarks that time loading and scanning vectors: that costs the same whatever a vector holds, and
    embedding their papers would take the CPU minutes to hours.
    """
    import numpy as np

    from storage.vectors.index import to_bytes

    rng = np.random.default_rng(seed)
    for start in range(0, len(papers), 5000):
        block = papers[start : start + 5000]
        vectors = rng.standard_normal((len(block), dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        rows = [(arxiv_id, digest, to_bytes(v)) for (arxiv_id, digest), v in zip(block, vectors, strict=True)]
        await store.save_embeddings(model, dimension, rows)
    return len(papers)


def query_mix(vocabulary: Vocabulary, count: int, seed: int = SEED) -> list[str]:
    """A fixed, seeded mix of one- to four-word queries."""
    rng = random.Random(seed + 1)
    words = _Zipf([w for w in vocabulary.words[_QUERY_SKIP_TOP:] if len(w) > 2], rng)
    return [" ".join(words.draw(rng.randint(1, 4))) for _ in range(count)]


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def _latency_line(name: str, millis: Sequence[float]) -> str:
    return (
        f"  {name:<28} p50 {_percentile(millis, 0.50):7.2f} ms   p90 {_percentile(millis, 0.90):7.2f} ms   "
        f"p99 {_percentile(millis, 0.99):7.2f} ms   max {max(millis, default=float('nan')):7.2f} ms"
    )


async def _time_queries(texts: Sequence[str], run: Callable[[str], Awaitable[object]]) -> list[float]:
    for text in texts[:WARM_UP_QUERIES]:
        await run(text)
    millis = []
    for text in texts:
        began = time.perf_counter()
        await run(text)
        millis.append((time.perf_counter() - began) * 1000)
    return millis


def _folder_size(path: Path) -> int:
    return sum(entry.stat().st_size for entry in path.iterdir() if entry.is_file())


def _cpu_seconds() -> tuple[float, float]:
    """CPU seconds used so far by this process (all its threads) and by its ended child processes."""
    here = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return here.ru_utime + here.ru_stime, children.ru_utime + children.ru_stime


def _cpu_note(before: tuple[float, float], papers: int) -> str:
    """CPU a paper since `before`: a rate on a busy machine depends on the others, the CPU it took does not."""
    here, children = (now - then for now, then in zip(_cpu_seconds(), before, strict=True))
    note = f"CPU {(here + children) / max(papers, 1) * 1e6:,.0f} µs a paper"
    if children:
        note += f" ({children / max(papers, 1) * 1e6:,.0f} of them in the snapshot parser)"
    return note


def _peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset(workdir: Path) -> tuple[Path, Path, Path]:
    """Fresh store and index paths inside workdir (only the bench's own files are removed)."""
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "bench.db"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    index_dir = workdir / "bench.index"
    rebuilt_dir = workdir / "bench-rebuilt.index"
    for folder in (index_dir, rebuilt_dir):
        if folder.exists():
            shutil.rmtree(folder)
    return database, index_dir, rebuilt_dir


async def bench_search(papers: int, snapshot: Path | None, queries: int, workdir: Path) -> str:
    """Fill a SQLite store and the index (synthetic papers or a snapshot), time queries; return a report."""
    from adapters.app.compose import SystemClock
    from bot.core import Paperboy

    lines: list[str] = [f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"]
    vocabulary = await asyncio.to_thread(load_vocabulary)
    if snapshot is None:
        snapshot = workdir / f"synthetic-{papers}-{SEED}.jsonl"
        if not await asyncio.to_thread(snapshot.exists):
            await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
            began = time.perf_counter()
            await asyncio.to_thread(write_synthetic_snapshot, snapshot, papers, vocabulary)
            seconds = time.perf_counter() - began
            lines.append(f"synthetic snapshot: {papers:,} papers written in {seconds:.1f} s")
        else:
            lines.append(f"synthetic snapshot: reusing {snapshot}")
    database, index_dir, rebuilt_dir = await asyncio.to_thread(_reset, workdir)

    store = await open_store(f"sqlite:///{database}")
    index = await open_index(index_dir)
    rebuilt: TantivyIndex | None = None
    try:
        began, cpu = time.perf_counter(), _cpu_seconds()
        counts = await ingest_snapshot(snapshot, store, index)
        ingest_seconds = time.perf_counter() - began
        stored = await store.count_papers()
        lines.append(
            f"ingest snapshot (store + index): {counts.new:,} new, {counts.skipped:,} skipped in "
            f"{ingest_seconds:.1f} s = {stored / ingest_seconds:,.0f} papers/s, {_cpu_note(cpu, stored)}"
        )

        began = time.perf_counter()
        rewritten = await index.catch_up(store)
        first_seconds = time.perf_counter() - began
        began = time.perf_counter()
        await index.catch_up(store)
        lines.append(
            f"catch-up of the ingested index (next start): {first_seconds:.1f} s the first time "
            f"({rewritten:,} papers rewritten), {time.perf_counter() - began:.2f} s again while the last "
            f"writes are under {CATCH_UP_MARGIN.seconds // 60} minutes old"
        )

        rebuilt = await open_index(rebuilt_dir)
        began, cpu = time.perf_counter(), _cpu_seconds()
        indexed = await rebuilt.catch_up(store)
        build_seconds = time.perf_counter() - began
        lines.append(
            f"index build from the store (a new replica's catch-up): {indexed:,} papers in "
            f"{build_seconds:.1f} s = {indexed / max(build_seconds, 1e-9):,.0f} papers/s, "
            f"{_cpu_note(cpu, indexed)}, {_folder_size(index_dir) / 1e6:,.0f} MB on disk"
        )
        await rebuilt.close()
        rebuilt = None

        texts = query_mix(vocabulary, queries)
        raw = await _time_queries(texts, lambda text: index.search(parse_query(text), RESULT_LIMIT))
        app = Paperboy(store=store, index=index, clock=SystemClock())
        service = await _time_queries(texts, lambda text: app.search(text, RESULT_LIMIT))
        found = [len(await index.search(parse_query(text), RESULT_LIMIT)) for text in texts[:50]]
        lines.append(
            f"queries: {len(texts):,} one- to four-word queries, limit {RESULT_LIMIT}, "
            f"{sum(1 for n in found if n) / max(len(found), 1):.0%} of the first 50 find something"
        )
        lines.append(_latency_line("raw index.search", raw))
        lines.append(_latency_line("service Paperboy.search", service))
        lines.append(f"peak resident memory: {_peak_rss_mb():,.0f} MB")
        lines.append(f"load average after: {os.getloadavg()[0]:.1f}")
    finally:
        if rebuilt is not None:
            await rebuilt.close()
        await index.close()
        await store.close()
    header = f"paperboy bench search: {stored:,} papers in {database}, {date.today().isoformat()}"
    return "\n".join([header, *lines])
