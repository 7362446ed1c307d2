"""Benchmark: `/papers search` through Slack's endpoint of a real `paperboy run`, from its first second.

    paperboy bench serving [--papers 100000] [--requests 120] [--interval-ms 0] [--rebuild] [--workdir DIR]
    python -m adapters.bench.serving --papers 100000

A SQLite store of N synthetic papers and its search index are built once in --workdir (as `paperboy bench
search` builds them) and kept for later runs; the index is then caught up with the store, as it is at any
start after the first. `paperboy run` starts in its own process with Slack configured against a loopback fake
of the Web API (the shipped one, adapters.bench.slack_api, which also takes the response_url answers and
answers Hugging Face's Daily Papers with an empty day, so the start-up refresh runs and finds nothing). From
the moment the HTTP port accepts, signed `/papers search` slash commands are sent one at a time, each timed
from just before it is sent until its answer reaches the response_url. The report gives p50/p99, the first
seconds apart from the rest, and the slowest ten with their times since the process was started; with
--rebuild the index folder is emptied first, so the run's catch-up rebuilds it while it serves (a new
replica). The catch-up with nothing new is also timed in this process, before the run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
from aiohttp import web

from adapters.bench.slack_api import RateLimitedSlack

DEFAULT_WORKDIR = Path("bench-data") / "serving"
SIGNING_SECRET = "bench-serving-signing-secret"
TEAM = "T1"
# Requests answered within this many seconds of the first one make the "first seconds" line.
FIRST_SECONDS = 5.0
SLOWEST = 10
ANSWER_TIMEOUT = 30.0
START_TIMEOUT = 120.0


class ServingSlack(RateLimitedSlack):
    """The shipped fake, plus the response_url answers Paperboy sends and an empty Daily Papers day."""

    def __init__(self) -> None:
        super().__init__(channel_interval=0.0, rate=None, team_id=TEAM)
        self.answers: dict[str, asyncio.Future[tuple[float, str]]] = {}

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/response/{name}", self._response)
        app.router.add_get("/hf/api/daily_papers", self._daily_papers)

    async def _response(self, request: web.Request) -> web.Response:
        arrived = time.perf_counter()
        payload = await request.json()
        waiting = self.answers.get(request.match_info["name"])
        if waiting is not None and not waiting.done():
            waiting.set_result((arrived, str(payload.get("text") or "")))
        return web.Response(text="ok")

    async def _daily_papers(self, request: web.Request) -> web.Response:
        return web.json_response([])


@dataclass
class Answered:
    """One request: when it was sent (seconds since the process started) and how long its answer took."""

    sent_at: float
    millis: float
    query: str
    error: bool


@dataclass
class ServingResult:
    """What one run measured."""

    papers: int
    rebuild: bool
    requests: list[Answered] = field(default_factory=list)
    ready_at: float = float("nan")
    idle_catch_up_ms: float = float("nan")
    reopened_catch_up_ms: float = float("nan")
    prepared: list[str] = field(default_factory=list)
    log_lines: list[str] = field(default_factory=list)
    exit_code: int | None = None

    def report(self) -> str:
        """The numbers, one per line."""
        millis = [r.millis for r in self.requests]
        first = self.requests[0].sent_at if self.requests else 0.0
        early = [r.millis for r in self.requests if r.sent_at < first + FIRST_SECONDS]
        later = [r.millis for r in self.requests if r.sent_at >= first + FIRST_SECONDS]
        slowest = sorted(self.requests, key=lambda r: r.millis, reverse=True)[:SLOWEST]
        start = (
            "index emptied before the start (rebuilt while serving)" if self.rebuild else "index caught up"
        )
        lines = [
            f"paperboy bench serving: {self.papers:,} papers (SQLite), {start}; "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}",
            *[f"  {line}" for line in self.prepared],
            f"  index catch-up with nothing new (in this process): {self.idle_catch_up_ms:.1f} ms, "
            f"{self.reopened_catch_up_ms:.1f} ms after reopening the index (a restart)",
            f"  paperboy run answered HTTP {self.ready_at:.2f} s after it was started",
            f"  /papers search, request -> answer at response_url, {len(millis)} one at a time from the first "
            f"second: {_stats(millis)}",
            f"    first {FIRST_SECONDS:.0f} s ({len(early)}): {_stats(early)}",
            f"    after ({len(later)}): {_stats(later)}",
            "  slowest ten (ms @ s since start): "
            + ", ".join(f"{r.millis:.0f} @ {r.sent_at:.1f}" for r in slowest),
            f"  errors: {sum(r.error for r in self.requests)} answers were errors; exit code {self.exit_code}",
        ]
        if self.log_lines:
            lines.append("  the run's log about the index:")
            lines += [f"    {line}" for line in self.log_lines]
        return "\n".join(lines)


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def _stats(millis: Sequence[float]) -> str:
    if not millis:
        return "none"
    return (
        f"p50 {_percentile(millis, 0.5):.1f} ms, p99 {_percentile(millis, 0.99):.1f} ms, "
        f"max {max(millis):.1f} ms"
    )


def _signed(body: bytes) -> dict[str, str]:
    """The headers Slack signs a request with."""
    from slack_sdk.signature import SignatureVerifier

    stamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=body)
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature or "",
    }


def _slash_command(query: str, response_url: str) -> bytes:
    return urlencode(
        {
            "team_id": TEAM,
            "channel_id": "CBENCH",
            "user_id": "UBENCH",
            "command": "/papers",
            "text": f"search {query}",
            "response_url": response_url,
            "trigger_id": "0",
        }
    ).encode()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def prepare(papers: int, workdir: Path, *, rebuild: bool) -> tuple[str, Path, list[str], float, float]:
    """The store and index (built once), the index caught up; time a catch-up with nothing new.

    Returns the database URL, the index folder, what was done, and the two catch-up times in milliseconds.
    """
    from adapters.bench.search import synthetic_store
    from storage.search.index import open_index
    from storage.sql import open_store

    url, index_dir, done = await synthetic_store(papers, workdir, "serving")
    store = await open_store(url)
    try:
        index = await open_index(index_dir)
        try:
            began = time.perf_counter()
            written = await index.catch_up(store)
            seconds = time.perf_counter() - began
            if seconds > 1 or written:
                done.append(
                    f"caught the index up before the run: {written:,} papers written in {seconds:.1f} s"
                )
            began = time.perf_counter()
            await index.catch_up(store)
            idle_ms = (time.perf_counter() - began) * 1000
        finally:
            await index.close()
        index = await open_index(index_dir)
        try:
            began = time.perf_counter()
            await index.catch_up(store)
            reopened_ms = (time.perf_counter() - began) * 1000
        finally:
            await index.close()
    finally:
        await store.close()
    if rebuild:
        await asyncio.to_thread(shutil.rmtree, index_dir)
    return url, index_dir, done, idle_ms, reopened_ms


def _run_command() -> list[str]:
    """`paperboy run` with this interpreter (the console script beside it when there is one)."""
    script = Path(sys.executable).with_name("paperboy")
    if script.exists():
        return [str(script), "run"]
    return [sys.executable, "-c", "from adapters.cli.main import main; main()", "run"]


async def _wait_until_listening(port: int, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"paperboy run exited with code {process.returncode} before it listened")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.01)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return
    raise RuntimeError(f"paperboy run did not listen on port {port} within {START_TIMEOUT:.0f} s")


async def _search(
    http: httpx.AsyncClient, fake: ServingSlack, events_url: str, query: str, name: str, started: float
) -> Answered:
    """Send one signed /papers search and wait for its answer at the response_url."""
    waiting: asyncio.Future[tuple[float, str]] = asyncio.get_running_loop().create_future()
    fake.answers[name] = waiting
    body = _slash_command(query, f"{fake.url}/response/{name}")
    sent = time.perf_counter()
    response = await http.post(events_url, content=body, headers=_signed(body))
    if response.status_code != 200:
        raise RuntimeError(f"the app answered HTTP {response.status_code}: {response.text[:200]}")
    arrived, text = await asyncio.wait_for(waiting, timeout=ANSWER_TIMEOUT)
    del fake.answers[name]
    return Answered(sent - started, (arrived - sent) * 1000, query, text.startswith("Sorry"))


async def stop_run(process: asyncio.subprocess.Process) -> int:
    """Stop the benchmarked `paperboy run` as a supervisor does (SIGTERM, a minute's grace, then SIGKILL)."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(process.wait(), timeout=60)
    except TimeoutError:
        process.kill()
        return await process.wait()


def run_environment(url: str, index_dir: Path, fake: ServingSlack, port: int) -> dict[str, str]:
    """The environment of the benchmarked `paperboy run`: this store, Slack and the sources at the fake, words only."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "PAPERBOY_INDEX_DIR": str(index_dir),
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "HF_API_URL": f"{fake.url}/hf",
        "ARXIV_API_URL": f"{fake.url}/arxiv",
        "PAPERBOY_HOST": "127.0.0.1",
        "PAPERBOY_PORT": str(port),
        "PAPERBOY_SEMANTIC_MODEL": "off",
        "PAPERBOY_LOG_FORMAT": "json",
    }


async def bench_serving(
    papers: int = 100_000,
    requests: int = 120,
    *,
    interval_ms: float = 0.0,
    rebuild: bool = False,
    workdir: Path = DEFAULT_WORKDIR,
) -> ServingResult:
    """Run the benchmark once; return what it measured."""
    from adapters.bench.search import load_vocabulary, query_mix

    url, index_dir, prepared, idle_ms, reopened_ms = await prepare(papers, workdir, rebuild=rebuild)
    result = ServingResult(papers, rebuild, prepared=prepared)
    result.idle_catch_up_ms, result.reopened_catch_up_ms = idle_ms, reopened_ms
    queries = query_mix(await asyncio.to_thread(load_vocabulary), requests)
    fake = ServingSlack()
    await fake.start()
    port = _free_port()
    log_path = workdir / "serving-run.log"
    environment = run_environment(url, index_dir, fake, port)
    events_url = f"http://127.0.0.1:{port}/slack/events"
    log_file = await asyncio.to_thread(open, log_path, "wb")
    try:
        started = time.perf_counter()
        started_wall = time.time()
        process = await asyncio.create_subprocess_exec(
            *_run_command(),
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            await _wait_until_listening(port, process)
            result.ready_at = time.perf_counter() - started
            async with httpx.AsyncClient(timeout=ANSWER_TIMEOUT) as http:
                for number, query in enumerate(queries):
                    result.requests.append(
                        await _search(http, fake, events_url, query, f"q{number}", started)
                    )
                    if interval_ms:
                        await asyncio.sleep(interval_ms / 1000)
        finally:
            result.exit_code = await stop_run(process)
            await fake.stop()
    finally:
        await asyncio.to_thread(log_file.close)
    result.log_lines = _index_log_lines(log_path, started_wall)
    return result


def _index_log_lines(path: Path, started_wall: float) -> list[str]:
    """The run's log lines about the search index, each with its time since the process started."""
    lines: list[str] = []
    for raw in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        message = str(entry.get("msg", ""))
        if "index" not in message.lower():
            continue
        moment = datetime.fromisoformat(str(entry.get("ts", "")).replace("Z", "+00:00")).timestamp()
        lines.append(f"{moment - started_wall:6.2f} s  {message}")
    return lines


def main(argv: list[str] | None = None) -> None:
    """`python -m adapters.bench.serving`."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=120)
    parser.add_argument("--interval-ms", type=float, default=0.0)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    args = parser.parse_args(argv)
    result = asyncio.run(
        bench_serving(
            args.papers,
            args.requests,
            interval_ms=args.interval_ms,
            rebuild=args.rebuild,
            workdir=args.workdir,
        )
    )
    print(result.report())


if __name__ == "__main__":
    main()
