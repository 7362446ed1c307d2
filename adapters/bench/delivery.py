"""Benchmark: every channel's and person's digest due at once, posted through the Slack adapter against a
rate-limited fake.

    paperboy bench delivery --channels 1000 --papers 5 [--people 0] [--rate 200] [--database URL] [--workdir DIR]
    python -m adapters.bench.delivery --channels 500 --people 2000 --papers 5
    paperboy bench delivery --channels 0 --people 300 --next-day    # again, on the store the last run left

The fake Slack (adapters.bench.slack_api) runs in its own process and takes one message a second per
conversation and `--rate` a second in all, answering 429 with Retry-After beyond that. A person's own digest
(`--people`, all in the one workspace) goes to their direct messages as the Slack publisher sends it:
`conversations.open users=U…` gives the D… conversation (the fake takes Slack's tier 3, 50 a minute per
workspace after a burst of 20), then the messages go there under the same one-a-second rule. The bot side is
the real thing in this process: the store (SQLite in --workdir, or --database), the scheduler tick planning
every digest, the delivery engine, the Slack publisher and slack_sdk. The limit a perfect sender meets is the
largest of digests x messages / rate, (messages - 1) seconds (the per-conversation pace) and the time
conversations.open allows for the people beyond its burst.

`--next-day` delivers the following day's digests on the store an earlier run left (the same --workdir or
--database, the same --channels and --people), in this new process with a new fake Slack: what each day's
`paperboy digest --due`, or a restart, meets. A perfect sender opens no conversation it opened before, so the
limit leaves the opens out.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import platform
import resource
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.domain import ChannelRef

DEFAULT_WORKDIR = Path("bench-data") / "delivery"
FAKE_BURST = 20
# Slack's tier 3 (conversations.open): 50 calls a minute per workspace, "sporadic bursts welcome".
OPEN_RATE = 50 / 60
OPEN_BURST = 20
WORKSPACE = "TBENCH"


@dataclass(frozen=True, slots=True)
class DeliveryBenchResult:
    """What one run measured."""

    channels: int
    messages_expected: int
    messages_posted: int
    rate_limited: int
    problems: list[str]
    total_seconds: float
    tick_seconds: float
    first_to_last_seconds: float
    limit_seconds: float
    rate: float
    peak_rss_mb: float
    fake_peak_rss_mb: float
    people: int = 0
    dm_conversations: int = 0
    opens: int = 0
    open_rate_limited: int = 0
    busiest_open_minute: int = 0
    closest_in_channel: float | None = None
    closest_in_dm: float | None = None
    busiest_second: int = 0
    day: date | None = None
    next_day: bool = False

    @property
    def digests(self) -> int:
        """Digests planned: one per channel and one per person."""
        return self.channels + self.people

    @property
    def share_of_allowed_rate(self) -> float:
        """Messages a second achieved over the whole run, as a share of the allowed rate."""
        return self.messages_posted / (self.total_seconds * self.rate) if self.total_seconds else 0.0

    def report(self) -> str:
        """The numbers, one per line."""
        within = self.total_seconds <= self.limit_seconds * 1.10
        lines = [
            f"day: {self.day} "
            + ("(the next day, on the store an earlier run left)" if self.next_day else "(a new store)"),
            f"channels: {self.channels}, people: {self.people} (their own digests, by direct message), "
            f"messages planned: {self.messages_expected} "
            f"(one parent and {self.messages_expected // self.digests - 1} papers each)",
            f"fake Slack: 1 message/s per conversation (channel or DM), {self.rate:g}/s in all (burst {FAKE_BURST}),"
            f" conversations.open {OPEN_RATE * 60:g}/min per workspace (burst {OPEN_BURST}), 429 beyond",
            f"limit set by those rates: {self.limit_seconds:.1f} s",
            f"total time (tick + delivery): {self.total_seconds:.1f} s "
            f"({'within' if within else 'NOT within'} 10% of the limit)",
            f"  planning and queueing (tick): {self.tick_seconds:.1f} s",
            f"  first to last message: {self.first_to_last_seconds:.1f} s",
            f"achieved share of the allowed rate: {self.share_of_allowed_rate:.1%}",
            f"messages accepted: {self.messages_posted}, answered 429: {self.rate_limited}; busiest second: "
            f"{self.busiest_second} messages (allowed {self.rate:g} + burst)",
            f"closest two messages in one channel: {_seconds(self.closest_in_channel)}, "
            f"in one DM: {_seconds(self.closest_in_dm)} (Slack: 1 a second per conversation)",
            "lost or doubled: none"
            if not self.problems
            else f"PROBLEMS ({len(self.problems)}): {self.problems[:5]}",
            *(
                [
                    f"direct messages: {self.dm_conversations} DMs received digests; conversations.open: "
                    f"{self.opens} calls, busiest minute {self.busiest_open_minute} "
                    f"(allowed {OPEN_RATE * 60:g} + burst {OPEN_BURST}), answered 429: {self.open_rate_limited}"
                ]
                if self.people
                else []
            ),
            f"peak RSS: bot {self.peak_rss_mb:.0f} MB, fake Slack {self.fake_peak_rss_mb:.0f} MB",
            f"python {platform.python_version()} on {platform.machine()}",
        ]
        return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def _peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _serve_fake(conn: Connection, rate: float) -> None:
    """The fake Slack's process: serve until told to stop, then send the peak RSS."""
    from adapters.bench.slack_api import RateLimitedSlack

    async def main() -> None:
        fake = RateLimitedSlack(
            channel_interval=1.0,
            rate=rate,
            burst=FAKE_BURST,
            team_id=WORKSPACE,
            open_rate=OPEN_RATE,
            open_burst=OPEN_BURST,
        )
        await fake.start()
        conn.send(fake.port)
        await asyncio.to_thread(conn.recv)
        await fake.stop()
        conn.send(_peak_rss_mb())

    asyncio.run(main())


