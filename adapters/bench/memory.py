"""Benchmark: the resident memory of a lexical-only `paperboy run` on N papers, at three moments.

    paperboy bench memory [--papers 100000] [--searches 1000] [--channels 100] [--tracemalloc] [--workdir DIR]
                          [--limit-mb 150]
    python -m adapters.bench.memory --papers 1000000

The store, the index and the run are those of `paperboy bench serving` (same --workdir, built once): Slack over
HTTP against the loopback fake, search by meaning off. The child's /proc/<pid>/status and smaps are read
(1) after start, once its start-up work is done (the index catch-up, the Daily Papers refresh); (2) after
--searches signed `/papers search` commands, one at a time; (3) after a digest tick: the bench features papers
of the store today and gives --channels channels a schedule due now and a topic, the run's next tick (every
PAPERBOY_DIGEST_TICK_SECONDS, 2 s here) plans and queues their digests and its delivery engine posts them to the
fake; the numbers are read once every message is posted. The bench's workspace is emptied before the run
starts, so every run plans the digests anew.

Resident memory (RSS) is the anonymous memory the process owns (its heap: Python objects, the libraries'
native allocations, thread stacks) plus file pages it has mapped: the search index's files that searches read
(tantivy maps them; the kernel's page cache, shared and dropped under memory pressure) and the code of the
shared libraries. Peak is VmHWM. With --tracemalloc the run is traced from its first allocation and what
holds the Python memory is printed at each moment; tracing itself costs memory, so RSS is higher then.

With --limit-mb the run starts inside a memory cgroup of that size, as a container's limit (see
adapters.bench.limits), its store and index evicted from the page cache first: the kernel then keeps the mapped
index pages within what the process's own memory leaves, and the searches' times show what that costs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from adapters.bench.limits import MemoryLimit, evict_from_page_cache
from adapters.bench.serving import (
    DEFAULT_WORKDIR,
    TEAM,
    ServingSlack,
    _free_port,
    _run_command,
    _search,
    _stats,
    _wait_until_listening,
    prepare,
    run_environment,
    stop_run,
)
from adapters.bench.traced_run import TRACE_FILE_VARIABLE

TICK_SECONDS = 2.0
DIGEST_SIZE = 10
# Papers featured today for the digests: at most this many, spread over the store.
FEATURED = 300
SETTLE_TIMEOUT = 120.0
DIGEST_TIMEOUT = 600.0
# The run counts as settled when it used less than this share of one CPU over QUIET_SECONDS.
QUIET_SHARE = 0.05
QUIET_SECONDS = 1.0
_TICK_LINE = re.compile(r"digest tick: (\d+) due, (\d+) queued, (\d+) already there, (\d+) with nothing new")
_KB = 1024


@dataclass(frozen=True, slots=True)
class MemorySample:
    """The child's memory at one moment, in kB as /proc gives it."""

    moment: str
    rss: int
    peak: int
    anonymous: int
    index_pages: int
    database_pages: int
    other_files: int
    threads: int
    top: dict[str, Any] | None = None

    def line(self) -> str:
        """One line: RSS, then what it is made of."""
        return (
            f"    {self.moment:<34} RSS {self.rss / _KB:6.1f}  anonymous {self.anonymous / _KB:6.1f}  "
            f"index files {self.index_pages / _KB:6.1f}  libraries and other files "
            f"{(self.other_files + self.database_pages) / _KB:5.1f}  peak {self.peak / _KB:6.1f}  "
            f"threads {self.threads}"
        )


