"""Benchmark: `/papers search` pushed through the fake gateway; prints the time to the initial response.

    python -m tests.bench.discord_commands --papers 100000 --interactions 1000 [--concurrency 1] [--workdir DIR]

The store (SQLite) and index in --workdir (default bench-data) are filled once with synthetic papers, reused
by later runs. The fake Discord runs in a separate process: it pushes each INTERACTION_CREATE over the gateway
and notes when the interaction callback arrives, so the load generator does not share the bot's event loop.
The bot side is the real adapter (discord.py client, `/papers` group, core, store, index) in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path

WARM_UP = 20
DEFAULT_WORKDIR = Path("bench-data")


@dataclass(frozen=True, slots=True)
class Measured:
    """What the fake saw: milliseconds from each push to its callback, and the callback types."""

    millis: tuple[float, ...]
    deferred: int
    wall_seconds: float


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def _drive(conn: Connection, queries: Sequence[str], concurrency: int) -> None:
    from tests.fakes.discord import FakeDiscord

    fake = FakeDiscord()
    await fake.start()
    guild = fake.add_guild("Benchmark")
    channel = fake.add_channel(guild, "papers")
    conn.send((fake.api_url, fake.gateway_url))
    # The bot says when it is ready (connected, guilds received).
    await asyncio.to_thread(conn.recv)
    gate = asyncio.Semaphore(concurrency)
    millis: list[float] = []
    deferred = 0

    async def one(query: str, measure: bool) -> None:
        nonlocal deferred
        async with gate:
            record = await fake.slash(guild, channel, "search", query=query, user_id=4242)
            await record.initial
            if measure:
                assert record.initial_at is not None
                millis.append((record.initial_at - record.pushed_at) * 1000)
                deferred += record.initial_type == 5

    for query in queries[:WARM_UP]:
        await one(query, measure=False)
    began = time.perf_counter()
    await asyncio.gather(*(one(query, measure=True) for query in queries))
    conn.send(Measured(tuple(millis), deferred, time.perf_counter() - began))
    await fake.stop()


def _fake_process(conn: Connection, queries: Sequence[str], concurrency: int) -> None:
    asyncio.run(_drive(conn, queries, concurrency))


async def _prepare(papers: int, workdir: Path) -> tuple[str, Path, list[str]]:
    """A SQLite store and an index holding `papers` synthetic papers (reused when already filled)."""
    from adapters.bench.search import synthetic_store
    from storage.search.index import open_index
    from storage.sql import open_store

    url, index_dir, notes = await synthetic_store(papers, workdir, "discord-bench")
    if not notes:
        # A store filled by an earlier run: its index may lag behind it.
        store = await open_store(url)
        index = await open_index(index_dir)
        try:
            await index.catch_up(store)
            notes.append(f"store: reusing {url} ({await store.count_papers():,} papers)")
        finally:
            await index.close()
            await store.close()
    return url, index_dir, notes


async def bench_discord(papers: int, interactions: int, concurrency: int, workdir: Path) -> str:
    """Run the benchmark and return its report."""
    from adapters.app.compose import compose
    from adapters.bench.search import load_vocabulary, query_mix
    from adapters.discord.client import serve_discord
    from adapters.settings import Settings

    url, index_dir, notes = await _prepare(papers, workdir)
    queries = query_mix(await asyncio.to_thread(load_vocabulary), interactions + WARM_UP)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(
        target=_fake_process, args=(theirs, queries[WARM_UP:], concurrency), daemon=True
    )
    process.start()
    try:
        api_url, gateway_url = await asyncio.to_thread(ours.recv)
        settings = Settings.model_validate(
            {
                "DATABASE_URL": url,
                "PAPERBOY_INDEX_DIR": str(index_dir),
                "DISCORD_TOKEN": "bench-token",
                "DISCORD_API_URL": api_url,
                "DISCORD_GATEWAY_URL": gateway_url,
            }
        )
        async with compose(settings, platforms=True) as house:
            assert house.discord is not None
            runner = serve_discord(house.discord, house.core)
            try:
                await runner.wait_until_ready(60)
                ours.send("ready")
                measured: Measured = await asyncio.to_thread(ours.recv)
            finally:
                await runner.stop()
    finally:
        await asyncio.to_thread(process.join, 30)
    millis = measured.millis
    return "\n".join(
        [
            f"paperboy discord bench: {papers:,} papers stored, {len(millis):,} /papers search interactions "
            f"through the fake gateway, {concurrency} in flight, {date.today().isoformat()}, "
            f"Python {platform.python_version()} on {platform.machine()}",
            *notes,
            f"time to the initial response: p50 {percentile(millis, 0.50):.1f} ms   "
            f"p90 {percentile(millis, 0.90):.1f} ms   p99 {percentile(millis, 0.99):.1f} ms   "
            f"max {max(millis):.1f} ms",
            f"answered directly: {len(millis) - measured.deferred:,}, deferred: {measured.deferred:,}; "
            f"throughput {len(millis) / measured.wall_seconds:,.0f} interactions/s",
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    args = parser.parse_args(argv)
    print(asyncio.run(bench_discord(args.papers, args.interactions, args.concurrency, args.workdir)))


if __name__ == "__main__":
    main()