class ShiftedClock:
    """The real clock moved `days` ahead: the next day's digests come due at once."""

    def __init__(self, days: int) -> None:
        self.offset = timedelta(days=days)

    def now(self) -> datetime:
        """The current UTC time, `days` ahead."""
        return datetime.now(UTC) + self.offset


def _fresh_workdir(workdir: Path) -> Path:
    """An empty work directory (the benchmark's own, emptied first)."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    return workdir


async def _audit(port: int, expected: dict[str, int]) -> dict[str, Any]:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{port}/_audit"
        async with session.post(url, json={"expected": expected}) as response:
            data: dict[str, Any] = await response.json()
            return data


async def bench_delivery(
    channels: int = 1000,
    papers: int = 5,
    *,
    people: int = 0,
    rate: float = 200.0,
    database_url: str | None = None,
    workdir: Path = DEFAULT_WORKDIR,
    next_day: bool = False,
) -> DeliveryBenchResult:
    """Run the benchmark once; the fake runs in a child process.

    `next_day`: deliver the day after the last one delivered, on the store an earlier run left in `workdir` (or
    at `database_url`) with the same channels and people.
    """
    # The store is checked before the fake starts, so that a wrong one is refused at once.
    store = await _bench_store(channels, people, database_url, workdir, next_day)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    fake = context.Process(target=_serve_fake, args=(theirs, rate), daemon=True)
    fake.start()
    try:
        port = await asyncio.to_thread(ours.recv)
        result = await _run(port, channels, people, papers, rate, store)
        ours.send("stop")
        fake_rss = float(await asyncio.to_thread(ours.recv))
    finally:
        fake.join(timeout=10)
        if fake.is_alive():
            fake.kill()
    return DeliveryBenchResult(**{**result, "fake_peak_rss_mb": fake_rss})


def _targets(channels: int, people: int) -> tuple[list[ChannelRef], list[ChannelRef]]:
    """The benchmark's channels and people's own targets, named the same in every run."""
    from bot.domain import ChannelRef

    refs = [ChannelRef("slack", WORKSPACE, f"C{n:05d}") for n in range(channels)]
    return refs, [ChannelRef.person("slack", WORKSPACE, f"U{n:05d}") for n in range(people)]


@dataclass(frozen=True, slots=True)
class _BenchStore:
    """Where a run delivers: the store's URL, the folder of its files, the day and the papers stored before."""

    url: str
    folder: Path
    days_ahead: int
    papers_before: int
    next_day: bool


async def _bench_store(
    channels: int, people: int, database_url: str | None, workdir: Path, next_day: bool
) -> _BenchStore:
    """A new empty store, or (`next_day`) the one an earlier run left with the same targets, checked."""
    from storage.sql import open_store

    refs, persons = _targets(channels, people)
    folder = workdir if next_day else await asyncio.to_thread(_fresh_workdir, workdir)
    url = database_url or f"sqlite:///{folder / 'bench.db'}"
    if next_day and database_url is None and not (folder / "bench.db").exists():
        raise ValueError(f"--next-day needs the store of an earlier run in {workdir}; run once without it.")
    probe = await open_store(url)
    try:
        stored = {settings.channel for settings in await probe.list_channels()}
        if not next_day and stored:
            raise ValueError("The benchmark needs an empty database; give --database a new one.")
        if next_day and stored != set(refs + persons):
            raise ValueError(
                f"--next-day needs the store of an earlier run with the same --channels and --people; this one "
                f"has {len(stored)} targets, not {channels + people}."
            )
        # The first day from today that has no digest yet.
        days = 0
        while next_day and await probe.has_digest(
            (refs + persons)[0], datetime.now(UTC).date() + timedelta(days)
        ):
            days += 1
        return _BenchStore(url, folder, days, await probe.count_papers(), next_day)
    finally:
        await probe.close()


