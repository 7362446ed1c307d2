"""Benchmark: how long a shared paper link waits for its card, from Slack's `link_shared` to our `chat.unfurl`.

    paperboy bench unfurl [--events 500] [--links 1] [--database URL] [--workdir DIR]
    python -m adapters.bench.unfurl --events 500

The process is built as `paperboy run` builds it (the composition root, then the Slack adapter's Bolt app and
HTTP server on a free loopback port), with the demo papers stored. A loopback fake of Slack's Web API (the
shipped one, adapters.bench.slack_api) runs in this process and notes when each chat.unfurl arrives. Each
event is a signed `link_shared` for a posted message linking stored papers, sent one after the other; the time
counted runs from just before the event is sent until the fake holds the unfurl: the ack, the core (papers,
this workspace's votes, remembering the message) and the Web API call. Target: p99 within 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.bench.slack_api import FakeUnfurl, RateLimitedSlack, link_shared_event

DEFAULT_WORKDIR = Path("bench-data") / "unfurl"
SIGNING_SECRET = "bench-unfurl-signing-secret"
WARM_UP = 20
TARGET_P99_MS = 100.0


@dataclass(frozen=True, slots=True)
class UnfurlBenchResult:
    """What one run measured, in milliseconds."""

    events: int
    links: int
    unfurl_ms: list[float]
    ack_ms: list[float]
    database: str

    def percentile(self, values: list[float], share: float) -> float:
        """The value below which `share` of the sorted values lie (nearest rank)."""
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]

    def report(self) -> str:
        """The numbers, one per line."""
        p50 = self.percentile(self.unfurl_ms, 0.50)
        p99 = self.percentile(self.unfurl_ms, 0.99)
        verdict = "met" if p99 <= TARGET_P99_MS else "NOT met"
        return "\n".join(
            [
                f"link_shared -> chat.unfurl, {self.events} events one after another, "
                f"{self.links} stored paper link(s) each ({self.database})",
                f"  p50 {p50:.1f} ms · p99 {p99:.1f} ms · max {max(self.unfurl_ms):.1f} ms · "
                f"mean {statistics.fmean(self.unfurl_ms):.1f} ms "
                f"(target p99 <= {TARGET_P99_MS:.0f} ms: {verdict})",
                f"  ack of the event: p50 {self.percentile(self.ack_ms, 0.5):.1f} ms · "
                f"p99 {self.percentile(self.ack_ms, 0.99):.1f} ms",
                f"python {platform.python_version()} on {platform.machine()}",
            ]
        )


def _fresh_workdir(workdir: Path) -> Path:
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    return workdir


def _signed(body: bytes) -> dict[str, str]:
    """The headers Slack signs an Events API request with."""
    from slack_sdk.signature import SignatureVerifier

    stamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=body)
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature or "",
    }


def _envelope(event: dict[str, Any], event_id: str) -> bytes:
    return json.dumps(
        {
            "team_id": "T1",
            "api_app_id": "A0PAPERBOY",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}],
        }
    ).encode()


async def bench_unfurl(
    events: int = 500, links: int = 1, *, database_url: str | None = None, workdir: Path = DEFAULT_WORKDIR
) -> UnfurlBenchResult:
    """Run the benchmark once: `events` link_shared events (after a warm-up), each waited for."""
    import httpx
    from pydantic import SecretStr

    from adapters.app.compose import compose
    from adapters.settings import Settings
    from adapters.slack.bot import serve_slack
    from adapters.sources.demo import load_demo_papers

    fresh = await asyncio.to_thread(_fresh_workdir, workdir)
    url = database_url or f"sqlite:///{fresh / 'bench.db'}"
    fake = RateLimitedSlack(channel_interval=0.0, rate=None)
    arrived: dict[str, asyncio.Future[float]] = {}

    def on_unfurl(unfurl: FakeUnfurl) -> None:
        waiting = arrived.get(unfurl.ts or "")
        if waiting is not None and not waiting.done():
            waiting.set_result(time.perf_counter())

    fake.on_unfurl = on_unfurl
    await fake.start()
    settings = Settings(
        database_url=url,
        index_dir=fresh / "index",
        slack_bot_token=SecretStr("xoxb-bench"),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_api_url=fake.api_url,
        host="127.0.0.1",
        port=0,
        semantic_model="off",
    )
    unfurl_ms: list[float] = []
    ack_ms: list[float] = []
    try:
        async with compose(settings, platforms=True) as house, httpx.AsyncClient(timeout=30) as http:
            assert house.slack is not None
            papers = load_demo_papers(datetime.now(UTC).date())
            await house.core.ingest(papers)
            service = await serve_slack(house.core, house.slack)
            events_url = f"http://127.0.0.1:{service.port}/slack/events"
            try:
                for number in range(WARM_UP + events):
                    chosen = [papers[(number * links + k) % len(papers)] for k in range(links)]
                    ts = f"1700000000.{number:06d}"
                    event = link_shared_event(
                        [f"https://arxiv.org/abs/{p.arxiv_id}" for p in chosen], message_ts=ts
                    )
                    body = _envelope(event, f"EvBench{number}")
                    arrived[ts] = waiting = asyncio.get_running_loop().create_future()
                    started = time.perf_counter()
                    response = await http.post(events_url, content=body, headers=_signed(body))
                    acked = time.perf_counter()
                    if response.status_code != 200:
                        raise RuntimeError(f"the app answered HTTP {response.status_code}: {response.text}")
                    done = await asyncio.wait_for(waiting, timeout=10)
                    del arrived[ts]
                    if number >= WARM_UP:
                        ack_ms.append((acked - started) * 1000)
                        unfurl_ms.append((done - started) * 1000)
            finally:
                await service.stop()
    finally:
        await fake.stop()
    kind = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    return UnfurlBenchResult(events, links, unfurl_ms, ack_ms, kind)


def main(argv: list[str] | None = None) -> None:
    """`python -m adapters.bench.unfurl`."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--links", type=int, default=1)
    parser.add_argument("--database", default=None, help="a database URL (default: SQLite in --workdir)")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    args = parser.parse_args(argv)
    result = asyncio.run(
        bench_unfurl(args.events, args.links, database_url=args.database, workdir=args.workdir)
    )
    print(result.report())


if __name__ == "__main__":
    main()