@dataclass
class MemoryResult:
    """What one run measured."""

    papers: int
    searches: int
    channels: int
    traced: bool
    samples: list[MemorySample] = field(default_factory=list)
    search_millis: list[float] = field(default_factory=list)
    ticks: list[tuple[int, int, int, int]] = field(default_factory=list)
    posted: int = 0
    digest_seconds: float = float("nan")
    prepared: list[str] = field(default_factory=list)
    exit_code: int | None = None
    limit: list[str] = field(default_factory=list)

    def report(self) -> str:
        """The numbers, one per line."""
        due, queued, already, empty = (sum(tick[i] for tick in self.ticks) for i in range(4))
        lines = [
            f"paperboy bench memory: {self.papers:,} papers (SQLite), paperboy run with Slack, words only; "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}",
            *[f"  {line}" for line in self.prepared],
            *[f"  {line}" for line in self.limit],
            "  resident memory of paperboy run (MB): RSS = anonymous (the process's own) + index files mapped "
            "(page cache) + libraries"
            + ("; traced by tracemalloc, which costs memory itself" if self.traced else ""),
            *[sample.line() for sample in self.samples],
            f"  {len(self.search_millis)} searches, request -> answer: {_stats(self.search_millis)}",
            f"  digest tick: {due} due, {queued} queued, {already} already there, {empty} with nothing new; "
            f"{self.posted} messages posted in {self.digest_seconds:.1f} s",
            f"  exit code {self.exit_code}",
        ]
        for sample in self.samples:
            if sample.top is not None:
                lines += _top_lines(sample.moment, sample.top)
        return "\n".join(lines)


def _top_lines(moment: str, top: dict[str, Any]) -> list[str]:
    """What holds the traced Python memory at one moment."""
    mb = 1e6
    lines = [
        f"  tracemalloc {moment}: {top['traced'] / mb:.1f} MB of Python memory traced (peak {top['peak'] / mb:.1f}"
        f" MB; tracing itself {top['overhead'] / mb:.1f} MB), {top['modules']} modules loaded",
        "    by holder: "
        + ", ".join(f"{entry['holder']} {entry['size'] / mb:.1f}" for entry in top["holders"]),
        "    by line:",
    ]
    lines += [
        f"      {entry['size'] / mb:6.2f} MB {entry['count']:8,}  {entry['where']}" for entry in top["lines"]
    ]
    return lines


