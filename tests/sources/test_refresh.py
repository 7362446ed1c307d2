"""The refresh job keeps today's and yesterday's Daily Papers fresh and never loses what the store holds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import cast

import httpx
import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from adapters.settings import Settings
from adapters.sources.arxiv import ArxivClient, ArxivPacer
from adapters.sources.hf import HuggingFaceClient
from adapters.sources.http import RetryPolicy
from adapters.sources.refresh import (
    REFRESH_JOB_ID,
    enrich_and_ingest,
    refresh_daily_papers,
    refresh_job,
    schedule_refresh,
)
from bot.domain import Paper, UpsertCounts
from bot.ports import PaperRepository
from storage.sql import SqlStore
from tests.clock import FixedClock

from .conftest import RecordedSleep, Script, json_response, make_item
from .test_arxiv_client import entry, feed

TODAY = date(2025, 9, 2)
YESTERDAY = date(2025, 9, 1)
CLOCK = FixedClock(datetime(2025, 9, 2, 10, 0, tzinfo=UTC))


class StoreApp:
    """The slice of the core the sources use: the real store, and `ingest` writing to it."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    async def ingest(self, papers: Sequence[Paper], *, source: str = "other") -> UpsertCounts:
        return await self.store.upsert_papers(papers)


def hf_by_day(days: dict[date, list[dict[str, object]]]) -> Script:
    """Hugging Face answering each `date` with its items."""

    def answer(request: httpx.Request) -> httpx.Response:
        return json_response(days.get(date.fromisoformat(request.url.params["date"]), []))

    return Script(answer)


def arxiv_knowing(*known: str) -> Script:
    """arXiv answering id lists with an entry for each id it knows."""

    def answer(request: httpx.Request) -> httpx.Response:
        asked = request.url.params["id_list"].split(",")
        return feed(*(entry(i, categories=("cs.CL", "cs.AI"), doi=f"10.1/{i}") for i in asked if i in known))

    return Script(answer)


def clients(hf: Script, arxiv: Script) -> tuple[HuggingFaceClient, ArxivClient]:
    fast = RetryPolicy(attempts=2)
    return (
        HuggingFaceClient("http://hf.test", hf.client(), policy=fast, sleep=RecordedSleep()),
        ArxivClient(
            "http://arxiv.test/api/query",
            arxiv.client("http://arxiv.test"),
            pacer=ArxivPacer(0),
            policy=fast,
            sleep=RecordedSleep(),
        ),
    )


async def everything(store: SqlStore) -> dict[str, Paper]:
    return {p.arxiv_id: p for p in await store.papers_changed_since(None, "", 10_000)}


async def test_refresh_stores_both_days_and_enriches_new_papers_from_arxiv(store: SqlStore) -> None:
    hf_script = hf_by_day(
        {
            YESTERDAY: [make_item("2509.00001", upvotes=3, day="2025-09-01")],
            TODAY: [make_item("2509.00002", upvotes=7, day="2025-09-02")],
        }
    )
    arxiv_script = arxiv_knowing("2509.00001", "2509.00002")
    hf, arxiv = clients(hf_script, arxiv_script)
    report = await refresh_daily_papers(StoreApp(store), hf, arxiv, CLOCK)
    assert sorted(r.url.params["date"] for r in hf_script.requests) == ["2025-09-01", "2025-09-02"]
    assert report.counts.new == 2
    assert report.enriched == 2
    stored = await everything(store)
    assert stored["2509.00002"].hf_upvotes == 7
    assert stored["2509.00002"].featured_on == TODAY
    assert stored["2509.00002"].categories == ["cs.CL", "cs.AI"]
    assert stored["2509.00001"].doi == "10.1/2509.00001"
    assert stored["2509.00001"].ai_summary is not None  # Hugging Face's fields survive the arXiv merge


async def test_known_papers_get_new_counts_without_asking_arxiv_again(store: SqlStore) -> None:
    first_hf = hf_by_day({TODAY: [make_item("2509.00002", upvotes=7, day="2025-09-02")]})
    arxiv_script = arxiv_knowing("2509.00002")
    hf, arxiv = clients(first_hf, arxiv_script)
    await refresh_daily_papers(StoreApp(store), hf, arxiv, CLOCK)
    asked_before = len(arxiv_script.requests)

    later = make_item("2509.00002", upvotes=41, day="2025-09-02", githubStars=120)
    later["numComments"] = 6
    hf, arxiv = clients(hf_by_day({TODAY: [later]}), arxiv_script)
    report = await refresh_daily_papers(StoreApp(store), hf, arxiv, CLOCK)

    assert len(arxiv_script.requests) == asked_before
    assert report.counts.updated == 1
    paper = (await everything(store))["2509.00002"]
    assert (paper.hf_upvotes, paper.num_comments, paper.github_stars) == (41, 6, 120)
    assert paper.categories == ["cs.CL", "cs.AI"]