async def _run(
    port: int, channels: int, people: int, papers: int, rate: float, where: _BenchStore
) -> dict[str, Any]:
    from pydantic import SecretStr

    from adapters.app.compose import compose
    from adapters.bench.slack_api import direct_conversation
    from adapters.settings import Settings
    from bot.domain import ChannelSettings, Paper
    from bot.services.due_digests import DigestScheduler

    refs, persons = _targets(channels, people)
    # The real process's parts, built as `paperboy digest --due` builds them, pointed at the fake Slack.
    settings = Settings(
        database_url=where.url,
        index_dir=where.folder / "index",
        slack_bot_token=SecretStr("xoxb-bench"),
        slack_signing_secret=SecretStr("bench-secret"),
        slack_api_url=f"http://127.0.0.1:{port}/api/",
        slack_post_interval=1.0,
        slack_rate=rate,
        delivery_concurrency=max(2000, channels + people),
    )
    clock = ShiftedClock(where.days_ahead)
    async with compose(settings, platforms=True, clock=clock) as house:
        paperboy, store, engine = house.core, house.store, house.engine
        today = clock.now().date()
        # The day's papers, beside those of earlier days (a channel never gets a paper twice).
        await paperboy.ingest(
            [
                Paper(
                    arxiv_id=f"2611.{where.papers_before + n:05d}",
                    title=f"Benchmark paper {n}",
                    authors=["A. Author", "B. Author"],
                    abstract="An abstract of a fair length. " * 20,
                    featured_on=today,
                    hf_upvotes=500 - n,
                )
                for n in range(1, papers + 11)
            ]
        )
        for ref in [] if where.next_day else refs + persons:
            await store.save_settings(
                ChannelSettings(
                    ref, hour=0, minute=0, timezone="UTC", weekdays_only=False, digest_size=papers
                )
            )
        digests = DigestScheduler(store, paperboy.planner, engine, paperboy.clock)
        tick_done: list[float] = []
        started = time.perf_counter()

        async def tick() -> None:
            await digests.tick({"slack"})
            tick_done.append(time.perf_counter())

        try:
            await engine.run(paperboy.publishers, until_idle=True, producer=tick())
        finally:
            total = time.perf_counter() - started
            await engine.stop()
        expected = {ref.channel: papers for ref in refs}
        expected.update({direct_conversation(WORKSPACE, p.user or ""): papers for p in persons})
        audit = await _audit(port, expected)
    messages = (channels + people) * (papers + 1)
    first, last = audit.get("first"), audit.get("last")
    # Every person's first message waits for their conversation to open; past the burst, at the tier's pace.
    # On a next day a perfect sender opens nothing: it remembers the conversations it opened before.
    opening = 0.0 if where.next_day else max(0, people - OPEN_BURST) / OPEN_RATE
    return {
        "channels": channels,
        "people": people,
        "dm_conversations": int(audit["direct_messages"]),
        "opens": int(audit["opens"]),
        "open_rate_limited": int(audit["open_rate_limited"]),
        "busiest_open_minute": int(audit["busiest_open_minute"]),
        "closest_in_channel": audit["closest_in_channel"],
        "closest_in_dm": audit["closest_in_dm"],
        "busiest_second": int(audit["busiest_second"]),
        "messages_expected": messages,
        "messages_posted": int(audit["messages"]),
        "rate_limited": int(audit["rate_limited"]),
        "problems": list(audit["problems"]),
        "total_seconds": total,
        "tick_seconds": (tick_done[0] - started) if tick_done else total,
        "first_to_last_seconds": (last - first) if first is not None and last is not None else 0.0,
        "limit_seconds": max(messages / rate, float(papers), opening + (papers if people else 0)),
        "rate": rate,
        "peak_rss_mb": _peak_rss_mb(),
        "day": today,
        "next_day": where.next_day,
    }


def main(argv: list[str] | None = None) -> None:
    """`python -m adapters.bench.delivery`."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--people", type=int, default=0, help="people with their own digest, by DM")
    parser.add_argument("--papers", type=int, default=5)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--database", default=None, help="a database URL (default: SQLite in --workdir)")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument(
        "--next-day", action="store_true", help="deliver the next day on the store an earlier run left"
    )
    args = parser.parse_args(argv)
    result = asyncio.run(
        bench_delivery(
            args.channels,
            args.papers,
            people=args.people,
            rate=args.rate,
            database_url=args.database,
            workdir=args.workdir,
            next_day=args.next_day,
        )
    )
    print(result.report())


if __name__ == "__main__":
    main()