def read_memory(pid: int, moment: str, index_dir: Path, database: Path) -> MemorySample:
    """The process's RSS, peak and threads from /proc/<pid>/status; its file pages split by file from smaps."""
    status: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "Threads"):
            status[key] = int(value.split()[0])
    index_prefix, database_prefix = str(index_dir.resolve()) + "/", str(database.resolve())
    pages = {"index": 0, "database": 0, "other": 0, "anonymous": 0}
    kind = "other"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split(maxsplit=5)
        if len(head) >= 5 and "-" in head[0] and not head[0].endswith(":"):
            path = head[5] if len(head) == 6 else ""
            if not path.startswith("/"):
                kind = "anonymous"
            elif path.startswith(index_prefix):
                kind = "index"
            elif path.startswith(database_prefix):
                kind = "database"
            else:
                kind = "other"
        elif head and head[0] == "Rss:":
            pages[kind] += int(head[1])
        elif head and head[0] == "Anonymous:" and kind != "anonymous":
            # Pages of a file mapping the process wrote to (a library's data) are its own, counted as anonymous.
            pages[kind] -= int(head[1])
    return MemorySample(
        moment,
        rss=status["VmRSS"],
        peak=status["VmHWM"],
        anonymous=status["RssAnon"],
        index_pages=pages["index"],
        database_pages=pages["database"],
        other_files=pages["other"],
        threads=status["Threads"],
    )


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _settle(pid: int) -> None:
    """Wait until the process is nearly idle (its start-up work done), at most SETTLE_TIMEOUT."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        before = _cpu_seconds(pid)
        await asyncio.sleep(QUIET_SECONDS)
        if _cpu_seconds(pid) - before < QUIET_SHARE * QUIET_SECONDS:
            return


async def _top(process: asyncio.subprocess.Process, trace_file: Path) -> dict[str, Any]:
    """Ask the traced run for its top allocations and read them."""
    await asyncio.to_thread(trace_file.unlink, missing_ok=True)
    process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while not await asyncio.to_thread(trace_file.exists):
        if time.monotonic() > deadline:
            raise RuntimeError("the traced run did not write its top allocations")
        await asyncio.sleep(0.2)
    top: dict[str, Any] = json.loads(await asyncio.to_thread(trace_file.read_text))
    return top


async def seed_digests(url: str, papers: int, channels: int, today: date) -> None:
    """Feature papers of the store today and give `channels` channels a schedule due now with one topic.

    Each topic is a word of one featured paper's title, so that every digest has papers to post.
    """
    from adapters.bench.search import synthetic_id
    from bot.domain import ChannelRef, ChannelSettings
    from storage.sql import open_store

    store = await open_store(url)
    try:
        count = min(FEATURED, papers)
        ids = [synthetic_id(number * papers // count) for number in range(count)]
        stored = await store.get_papers(ids)
        featured = [
            replace(paper, featured_on=today, hf_upvotes=count - number)
            for number, paper in enumerate(stored[i] for i in ids if i in stored)
        ]
        await store.upsert_papers(featured)
        for number in range(channels):
            channel = ChannelRef("slack", TEAM, f"CMEM{number:05d}")
            words = [word for word in featured[number % len(featured)].title.lower().split() if len(word) > 3]
            await store.save_settings(
                ChannelSettings(
                    channel, hour=0, minute=0, timezone="UTC", weekdays_only=False, digest_size=DIGEST_SIZE
                )
            )
            await store.subscribe_topic(channel, words[0] if words else "learning", limit=25)
    finally:
        await store.close()


async def forget_bench_workspace(url: str) -> None:
    """Delete the channels, digests and deliveries an earlier run left, before the run starts.

    Before: the run's scheduler remembers the digests it saw at its first tick and would not plan them again.
    """
    from bot.domain import Workspace
    from storage.sql import open_store

    store = await open_store(url)
    try:
        await store.delete_workspace(Workspace("slack", TEAM))
    finally:
        await store.close()


async def _digests_done(url: str, channels: int, today: date) -> bool:
    """True when no delivery of the bench channels' digests today is left to post."""
    from bot.domain import DELIVERY_CLAIMED, DELIVERY_PENDING, ChannelRef
    from storage.sql import open_store

    store = await open_store(url, migrate=False)
    try:
        for number in range(channels):
            counts = await store.delivery_counts(ChannelRef("slack", TEAM, f"CMEM{number:05d}"), today)
            if counts.get(DELIVERY_PENDING) or counts.get(DELIVERY_CLAIMED):
                return False
        return True
    finally:
        await store.close()


def _ticks(log_path: Path, offset: int) -> tuple[list[tuple[int, int, int, int]], int]:
    """The digest ticks the run logged after `offset` bytes of its log, and where its log ends now."""
    with open(log_path, "rb") as handle:
        handle.seek(offset)
        data = handle.read()
    ticks = []
    for raw in data.decode(errors="replace").splitlines():
        try:
            message = str(json.loads(raw).get("msg", ""))
        except ValueError:
            continue
        found = _TICK_LINE.search(message)
        if found:
            due, queued, already, empty = (int(group) for group in found.groups())
            ticks.append((due, queued, already, empty))
    return ticks, offset + len(data)


def traced_command() -> list[str]:
    """`paperboy run` in a process whose Python allocations are traced (see adapters.bench.traced_run)."""
    code = "import adapters.bench.traced_run as t; t.install(); from adapters.cli.main import main; main()"
    return [sys.executable, "-c", code, "run"]