async def test_a_failed_refresh_leaves_the_store_exactly_as_it_was(store: SqlStore) -> None:
    await store.upsert_papers([Paper("2509.00001", "Kept", hf_upvotes=9, featured_on=YESTERDAY)])
    before = await everything(store)
    hf, arxiv = clients(Script(httpx.Response(502, text="<html>Bad gateway</html>")), arxiv_knowing())
    report = await refresh_daily_papers(StoreApp(store), hf, arxiv, CLOCK)
    assert len(report.failures) == 2
    assert await everything(store) == before


async def test_a_truncated_page_stores_nothing_of_that_day(store: SqlStore) -> None:
    body = json_response([make_item("2509.00005", day="2025-09-02")]).content
    truncated = httpx.Response(200, content=body[:-20], headers={"Content-Type": "application/json"})

    def answer(request: httpx.Request) -> httpx.Response:
        return truncated if request.url.params["date"] == "2025-09-02" else json_response([])

    hf, arxiv = clients(Script(answer), arxiv_knowing("2509.00005"))
    report = await refresh_daily_papers(StoreApp(store), hf, arxiv, CLOCK)
    assert any("truncated JSON" in failure for failure in report.failures)
    assert await everything(store) == {}


async def test_papers_are_stored_even_when_arxiv_is_down_and_enriched_next_time(store: SqlStore) -> None:
    hf_script = hf_by_day({TODAY: [make_item("2509.00002", day="2025-09-02")]})
    hf, arxiv = clients(hf_script, Script(httpx.Response(503)))
    report = await refresh_daily_papers(StoreApp(store), hf, arxiv, CLOCK)
    assert report.enriched == 0
    assert (await everything(store))["2509.00002"].categories == []

    hf, arxiv = clients(hf_script, arxiv_knowing("2509.00002"))
    report = await refresh_daily_papers(StoreApp(store), hf, arxiv, CLOCK)
    assert report.enriched == 1
    assert (await everything(store))["2509.00002"].categories == ["cs.CL", "cs.AI"]


async def test_the_same_paper_from_both_sources_is_stored_once(store: SqlStore) -> None:
    hf_paper = Paper(
        "2205.13147", "Matryoshka Representation Learning", hf_upvotes=250, featured_on=YESTERDAY
    )
    arxiv_paper = Paper("2205.13147", "Matryoshka Representation Learning", categories=["cs.LG", "cs.CV"])
    await enrich_and_ingest(StoreApp(store), [hf_paper, hf_paper], None)
    await StoreApp(store).ingest([arxiv_paper])
    assert await store.count_papers() == 1
    paper = await store.get_paper("2205.13147")
    assert paper is not None
    assert (paper.hf_upvotes, paper.categories, paper.featured_on) == (250, ["cs.LG", "cs.CV"], YESTERDAY)


async def test_a_paper_listed_twice_on_one_page_is_stored_once(store: SqlStore) -> None:
    item = make_item("2509.00003", day="2025-09-02")
    hf, arxiv = clients(hf_by_day({TODAY: [item, item]}), arxiv_knowing())
    report = await refresh_daily_papers(StoreApp(store), hf, arxiv, CLOCK)
    assert report.counts.new == 1
    assert await store.count_papers() == 1


async def test_a_withdrawn_paper_stops_appearing_among_featured_papers(store: SqlStore) -> None:
    hf, arxiv = clients(hf_by_day({TODAY: [make_item("2509.00004", day="2025-09-02")]}), arxiv_knowing())
    await refresh_daily_papers(StoreApp(store), hf, arxiv, CLOCK)
    assert [p.arxiv_id for p in await store.papers_featured_between(YESTERDAY, TODAY)] == ["2509.00004"]

    withdrawn = make_item("2509.00004", day="2025-09-02", withdrawnAt="2025-09-02T09:00:00.000Z")
    hf, arxiv = clients(hf_by_day({TODAY: [withdrawn]}), arxiv_knowing())
    await refresh_daily_papers(StoreApp(store), hf, arxiv, CLOCK)
    assert await store.papers_featured_between(YESTERDAY, TODAY) == []


