"""Benchmark: signed `/papers search` requests at the real HTTP endpoint; prints time to acknowledgement.

    python -m tests.bench.slack_commands --papers 100000 --requests 2000 --concurrency 50

The store (SQLite, in --workdir) is filled once with synthetic papers and reused by later runs. Slack's side
(auth.test and the response_url answers) is a small server on 127.0.0.1; the requests come from a separate
process, so the load generator does not share the bot's event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import hmac
import math
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"


@dataclass
class SlackSink:
    """Slack's side of the benchmark: answers auth.test and records when each response_url answer arrives."""

    answers: dict[str, float] = field(default_factory=dict)
    errors: int = 0
    runner: web.AppRunner | None = None
    port: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_post("/response/{name}", self._response)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop listening."""
        if self.runner is not None:
            await self.runner.cleanup()

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["method"] == "auth.test":
            body = {"ok": True, "team_id": "TBENCH", "user_id": "UBOT", "bot_id": "BBOT", "team": "bench"}
            return web.json_response(body)
        return web.json_response({"ok": False, "error": "unknown_method"})

    async def _response(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self.answers[request.match_info["name"]] = time.time()
        if str(payload.get("text", "")).startswith("Sorry"):
            self.errors += 1
        if len(self.answers) >= self.expected:
            self.done.set()
        return web.Response(text="ok")


def signed(body: bytes) -> dict[str, str]:
    """Headers exactly as Slack signs a request."""
    stamp = str(int(time.time()))
    base = b"v0:" + stamp.encode() + b":" + body
    signature = "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }


def command(query: str, name: str, sink_port: int) -> bytes:
    """A `/papers search` slash command body."""
    return urlencode(
        {
            "team_id": "TBENCH",
            "channel_id": "CBENCH",
            "user_id": f"U{hash(name) % 1000:03d}",
            "command": "/papers",
            "text": f"search {query}",
            "response_url": f"http://127.0.0.1:{sink_port}/response/{name}",
            "trigger_id": "0",
        }
    ).encode()


Result = tuple[str, float, float, int]
"""One request: its name, when it was sent (epoch seconds), milliseconds to the ack, HTTP status."""


async def _load(
    url: str, queries: Sequence[str], concurrency: int, sink_port: int, prefix: str
) -> list[Result]:
    """Send every request, `concurrency` at a time; return (name, sent at, ack ms, status) for each."""
    results: list[Result] = []
    pending = iter(enumerate(queries))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for number, query in pending:
                name = f"{prefix}{number}"
                body = command(query, name, sink_port)
                headers = signed(body)
                sent = time.time()
                began = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        status = response.status
                except aiohttp.ClientError:
                    status = 0
                results.append((name, sent, (time.perf_counter() - began) * 1000, status))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


def run_load(url: str, queries: Sequence[str], concurrency: int, sink_port: int, prefix: str) -> list[Result]:
    """The load generator's process: its own event loop."""
    return asyncio.run(_load(url, queries, concurrency, sink_port, prefix))


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))] if ordered else float("nan")
    )


async def prepare(papers: int, workdir: Path) -> tuple[str, Path]:
    """A SQLite store holding at least `papers` papers (filled once, then reused) and its index folder."""
    from adapters.bench.search import synthetic_store

    url, index_dir, notes = await synthetic_store(papers, workdir, "slack-bench")
    for note in notes:
        print(note)
    return url, index_dir


async def bench(papers: int, requests: int, concurrency: int, workdir: Path) -> str:
    """Run the benchmark; return the report."""
    from adapters.app.compose import compose
    from adapters.bench.search import load_vocabulary, query_mix
    from adapters.settings import Settings
    from adapters.slack.bot import serve_slack

    url, index_dir = await prepare(papers, workdir)
    # Filling the store on a first run leaves a large heap behind; collect it before timing anything.
    gc.collect()
    queries = query_mix(await asyncio.to_thread(load_vocabulary), requests)
    sink = SlackSink(expected=requests)
    await sink.start()
    settings = Settings.model_validate(
        {
            "DATABASE_URL": url,
            "PAPERBOY_INDEX_DIR": str(index_dir),
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": f"http://127.0.0.1:{sink.port}/api/",
            "PAPERBOY_PORT": 0,
        }
    )
    try:
        async with compose(settings, platforms=True) as house:
            assert house.slack is not None
            stored = await house.store.count_papers()
            service = await serve_slack(house.core, house.slack)
            events_url = f"http://127.0.0.1:{service.port}/slack/events"
            loop = asyncio.get_running_loop()
            try:
                # A spawned (not forked) process: the bot's threads and event loop must not be copied into it.
                with ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn")
                ) as pool:
                    # Warm up: connections, Bolt's one auth.test, the index's caches.
                    warm = [f"warm {q}" for q in queries[:50]]
                    sink.expected = requests + len(warm)
                    await loop.run_in_executor(pool, run_load, events_url, warm, 10, sink.port, "warm")
                    began = time.perf_counter()
                    results = await loop.run_in_executor(
                        pool, run_load, events_url, queries, concurrency, sink.port, "q"
                    )
                    sent_seconds = time.perf_counter() - began
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sink.done.wait(), timeout=300)
                answered_seconds = time.perf_counter() - began
            finally:
                await service.stop()
    finally:
        await sink.stop()

    acks = [ms for _, _, ms, status in results if status == 200]
    failed = sum(1 for *_, status in results if status != 200)
    answer_ms = [(sink.answers[name] - sent) * 1000 for name, sent, _, _ in results if name in sink.answers]
    missing = sum(1 for name, *_ in results if name not in sink.answers)
    mean_ack = statistics.fmean(acks) if acks else math.nan
    lines = [
        f"paperboy Slack bench: {len(results):,} signed /papers search requests, concurrency {concurrency}, "
        f"{stored:,} papers stored (SQLite), {os.cpu_count()} CPUs, Python {platform.python_version()}",
        f"  time to acknowledgement   p50 {percentile(acks, 0.5):7.2f} ms   "
        f"p90 {percentile(acks, 0.9):7.2f} ms   p99 {percentile(acks, 0.99):7.2f} ms   "
        f"max {max(acks, default=math.nan):7.2f} ms   mean {mean_ack:.2f} ms",
        f"  answer at response_url    p50 {percentile(answer_ms, 0.5):7.0f} ms   "
        f"p99 {percentile(answer_ms, 0.99):7.0f} ms (includes waiting behind the backlog of searches)",
        f"  requests acknowledged in {sent_seconds:.1f} s ({len(results) / sent_seconds:,.0f}/s); "
        f"all answers in {answered_seconds:.1f} s",
        f"  errors: {failed} non-200 acks, {missing} answers missing, {sink.errors} error answers",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run, print the report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workdir", type=Path, default=Path(".paperboy-bench"))
    args = parser.parse_args(argv)
    print(asyncio.run(bench(args.papers, args.requests, args.concurrency, args.workdir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