async def bench_memory(
    papers: int = 100_000,
    searches: int = 1000,
    *,
    channels: int = 100,
    traced: bool = False,
    workdir: Path = DEFAULT_WORKDIR,
    limit_mb: int | None = None,
) -> MemoryResult:
    """Run the benchmark once; return what it measured."""
    from adapters.bench.search import load_vocabulary, query_mix
    from storage.sql import sqlite_path

    url, index_dir, prepared, _, _ = await prepare(papers, workdir, rebuild=False)
    database = sqlite_path(url)
    assert database is not None
    result = MemoryResult(papers, searches, channels, traced, prepared=prepared)
    await forget_bench_workspace(url)
    queries = query_mix(await asyncio.to_thread(load_vocabulary), searches)
    # Made before anything starts, and removed whatever happens after.
    limit = MemoryLimit.create(limit_mb, f"paperboy-bench-{os.getpid()}") if limit_mb is not None else None
    try:
        fake = ServingSlack()
        await fake.start()
        port = _free_port()
        log_path = workdir / "memory-run.log"
        trace_file = workdir / "memory-top.json"
        environment = run_environment(url, index_dir, fake, port)
        environment["PAPERBOY_DIGEST_TICK_SECONDS"] = str(TICK_SECONDS)
        if traced:
            environment |= {"PYTHONTRACEMALLOC": "1", TRACE_FILE_VARIABLE: str(trace_file)}
        command = traced_command() if traced else _run_command()
        if limit is not None:
            files = [index_dir, *database.parent.glob(database.name + "*")]
            asked = await asyncio.to_thread(evict_from_page_cache, files)
            result.limit.append(
                f"memory limit: {limit.megabytes} MB (cgroup v{limit.version}); the kernel was asked to drop the "
                f"store's and the index's cached pages ({asked / 1e6:,.0f} MB of files) first"
            )
            command = limit.command(command)
        events_url = f"http://127.0.0.1:{port}/slack/events"
        log_file = await asyncio.to_thread(open, log_path, "wb")
        try:
            started = time.perf_counter()
            process = await asyncio.create_subprocess_exec(
                *command, env=environment, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

            async def sample(moment: str) -> None:
                top = await _top(process, trace_file) if traced else None
                measured = await asyncio.to_thread(read_memory, process.pid, moment, index_dir, database)
                result.samples.append(replace(measured, top=top))

            try:
                await _wait_until_listening(port, process)
                await _settle(process.pid)
                await sample("after start")
                async with httpx.AsyncClient(timeout=60) as http:
                    for number, query in enumerate(queries):
                        answered = await _search(http, fake, events_url, query, f"q{number}", started)
                        result.search_millis.append(answered.millis)
                await _settle(process.pid)
                await sample(f"after {searches:,} searches")
                if channels:
                    await _tick_and_deliver(result, url, papers, channels, log_path, fake)
                    await sample(f"after a digest tick ({channels} channels)")
            finally:
                result.exit_code = await stop_run(process)
                await fake.stop()
        finally:
            await asyncio.to_thread(log_file.close)
    finally:
        if limit is not None:
            events = limit.events()
            result.limit.append(
                f"the group's peak: {limit.peak_mb():.1f} MB; reached the limit {events['at the limit']:,} times, "
                f"processes killed for memory: {events['killed']}"
            )
            if not limit.remove():
                result.limit.append(f"could not remove the memory cgroup {limit.folder}; remove it by hand")
    return result


async def _tick_and_deliver(
    result: MemoryResult, url: str, papers: int, channels: int, log_path: Path, fake: ServingSlack
) -> None:
    """Make the channels' digests due, then wait for the run's tick to queue them and its engine to post them."""
    today = datetime.now(UTC).date()
    _, offset = await asyncio.to_thread(_ticks, log_path, 0)
    posted_before = len(fake.messages)
    began = time.perf_counter()
    await seed_digests(url, papers, channels, today)
    deadline = time.monotonic() + DIGEST_TIMEOUT
    while True:
        ticks, offset = await asyncio.to_thread(_ticks, log_path, offset)
        result.ticks += ticks
        if sum(tick[0] for tick in result.ticks) >= channels and await _digests_done(url, channels, today):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"the run did not post the digests within {DIGEST_TIMEOUT:.0f} s")
        await asyncio.sleep(0.5)
    result.digest_seconds = time.perf_counter() - began
    result.posted = len(fake.messages) - posted_before


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m adapters.bench.memory`."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--limit-mb", type=int, default=None, help="run inside a memory cgroup of this size")
    args = parser.parse_args(argv)
    result = asyncio.run(
        bench_memory(
            args.papers,
            args.searches,
            channels=args.channels,
            traced=args.tracemalloc,
            workdir=args.workdir,
            limit_mb=args.limit_mb,
        )
    )
    print(result.report())


if __name__ == "__main__":
    main()
