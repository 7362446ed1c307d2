"""Sources that hang or send too much: every request ends by its deadline, every answer is capped in size."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from typer.testing import CliRunner

from adapters.cli.main import app as paperboy_cli
from adapters.settings import Settings
from adapters.sources.arxiv import ArxivClient, ArxivPacer
from adapters.sources.errors import ResponseTooLarge, SourceError
from adapters.sources.hf import HuggingFaceClient
from adapters.sources.http import RetryPolicy, get_with_retries
from adapters.sources.refresh import refresh_job, schedule_refresh

from .conftest import RecordedSleep, Script, json_response, make_item
from .drip import dripping_server
from .test_refresh import CLOCK, RecordingApp, arxiv_knowing

DAY = date(2025, 9, 1)


async def test_a_source_that_drips_a_byte_every_2_s_is_given_up_at_the_deadline() -> None:
    # Reads never time out (a byte comes every 2 s, the read timeout is 30 s): only the deadline ends it.
    with dripping_server(interval=2.0) as url:
        async with HuggingFaceClient(url, policy=RetryPolicy(deadline=2.5)) as hf:
            started = time.monotonic()
            with pytest.raises(SourceError) as caught:
                await hf.fetch(date=DAY)
            elapsed = time.monotonic() - started

    assert str(caught.value) == (
        f"Hugging Face did not finish answering within 2.5 s at {url}/api/daily_papers (a server that sends "
        "too slowly or stalls); gave up, try again later."
    )
    assert 2.4 <= elapsed < 4.0


def test_ingest_hf_against_a_dripping_server_ends_with_a_sentence_within_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'paperboy.db'}")
    monkeypatch.setenv("PAPERBOY_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("PAPERBOY_SOURCE_DEADLINE", "2")
    with dripping_server(interval=2.0) as url:
        monkeypatch.setenv("HF_API_URL", url)
        started = time.monotonic()
        result = CliRunner().invoke(paperboy_cli, ["ingest", "hf", "--date", DAY.isoformat()])
        elapsed = time.monotonic() - started

    assert result.exit_code == 1
    assert "Hugging Face did not finish answering within 2 s" in result.output
    assert "Traceback" not in result.output
    assert elapsed < 5.0


async def test_an_answer_declared_larger_than_the_cap_is_refused_unread() -> None:
    big = httpx.Response(200, content=b"[" + b" " * 5000 + b"]", headers={"Content-Type": "application/json"})
    script = Script(big)
    async with script.client() as http:
        with pytest.raises(ResponseTooLarge) as caught:
            await get_with_retries(
                http,
                "/api/daily_papers",
                source="Hugging Face",
                policy=RetryPolicy(max_bytes=4096),
                sleep=RecordedSleep(),
            )

    assert str(caught.value) == (
        "Hugging Face sent an answer larger than 4 KiB at http://hf.test/api/daily_papers; it was refused "
        "(PAPERBOY_SOURCE_MAX_BYTES sets the limit)."
    )
    assert len(script.requests) == 1  # refused, not retried


async def test_a_streamed_answer_is_cut_off_as_soon_as_it_passes_the_cap() -> None:
    sent: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        # No Content-Length: the size shows only while reading. It would go on for 1,000 chunks.
        for _ in range(1000):
            sent.append(1024)
            yield b"x" * 1024

    script = Script(lambda request: httpx.Response(200, content=endless()))
    async with script.client("http://arxiv.test") as http:
        arxiv = ArxivClient(
            "http://arxiv.test/api/query",
            http,
            pacer=ArxivPacer(0),
            policy=RetryPolicy(max_bytes=8 * 1024),
            sleep=RecordedSleep(),
        )
        with pytest.raises(
            SourceError, match=r"^arXiv sent an answer larger than 8 KiB at http://arxiv.test"
        ):
            await arxiv.fetch_by_ids(["2509.00001"])

    assert sum(sent) <= 9 * 1024


async def test_an_answer_within_the_cap_reads_as_before() -> None:
    script = Script(json_response([make_item("2509.00001", day="2025-09-01")]))
    hf = HuggingFaceClient("http://hf.test", script.client(), policy=RetryPolicy(max_bytes=64 * 1024))
    result = await hf.fetch(date=DAY)
    assert [paper.arxiv_id for paper in result.papers] == ["2509.00001"]


async def test_a_429_asking_to_wait_past_the_deadline_is_reported_at_once() -> None:
    sleep = RecordedSleep()
    script = Script(httpx.Response(429, headers={"Retry-After": "90"}), json_response([]))
    async with script.client() as http:
        with pytest.raises(SourceError, match="asks to wait 90 s"):
            await get_with_retries(
                http,
                "/api/daily_papers",
                source="Hugging Face",
                policy=RetryPolicy(deadline=60, max_rate_limit_wait=300),
                sleep=sleep,
            )
    assert sleep.waits == []


async def test_a_hung_refresh_gives_up_within_its_budget_and_the_next_run_stores_the_papers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hung = True

    async def answer(request: httpx.Request) -> httpx.Response:
        if hung:
            await asyncio.Event().wait()  # a source that never answers (its per-request deadline is far off)
        return json_response([make_item("2509.00001", day="2025-09-01")])

    app = RecordingApp()
    hf = HuggingFaceClient(
        "http://hf.test", httpx.AsyncClient(base_url="http://hf.test", transport=httpx.MockTransport(answer))
    )
    arxiv = ArxivClient(
        "http://arxiv.test/api/query",
        arxiv_knowing().client("http://arxiv.test"),
        pacer=ArxivPacer(0),
        sleep=RecordedSleep(),
    )
    job = schedule_refresh(
        AsyncIOScheduler(), app, hf, arxiv, CLOCK, minutes=30, run_now=False, budget_seconds=0.3
    )

    with caplog.at_level(logging.INFO, logger="adapters.sources.refresh"):
        await asyncio.wait_for(job.func(), timeout=5)
        assert app.batches == []
        assert (
            "Daily Papers not refreshed, retrying every 30 min: Hugging Face was still being read after"
            in (caplog.text)
        )
        hung = False
        await asyncio.wait_for(job.func(), timeout=5)

    assert [p.arxiv_id for batch in app.batches for p in batch] == ["2509.00001"]
    assert "Daily Papers refresh works again" in caplog.text
    await hf.aclose()
    await arxiv.aclose()


async def test_the_refresh_job_takes_the_deadline_from_settings(caplog: pytest.LogCaptureFixture) -> None:
    with dripping_server(interval=2.0) as url:
        settings = Settings(PAPERBOY_REFRESH_MINUTES=15, HF_API_URL=url, PAPERBOY_SOURCE_DEADLINE=1)
        app = RecordingApp()
        with caplog.at_level(logging.WARNING, logger="adapters.sources.refresh"):
            async with refresh_job(AsyncIOScheduler(), app, settings, CLOCK) as job:
                assert job is not None
                started = time.monotonic()
                await asyncio.wait_for(job.func(), timeout=10)
                elapsed = time.monotonic() - started

    # Both days given up at the 1 s deadline (said once), long before the 12 min budget of a 15 min period.
    assert "Hugging Face did not finish answering within 1 s" in caplog.text
    assert elapsed < 3.5
    assert app.batches == []


def test_the_policy_from_settings_has_their_deadline_and_cap() -> None:
    settings = Settings(PAPERBOY_SOURCE_DEADLINE=7, PAPERBOY_SOURCE_MAX_BYTES=2048)
    assert RetryPolicy.from_settings(settings) == RetryPolicy(deadline=7, max_bytes=2048)
    defaults = RetryPolicy.from_settings(Settings(_env_file=None))
    assert (defaults.deadline, defaults.max_bytes) == (120, 16 * 1024 * 1024)