class RecordingApp:
    """An app that only remembers what it was asked to ingest."""

    def __init__(self) -> None:
        self.batches: list[list[Paper]] = []

    @property
    def store(self) -> PaperRepository:
        # The refresh asks the store only for the papers it already has (none here).
        return cast(PaperRepository, self)

    async def get_papers(self, ids: object) -> dict[str, Paper]:
        return {}

    async def ingest(self, papers: Sequence[Paper], *, source: str = "other") -> UpsertCounts:
        self.batches.append(list(papers))
        return UpsertCounts(new=len(papers))


async def test_the_job_runs_every_configured_number_of_minutes() -> None:
    scheduler = AsyncIOScheduler()
    hf, arxiv = clients(hf_by_day({}), arxiv_knowing())
    job = schedule_refresh(scheduler, RecordingApp(), hf, arxiv, CLOCK, minutes=45, run_now=False)
    assert job.id == REFRESH_JOB_ID
    assert job.trigger.interval == timedelta(minutes=45)
    assert job.max_instances == 1


class ErrorLogged(logging.Handler):
    """Sets `seen` when a record of ERROR or worse is logged (from any thread)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def emit(self, record: logging.LogRecord) -> None:
        self._loop.call_soon_threadsafe(self.seen.set)


async def test_a_crashing_refresh_is_logged_and_the_scheduler_keeps_going(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("unexpected bug")

    app = RecordingApp()
    hf, arxiv = clients(Script(explode), arxiv_knowing())
    scheduler = AsyncIOScheduler()
    scheduler.start()
    logged = ErrorLogged()
    logger = logging.getLogger("adapters.sources.refresh")
    logger.addHandler(logged)
    try:
        with caplog.at_level(logging.ERROR, logger="adapters.sources.refresh"):
            schedule_refresh(scheduler, app, hf, arxiv, CLOCK, minutes=30)
            await asyncio.wait_for(logged.seen.wait(), timeout=5)  # the first run starts at once
        assert "Daily Papers refresh failed; the store was left as it was" in caplog.text
        assert scheduler.running
        assert scheduler.get_job(REFRESH_JOB_ID) is not None
        assert app.batches == []
    finally:
        logger.removeHandler(logged)
        scheduler.shutdown(wait=False)


async def test_refresh_job_schedules_from_settings_and_removes_itself_on_exit() -> None:
    scheduler = AsyncIOScheduler()
    settings = Settings(PAPERBOY_REFRESH_MINUTES=15, HF_API_URL="http://127.0.0.1:9")
    async with refresh_job(scheduler, RecordingApp(), settings, CLOCK) as job:
        assert job is not None
        assert scheduler.get_job(REFRESH_JOB_ID) is job
        assert job.trigger.interval == timedelta(minutes=15)
    assert scheduler.get_job(REFRESH_JOB_ID) is None


async def test_refresh_can_be_turned_off_with_zero_minutes() -> None:
    scheduler = AsyncIOScheduler()
    settings = Settings(PAPERBOY_REFRESH_MINUTES=0)
    async with refresh_job(scheduler, RecordingApp(), settings, CLOCK) as job:
        assert job is None
        assert scheduler.get_jobs() == []


async def test_stopping_the_bot_mid_refresh_is_no_failure(caplog: pytest.LogCaptureFixture) -> None:
    asked = asyncio.Event()

    class HangingHuggingFace:
        """Hugging Face that never answers (as when the bot waits to retry an unreachable site)."""

        async def fetch(self, **params: object) -> list[object]:
            asked.set()
            await asyncio.Event().wait()
            return []

    app = RecordingApp()
    _, arxiv = clients(hf_by_day({}), arxiv_knowing())
    hf = cast(HuggingFaceClient, HangingHuggingFace())
    job = schedule_refresh(AsyncIOScheduler(), app, hf, arxiv, CLOCK, minutes=30, run_now=False)
    with caplog.at_level(logging.INFO):
        running = asyncio.ensure_future(job.func())
        await asyncio.wait_for(asked.wait(), 5)
        running.cancel()
        await asyncio.wait_for(running, 5)  # ends without raising: the stop is not a failed job
    assert "refresh stopped: the bot is shutting down" in caplog.text
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert app.batches == []
